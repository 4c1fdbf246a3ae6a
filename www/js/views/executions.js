// #/executions?service=&status=&since=&until=&limit=&cursor=&page= — the audit, newest first.
//
// Paging follows the API's cursor: "Older" navigates to the same filters with cursor =
// next_cursor (so the browser's Back button returns to the newer page), "Newest" drops it.
// Auto-refresh only runs on the newest page: refreshing an older page would not show
// anything new, and would move rows under the user's pointer.

import * as api from '../api.js';
import { showProblem } from '../alerts.js';
import { h, badge, field, fillRows, table, time, ms } from '../dom.js';

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'timeout', 'rejected', 'interrupted'];
const PAGE_SIZES = ['10', '25', '50', '100', '200'];
const DEFAULT_LIMIT = '50';
const REFRESH_MS = 5000;

const COLUMNS = [
  { label: 'Started' },
  { label: 'Service' },
  { label: 'Status' },
  { label: 'HTTP', class: 'num' },
  { label: 'Attempts', class: 'num' },
  { label: 'Duration', class: 'num' },
  { label: 'User' },
  { label: 'Execution' },
];

// Survives navigation within the tab: someone watching executions keeps watching.
let autoRefresh = false;

/** ISO 8601 (UTC) → the value of a datetime-local input, in local time. */
function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A datetime-local value (local time) → ISO 8601 in UTC; '' stays ''; null when invalid. */
function fromLocalInput(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The last 12 hex digits of a UUIDv7 are random: a short, distinctive label. */
export function shortId(id) {
  return `…${String(id).slice(-12)}`;
}

export async function render(ctx) {
  ctx.title('Executions');
  const q = ctx.query;
  const filters = {
    service: q.get('service') || '',
    status: q.get('status') || '',
    since: q.get('since') || '',
    until: q.get('until') || '',
    limit: PAGE_SIZES.includes(q.get('limit')) ? q.get('limit') : DEFAULT_LIMIT,
  };
  const cursor = q.get('cursor') || '';
  const page = Math.max(1, Number.parseInt(q.get('page') || '1', 10) || 1);

  // -- filters ----------------------------------------------------------------------------
  const service = h('input', {
    id: 'exec-service', name: 'service', type: 'text', list: 'exec-service-options', autocomplete: 'off',
    spellcheck: 'false', placeholder: 'any service', value: filters.service,
  });
  const serviceOptions = h('datalist', { id: 'exec-service-options' });
  const status = h('select', { id: 'exec-status', name: 'status', value: filters.status },
    h('option', { value: '' }, 'Any status'), STATUSES.map((s) => h('option', { value: s }, s)));
  const since = h('input', {
    id: 'exec-since', name: 'since', type: 'datetime-local', value: toLocalInput(filters.since),
  });
  const until = h('input', {
    id: 'exec-until', name: 'until', type: 'datetime-local', value: toLocalInput(filters.until),
  });
  const limit = h('select', { id: 'exec-limit', name: 'limit', value: filters.limit },
    PAGE_SIZES.map((n) => h('option', { value: n }, n)));

  const form = h('form', { id: 'exec-filter', class: 'toolbar', role: 'search' },
    field('Service', service), serviceOptions,
    half(field('Status', status)),
    field('Since', since),
    field('Until', until),
    half(field('Per page', limit)),
    h('div', { class: 'toolbar-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'exec-apply' }, 'Apply'),
      h('a', { href: '#/executions', class: 'btn btn-link', id: 'exec-reset' }, 'Reset')));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const sinceIso = fromLocalInput(since.value);
    const untilIso = fromLocalInput(until.value);
    if (sinceIso === null || untilIso === null) {
      showProblem('A date is not valid.',
        [{ parameter: sinceIso === null ? 'since' : 'until', problem: 'not a date and time' }]);
      return;
    }
    ctx.navigate(hashFor({
      service: service.value.trim(), status: status.value, since: sinceIso, until: untilIso, limit: limit.value,
    }));
  });

  // -- table and paging -------------------------------------------------------------------
  const list = table({ id: 'exec-table', columns: COLUMNS, rows: [], empty: 'Loading…', caption: 'Executions' });
  const body = list.querySelector('tbody');
  const newest = h('button', { type: 'button', class: 'btn', id: 'exec-newest', disabled: !cursor }, '« Newest');
  const older = h('button', { type: 'button', class: 'btn', id: 'exec-older', disabled: true }, 'Older »');
  const pageLabel = h('span', { class: 'muted', id: 'exec-page' }, `Page ${page}`);
  const refreshBox = h('input', {
    id: 'exec-autorefresh', type: 'checkbox', checked: autoRefresh && !cursor, disabled: Boolean(cursor),
  });
  const updated = h('span', { class: 'muted', id: 'exec-updated', 'aria-live': 'polite' });
  let nextCursor = null;

  newest.addEventListener('click', () => ctx.navigate(hashFor(filters)));
  older.addEventListener('click', () => {
    if (nextCursor) ctx.navigate(hashFor({ ...filters, cursor: nextCursor, page: String(page + 1) }));
  });
  refreshBox.addEventListener('change', () => {
    autoRefresh = refreshBox.checked;
    if (autoRefresh) load();
  });

  const pager = h('div', { class: 'pager' },
    h('div', { class: 'pager-buttons' }, newest, pageLabel, older),
    h('div', { class: 'field-inline' }, refreshBox,
      h('label', { for: 'exec-autorefresh' }, cursor ? 'Auto-refresh (newest page only)' : 'Auto-refresh every 5 s')),
    updated);

  ctx.root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Executions')),
    h('p', { class: 'lede' }, 'Every call of every service, newest first: who, when, outcome, duration.'),
    h('div', { class: 'card' }, form),
    h('div', { class: 'card' }, pager, list));

  let loading = false;
  async function load() {
    if (loading) return; // an auto-refresh tick while the previous answer is still coming
    loading = true;
    try {
      const { data } = await api.get('/api/executions', { query: { ...filters, cursor } });
      if (!ctx.alive()) return;
      const items = data.items || [];
      nextCursor = data.next_cursor || null;
      older.disabled = !nextCursor;
      fillRows(body, COLUMNS, items.map(row), cursor ? 'No older executions.' : 'No execution matches these filters.');
      updated.textContent = `${items.length} shown · updated ${new Date().toLocaleTimeString()}`;
    } catch (failure) {
      ctx.error(failure, 'Loading the executions');
      fillRows(body, COLUMNS, [], 'Could not load the executions.');
    } finally {
      loading = false;
    }
  }

  const timer = setInterval(() => {
    if (autoRefresh && !cursor && !document.hidden) load();
  }, REFRESH_MS);
  ctx.onCleanup(() => clearInterval(timer));

  // The service names for the filter's suggestions; the list itself does not wait for them.
  api.get('/api/services').then(({ data }) => {
    if (!ctx.alive()) return;
    serviceOptions.replaceChildren(...(data.items || []).map((s) => h('option', { value: s.name })));
  }).catch((failure) => ctx.error(failure, 'Loading the service names'));

  await load();
}

/** A filter that takes half the row on phones (short selects). */
function half(wrapper) {
  wrapper.classList.add('field-half');
  return wrapper;
}

function hashFor(params) {
  const qs = new URLSearchParams();
  for (const name of ['service', 'status', 'since', 'until', 'limit', 'cursor', 'page']) {
    const value = params[name];
    if (value && !(name === 'limit' && value === DEFAULT_LIMIT)) qs.set(name, value);
  }
  const text = qs.toString();
  return `#/executions${text ? `?${text}` : ''}`;
}

function row(e) {
  return {
    attrs: { 'data-id': e.id, 'data-testid': 'exec-row', 'data-status': e.status },
    cells: [
      time(e.started_at),
      [e.service, e.reprocess_of
        ? [' ', h('span', { class: 'tag', title: `Re-run of ${e.reprocess_of}` }, 're-run')] : null],
      badge(e.status),
      e.http_status ?? '—',
      e.attempts ?? '—',
      ms(e.duration_ms),
      e.user || '',
      h('a', {
        href: `#/executions/${api.seg(e.id)}`, class: 'mono', title: e.id, 'data-testid': 'exec-link',
      }, shortId(e.id)),
    ],
  };
}
