// #/executions/ID — one execution: summary, parameters, attempts, errors, reprocessing history,
// and the Reprocess form.

import * as api from '../api.js';
import { clearAlert, showError, showProblem, showNotice } from '../alerts.js';
import { h, badge, dl, pre, section, table, time, ms, field, replace } from '../dom.js';
import { display, parseExact, stringify } from '../json.js';
import { busy } from './service-actions.js';

const link = (id, props = {}) => h('a', { href: `#/executions/${api.seg(id)}`, class: 'mono', ...props }, id);

export async function render(ctx, id) {
  ctx.title(`Execution ${id}`);
  ctx.root.append(h('p', { class: 'breadcrumb' }, h('a', { href: '#/executions' }, 'Executions'), ' / '));
  const head = h('div', { class: 'page-head' }, h('h1', null, 'Execution'));
  const host = h('div', { class: 'detail-host' });
  ctx.root.append(head, host);

  let execution;
  try {
    ({ data: execution } = await api.get(`/api/executions/${api.seg(id)}`));
  } catch (failure) {
    host.append(h('p', { class: 'mono' }, id));
    ctx.error(failure, 'Loading the execution');
    return;
  }
  if (!ctx.alive()) return;
  drawHead(head, execution);
  drawBody(host, execution);
  ctx.root.append(reprocessSection(ctx, execution, async () => {
    // After a re-run, the history of this execution has a new entry: show it.
    try {
      const { data } = await api.get(`/api/executions/${api.seg(id)}`);
      if (!ctx.alive()) return;
      drawHead(head, data);
      drawBody(host, data);
    } catch (failure) {
      ctx.error(failure, 'Reloading the execution');
    }
  }));
}

function drawHead(head, e) {
  replace(head, h('h1', null, 'Execution ', h('span', { id: 'exec-status' }, badge(e.status))));
}

function drawBody(host, e) {
  replace(host,
    h('p', { class: 'lede mono', id: 'exec-id' }, e.id),
    section('Summary', { id: 'exec-summary' }, dl([
      ['Service', h('a', { href: `#/services/${api.seg(e.service)}`, id: 'exec-service-link' }, e.service)],
      ['Status', h('span', { id: 'exec-status-text' }, e.status)],
      ['HTTP status', e.http_status],
      ['Error code', e.error_code ? h('code', null, e.error_code) : null],
      ['Attempts', e.attempts],
      ['Duration', ms(e.duration_ms)],
      ['User', h('span', { id: 'exec-user' }, e.user || '')],
      ['Correlation ID', e.correlation_id ? h('code', { id: 'exec-correlation' }, e.correlation_id) : null],
      ['Idempotency key', e.idempotency_key ? h('code', null, e.idempotency_key) : undefined],
      ['Started', time(e.started_at)],
      ['Finished', time(e.finished_at)],
    ], 'exec-props')),
    history(e),
    section('Parameters', { id: 'exec-parameters-section' },
      pre(stringify(e.parameters ?? null), { id: 'exec-parameters', tabindex: '0' })),
    section('Attempts', { id: 'exec-attempts-section' }, attempts(e.attempt_log || [])),
    section('Errors', { id: 'exec-errors' }, errors(e.errors || [])));
}

function history(e) {
  const of = e.reprocessing_of;
  const as = e.reprocessed_as || [];
  const parts = [];
  if (of) {
    parts.push(h('div', { id: 'exec-reprocessing-of', class: 'history-of' },
      h('p', null, 'Reprocessing of ', link(of.original_execution_id, { id: 'exec-reprocessing-of-link' }),
        ', asked by ', h('strong', null, of.requested_by || ''), ' at ', time(of.created_at), '.'),
      of.reason ? h('blockquote', { class: 'reason' }, of.reason) : null));
  } else if (e.reprocess_of) {
    parts.push(h('p', { id: 'exec-reprocessing-of' }, 'Reprocessing of ',
      link(e.reprocess_of, { id: 'exec-reprocessing-of-link' }), '.'));
  }
  if (as.length) {
    parts.push(h('h3', null, 'Reprocessed as'), table({
      id: 'exec-reprocessed-as',
      columns: [
        { label: 'New execution' }, { label: 'Asked by' }, { label: 'Reason', class: 'col-wide' }, { label: 'At' },
      ],
      rows: as.map((r) => [link(r.new_execution_id), r.requested_by || '', r.reason || '', time(r.created_at)]),
    }));
  }
  if (!parts.length) parts.push(h('p', { class: 'muted' }, 'Not a re-run, and never reprocessed.'));
  return section('Reprocessing history', { id: 'exec-history' }, parts);
}

function attempts(log) {
  return table({
    id: 'exec-attempts',
    caption: 'Attempts',
    empty: 'No attempt: the request was refused before calling the procedure.',
    columns: [
      { label: '#', class: 'num' }, { label: 'Outcome' }, { label: 'SQLSTATE' },
      { label: 'Message', class: 'col-wide' },
      { label: 'Queue', class: 'num' }, { label: 'Connect', class: 'num' }, { label: 'Execute', class: 'num' },
      { label: 'Worker', class: 'num' }, { label: 'Started' },
    ],
    rows: log.map((a) => [a.attempt, badge(a.outcome), a.sqlstate ? h('code', null, a.sqlstate) : '',
      a.message || '', ms(a.queue_ms), ms(a.connect_ms), ms(a.execute_ms), a.worker_pid ?? '', time(a.started_at)]),
  });
}

/** An error's `detail`: a list of {sqlstate, message, detail, hint} / {parameter, problem}, or any JSON. */
export function errorDetail(detail) {
  if (detail === null || detail === undefined || (Array.isArray(detail) && !detail.length)) return null;
  if (Array.isArray(detail) && detail.every((d) => d && typeof d === 'object' && !Array.isArray(d))) {
    return h('ul', { class: 'detail-list' }, detail.map((d) => h('li', null,
      Object.entries(d).filter(([, v]) => v !== null && v !== '').map(([k, v], i) => [
        i ? h('br') : null, h('span', { class: 'detail-key' }, k), ' ', display(v)]))));
  }
  return pre(stringify(detail));
}

function errors(list) {
  if (!list.length) return h('p', { class: 'muted' }, 'No error.');
  return list.map((err) => h('div', { class: 'error-block', 'data-reference': err.reference },
    h('p', { class: 'error-head' }, h('code', { class: 'strong' }, err.code), ' ',
      err.http_status ? h('span', { class: 'muted' }, `HTTP ${err.http_status}`) : null,
      err.sqlstate ? [' ', h('span', { class: 'muted' }, 'SQLSTATE '), h('code', null, err.sqlstate)] : null),
    h('p', null, err.message || ''),
    errorDetail(err.detail),
    h('p', { class: 'muted small' }, 'Reference ',
      h('a', { href: `#/errors/${api.seg(err.reference)}`, class: 'mono' }, err.reference),
      ' · ', time(err.created_at))));
}

function reprocessSection(ctx, e, reload) {
  const reason = h('textarea', {
    id: 'reprocess-reason', name: 'reason', rows: 2, required: true, 'aria-required': 'true',
    placeholder: 'Why run it again? e.g. the customer record was fixed',
  });
  const override = h('textarea', {
    id: 'reprocess-params', name: 'parameters', rows: 5, spellcheck: 'false', class: 'mono',
    placeholder: `Leave empty to re-use the recorded parameters:\n${stringify(e.parameters ?? {})}`,
  });
  const copy = h('button', { type: 'button', class: 'btn btn-small', id: 'reprocess-copy' },
    'Start from the recorded parameters');
  copy.addEventListener('click', () => {
    override.value = stringify(e.parameters ?? {});
    override.focus();
  });
  // Without force the API re-runs only what failed, timed out or was interrupted, and only once.
  const force = h('input', { id: 'reprocess-force', name: 'force', type: 'checkbox' });
  const guarded = !['failed', 'timeout', 'interrupted'].includes(e.status) || (e.reprocessed_as || []).length > 0;
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'reprocess-submit' }, 'Reprocess');
  const output = h('div', { id: 'reprocess-output', class: 'try-output', hidden: true });
  const form = h('form', { id: 'reprocess-form', class: 'form', novalidate: true },
    field([ 'Reason ', h('span', { class: 'required' }, 'required') ], reason,
      'Recorded with your key\'s name in the reprocessing history of both executions.'),
    field('Parameters override (JSON object, optional)', override,
      'Validated like any call. Empty: run with the parameters recorded above.'),
    h('div', { class: 'field-inline check-row' }, force,
      h('label', { for: 'reprocess-force' },
        'Force: run it again although it did not fail or was reprocessed already',
        guarded ? h('span', { class: 'muted', id: 'reprocess-force-needed' }, ' (needed here)') : null)),
    h('div', { class: 'actions' }, submit, copy));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearAlert();
    const why = reason.value.trim();
    if (!why) {
      showProblem('Give a reason for reprocessing: it is kept in the audit.',
        [{ parameter: 'reason', problem: 'required' }]);
      reason.focus();
      return;
    }
    const body = { reason: why };
    if (force.checked) body.force = true;
    if (override.value.trim()) {
      let parameters;
      try {
        parameters = parseExact(override.value);
      } catch (error) {
        showProblem('The parameters override is not valid JSON.',
          [{ parameter: 'parameters', problem: error.message }]);
        override.focus();
        return;
      }
      if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) {
        showProblem('The parameters override must be a JSON object.',
          [{ parameter: 'parameters', problem: 'not an object' }]);
        override.focus();
        return;
      }
      body.parameters = parameters;
    }
    let outcome;
    try {
      const answer = await busy(submit, 'Reprocessing…',
        () => api.post(`/api/executions/${api.seg(e.id)}/reprocess`, body));
      outcome = { ok: true, status: answer.status, text: stringify(answer.data), newId: answer.data.execution_id };
      showNotice(`Reprocessed: new execution ${answer.data.execution_id} ${answer.data.status}.`);
    } catch (failure) {
      if (!ctx.alive()) return;
      showError(failure, 'Reprocessing');
      if (failure.status === 0) return;
      let text = failure.text || failure.message;
      try {
        text = stringify(parseExact(failure.text));
      } catch {
        // not JSON: show as received
      }
      // A re-run that ran and failed is still a new, linked execution (X-Execution-ID);
      // a refused request (bad override, unknown id) ran nothing and has none.
      outcome = { ok: false, status: failure.status, text, newId: failure.executionId };
    }
    if (!ctx.alive()) return;
    replace(output,
      h('h3', null, 'Result'),
      h('p', { id: 'reprocess-status' }, badge(outcome.ok ? 'succeeded' : 'failed'), ` HTTP ${outcome.status}`),
      pre(outcome.text, { id: 'reprocess-result', tabindex: '0' }),
      outcome.newId
        ? h('p', null, h('a', { href: `#/executions/${api.seg(outcome.newId)}`, id: 'reprocess-link', class: 'strong' },
          `New execution ${outcome.newId} →`))
        : h('p', { class: 'muted' }, 'Nothing ran: no new execution.'));
    output.hidden = false;
    if (outcome.newId) {
      reason.value = '';
      await reload();
    }
  });

  return section('Reprocess', { id: 'reprocess' },
    h('p', { class: 'muted' }, 'Runs this execution again, as your key, and links the two.'), form, output);
}
