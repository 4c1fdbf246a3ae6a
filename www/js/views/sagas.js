// #/sagas?state=&service=&limit=&cursor=&page= — sagas, newest first, from GET /api/sagas.
//
// Paging follows the API's cursor like the executions view: "Older" navigates to the same
// filters with cursor = next_cursor (so Back returns to the newer page), "Newest" drops it.

import * as api from '../api.js';
import { h, badge, field, fillRows, table, time } from '../dom.js';
import { shortId } from './executions.js';

export const STATES = ['started', 'step_done', 'completed', 'failed', 'compensating', 'compensated',
  'compensation_failed'];
const PAGE_SIZES = ['10', '25', '50', '100'];
const DEFAULT_LIMIT = '25';

const COLUMNS = [
  { label: 'Started' },
  { label: 'Service' },
  { label: 'State' },
  { label: 'Last step' },
  { label: 'Updated' },
  { label: 'Error', class: 'col-wide' },
  { label: 'Saga' },
];

/** A saga state as a badge coloured like the execution statuses it resembles. */
export function stateBadge(state) {
  const kind = {
    completed: 'succeeded', compensated: 'timeout', compensation_failed: 'failed', failed: 'failed',
    started: 'running', step_done: 'running', compensating: 'running',
  }[state] || state;
  return h('span', { class: `badge badge-${kind}`, 'data-state': state }, state);
}

export async function render(ctx) {
  ctx.title('Sagas');
  const q = ctx.query;
  const filters = {
    state: STATES.includes(q.get('state')) ? q.get('state') : '',
    service: q.get('service') || '',
    limit: PAGE_SIZES.includes(q.get('limit')) ? q.get('limit') : DEFAULT_LIMIT,
  };
  const cursor = q.get('cursor') || '';
  const page = Math.max(1, Number.parseInt(q.get('page') || '1', 10) || 1);

  const service = h('input', {
    id: 'saga-service', name: 'service', type: 'text', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'any saga service', value: filters.service,
  });
  const state = h('select', { id: 'saga-state', name: 'state', value: filters.state },
    h('option', { value: '' }, 'Any state'), STATES.map((s) => h('option', { value: s }, s)));
  const limit = h('select', { id: 'saga-limit', name: 'limit', value: filters.limit },
    PAGE_SIZES.map((n) => h('option', { value: n }, n)));
  const form = h('form', { id: 'saga-filter', class: 'toolbar', role: 'search' },
    field('Service', service),
    half(field('State', state)),
    half(field('Per page', limit)),
    h('div', { class: 'toolbar-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'saga-apply' }, 'Apply'),
      h('a', { href: '#/sagas', class: 'btn btn-link', id: 'saga-reset' }, 'Reset')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    ctx.navigate(hashFor({ service: service.value.trim(), state: state.value, limit: limit.value }));
  });

  const list = table({ id: 'saga-table', columns: COLUMNS, rows: [], empty: 'Loading…', caption: 'Sagas' });
  const body = list.querySelector('tbody');
  const newest = h('button', { type: 'button', class: 'btn', id: 'saga-newest', disabled: !cursor }, '« Newest');
  const older = h('button', { type: 'button', class: 'btn', id: 'saga-older', disabled: true }, 'Older »');
  const shown = h('span', { class: 'muted', id: 'saga-shown', 'aria-live': 'polite' });
  let nextCursor = null;
  newest.addEventListener('click', () => ctx.navigate(hashFor(filters)));
  older.addEventListener('click', () => {
    if (nextCursor) ctx.navigate(hashFor({ ...filters, cursor: nextCursor, page: String(page + 1) }));
  });

  ctx.root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Sagas')),
    h('p', { class: 'lede' }, 'Every run of a saga service, newest first: where it stands and what failed. '
      + 'Open one for its step timeline.'),
    h('div', { class: 'card' }, form),
    h('div', { class: 'card' },
      h('div', { class: 'pager' },
        h('div', { class: 'pager-buttons' }, newest, h('span', { class: 'muted', id: 'saga-page' }, `Page ${page}`),
          older), shown),
      list));

  try {
    const { data } = await api.get('/api/sagas', { query: { ...filters, cursor } });
    if (!ctx.alive()) return;
    const items = data.items || [];
    nextCursor = data.next_cursor || null;
    older.disabled = !nextCursor;
    fillRows(body, COLUMNS, items.map(row), cursor ? 'No older sagas.' : 'No saga matches these filters.');
    shown.textContent = `${items.length} shown`;
  } catch (failure) {
    ctx.error(failure, 'Loading the sagas');
    fillRows(body, COLUMNS, [], 'Could not load the sagas.');
  }
}

function half(wrapper) {
  wrapper.classList.add('field-half');
  return wrapper;
}

function hashFor(params) {
  const qs = new URLSearchParams();
  for (const name of ['service', 'state', 'limit', 'cursor', 'page']) {
    const value = params[name];
    if (value && !(name === 'limit' && value === DEFAULT_LIMIT)) qs.set(name, value);
  }
  const text = qs.toString();
  return `#/sagas${text ? `?${text}` : ''}`;
}

function row(s) {
  const error = s.error && typeof s.error === 'object'
    ? [s.error.code ? h('code', null, s.error.code) : null, s.error.step ? ` at ${s.error.step}` : null,
      s.error.message ? [' ', h('span', { class: 'muted' }, s.error.message)] : null]
    : '';
  return {
    attrs: { 'data-id': s.id, 'data-testid': 'saga-row', 'data-state': s.state },
    cells: [
      time(s.started_at),
      s.service,
      stateBadge(s.state),
      s.last_step || '—',
      time(s.updated_at),
      error,
      h('a', { href: `#/sagas/${api.seg(s.id)}`, class: 'mono', title: s.id, 'data-testid': 'saga-link' },
        shortId(s.id)),
    ],
  };
}
