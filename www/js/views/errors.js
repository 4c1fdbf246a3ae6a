// #/errors and #/errors/REFERENCE — look an error up by the reference a client was given.

import * as api from '../api.js';
import { showProblem } from '../alerts.js';
import { h, dl, section, time, field } from '../dom.js';
import { errorDetail } from './execution-detail.js';

export async function render(ctx, reference) {
  ctx.title(reference ? `Error ${reference}` : 'Error look-up');
  const input = h('input', {
    id: 'error-reference', name: 'reference', type: 'text', autocomplete: 'off', spellcheck: 'false',
    class: 'mono', placeholder: 'e.g. 01a20b81-c0e6-7e54-b5eb-152a14c62549', value: reference || '',
  });
  const form = h('form', { id: 'error-form', class: 'toolbar', role: 'search' },
    field('Reference', input),
    h('div', { class: 'toolbar-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'error-submit' }, 'Look up')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) {
      showProblem('Enter the reference of an error (the "reference" of an error answer).');
      input.focus();
      return;
    }
    ctx.navigate(`#/errors/${api.seg(value)}`);
  });
  const result = h('div', { id: 'error-result' });
  ctx.root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Error look-up')),
    h('p', { class: 'lede' }, 'Every error answer carries a ', h('code', null, 'reference'),
      ': paste it here to see what happened.'),
    h('div', { class: 'card' }, form),
    result);
  if (!reference) return;

  let err;
  try {
    ({ data: err } = await api.get(`/api/errors/${api.seg(reference)}`));
  } catch (failure) {
    ctx.error(failure, `Looking up error ${reference}`);
    return;
  }
  if (!ctx.alive()) return;
  result.append(section(null, { id: 'error-details' },
    h('h2', null, h('code', { id: 'error-code' }, err.code), ' ',
      err.http_status ? h('span', { class: 'muted' }, `HTTP ${err.http_status}`) : null),
    h('p', { class: 'error-message', id: 'error-message' }, err.message || ''),
    dl([
      ['Reference', h('code', null, err.reference)],
      ['Service', err.service_name
        ? h('a', { href: `#/services/${api.seg(err.service_name)}` }, err.service_name) : null],
      ['Execution', err.execution_id
        ? h('a', {
          href: `#/executions/${api.seg(err.execution_id)}`, class: 'mono', id: 'error-execution-link',
        }, err.execution_id)
        : h('span', { class: 'muted' }, 'none (refused before any execution)')],
      ['SQLSTATE', err.sqlstate ? h('code', { id: 'error-sqlstate' }, err.sqlstate) : null],
      ['At', time(err.created_at)],
    ], 'error-props'),
    errorDetail(err.detail) ? [h('h3', null, 'Details'), errorDetail(err.detail)] : null));
}
