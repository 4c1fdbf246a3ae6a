// #/sagas/ID — one saga: its summary, the step timeline (each step with its state, duration,
// input and output, the compensation under it, links to their executions), the events in order,
// and "Retry compensation" for a saga whose compensation failed.

import * as api from '../api.js';
import { clearAlert, showError, showNotice } from '../alerts.js';
import { h, badge, dl, pre, section, table, time, ms, replace } from '../dom.js';
import { stringify } from '../json.js';
import { busy } from './service-actions.js';
import { stateBadge } from './sagas.js';

const executionLink = (id, props = {}) => (id
  ? h('a', { href: `#/executions/${api.seg(id)}`, class: 'mono', title: id, ...props }, `…${String(id).slice(-12)}`)
  : h('span', { class: 'muted' }, '—'));

/** Milliseconds between two ISO timestamps, or null while the second is missing. */
function between(start, end) {
  if (!start || !end) return null;
  const a = new Date(start).getTime();
  const b = new Date(end).getTime();
  return Number.isFinite(a) && Number.isFinite(b) ? b - a : null;
}

export async function render(ctx, id) {
  ctx.title(`Saga ${id}`);
  ctx.root.append(h('p', { class: 'breadcrumb' }, h('a', { href: '#/sagas' }, 'Sagas'), ' / '));
  const head = h('div', { class: 'page-head' }, h('h1', null, 'Saga'));
  const host = h('div', { class: 'detail-host' });
  ctx.root.append(head, host);
  let saga;
  try {
    ({ data: saga } = await api.get(`/api/sagas/${api.seg(id)}`));
  } catch (failure) {
    host.append(h('p', { class: 'mono' }, id));
    ctx.error(failure, 'Loading the saga');
    return;
  }
  if (!ctx.alive()) return;
  draw(ctx, head, host, saga);
}

function draw(ctx, head, host, saga) {
  replace(head, h('h1', null, 'Saga ', h('span', { id: 'saga-state-badge' }, stateBadge(saga.state))));
  replace(host,
    h('p', { class: 'lede mono', id: 'saga-id' }, saga.id),
    section('Summary', { id: 'saga-summary' }, dl([
      ['Service', h('a', { href: `#/services/${api.seg(saga.service)}`, id: 'saga-service-link' }, saga.service)],
      ['State', h('span', { id: 'saga-state-text' }, saga.state)],
      ['Last step', saga.last_step],
      ['Execution', executionLink(saga.id, { id: 'saga-execution-link' })],
      ['Correlation ID', saga.correlation_id ? h('code', null, saga.correlation_id) : null],
      ['Started', time(saga.started_at)],
      ['Updated', time(saga.updated_at)],
      ['Finished', time(saga.finished_at)],
      ['Duration', ms(between(saga.started_at, saga.finished_at))],
      ['Error', saga.error ? h('code', { id: 'saga-error' }, stringify(saga.error)) : null],
    ], 'saga-props')),
    saga.state === 'compensation_failed' ? retrySection(ctx, head, host, saga) : null,
    section('Input', { id: 'saga-input-section' }, pre(stringify(saga.input ?? null), { id: 'saga-input', tabindex: '0' })),
    section('Steps', { id: 'saga-steps' }, timeline(saga.steps || [])),
    section('Events', { id: 'saga-events-section' }, events(saga.events || [])));
}

function timeline(steps) {
  if (!steps.length) return h('p', { class: 'muted' }, 'No step has started.');
  return h('ol', { class: 'timeline', id: 'saga-timeline' }, steps.map((step) => {
    const comp = step.compensation;
    return h('li', {
      class: `timeline-step timeline-${step.state}`, 'data-testid': 'saga-step', 'data-step': step.name,
      'data-state': step.state,
    },
    h('div', { class: 'timeline-head' },
      h('span', { class: 'timeline-position' }, `${step.position + 1}.`), ' ',
      h('strong', { class: 'timeline-name' }, step.name), ' ',
      h('span', { class: 'muted' }, step.service), ' ',
      badge(step.state, step.state === 'done' ? 'succeeded' : step.state), ' ',
      h('span', { class: 'muted timeline-duration' }, ms(between(step.started_at, step.finished_at)))),
    dl([
      ['Execution', executionLink(step.execution_id, { 'data-testid': 'saga-step-execution' })],
      ['Started', time(step.started_at)],
      ['Finished', time(step.finished_at)],
    ]),
    h('details', { class: 'request' }, h('summary', null, 'Input'), pre(stringify(step.input ?? null))),
    h('details', { class: 'request', open: step.output !== null && step.output !== undefined },
      h('summary', null, 'Output'), pre(stringify(step.output ?? null), { 'data-testid': 'saga-step-output' })),
    step.error ? h('div', { class: 'error-block' }, pre(stringify(step.error), { 'data-testid': 'saga-step-error' }))
      : null,
    comp ? h('div', {
      class: `timeline-compensation timeline-${comp.state}`, 'data-testid': 'saga-compensation',
      'data-state': comp.state,
    },
    h('p', { class: 'timeline-head' }, '↩ Compensation ', h('strong', null, comp.service), ' ',
      badge(comp.state, comp.state === 'done' ? 'succeeded' : comp.state), ' ',
      h('span', { class: 'muted' }, `${comp.attempts} attempt${comp.attempts === 1 ? '' : 's'}`), ' ',
      h('span', { class: 'muted timeline-duration' }, ms(between(comp.started_at, comp.finished_at)))),
    dl([['Execution', executionLink(comp.execution_id, { 'data-testid': 'saga-compensation-execution' })]]),
    comp.input !== null && comp.input !== undefined
      ? h('details', { class: 'request' }, h('summary', null, 'Input'), pre(stringify(comp.input))) : null,
    comp.error ? h('div', { class: 'error-block' }, pre(stringify(comp.error))) : null) : null);
  }));
}

function events(list) {
  return table({
    id: 'saga-events',
    caption: 'Events',
    empty: 'No event recorded.',
    columns: [{ label: '#', class: 'num' }, { label: 'At' }, { label: 'Event' }, { label: 'Step' },
      { label: 'Detail', class: 'col-wide' }],
    rows: list.map((e) => ({
      attrs: { 'data-testid': 'saga-event', 'data-event': e.event },
      cells: [e.id, time(e.at), h('code', null, e.event), e.step || '—',
        e.detail === null || e.detail === undefined ? '' : h('code', null, stringify(e.detail))],
    })),
  });
}

/** "Retry compensation": POST /api/sagas/{id}/compensate, which answers the saga as it is now. */
function retrySection(ctx, head, host, saga) {
  const button = h('button', { type: 'button', class: 'btn btn-danger', id: 'saga-retry' }, 'Retry compensation');
  button.addEventListener('click', async () => {
    clearAlert();
    try {
      const { data } = await busy(button, 'Retrying…', () => api.post(`/api/sagas/${api.seg(saga.id)}/compensate`));
      if (!ctx.alive()) return;
      showNotice(`Compensation retried: the saga is ${data.state}.`);
      draw(ctx, head, host, data);
    } catch (failure) {
      if (ctx.alive()) showError(failure, 'Retrying the compensation');
    }
  });
  return section('Compensation failed', { id: 'saga-retry-section' },
    h('p', null, 'A compensation could not be completed after its retries: the saga needs a decision. Once the '
      + 'cause is fixed, run the compensations that are not done again, in reverse order.'),
    h('div', { class: 'actions' }, button));
}
