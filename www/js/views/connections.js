// #/connections — target databases and their health (GET /api/health/services connects to
// each one, so it is asked separately: the list shows even when health is slow or fails).

import * as api from '../api.js';
import { h, badge, fillRows, table, ms } from '../dom.js';

const COLUMNS = [
  { label: 'Name' },
  { label: 'Connection info', class: 'col-wide' },
  { label: 'Password from' },
  { label: 'Description', class: 'col-wide' },
  { label: 'Health' },
  { label: 'Latency / error', class: 'col-wide' },
];

export async function render(ctx) {
  ctx.title('Connections');
  const list = table({
    id: 'connections-table', columns: COLUMNS, rows: [], empty: 'Loading…', caption: 'Connections',
  });
  const body = list.querySelector('tbody');
  const checked = h('p', { class: 'muted count', id: 'connections-checked', 'aria-live': 'polite' });
  const refresh = h('button', { type: 'button', class: 'btn', id: 'connections-refresh' }, 'Check again');
  ctx.root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Connections'), refresh),
    h('p', { class: 'lede' },
      'Target databases the services run on. Secrets are never shown: only where they come from.'),
    h('div', { class: 'card' }, checked, list));

  let items = [];
  let health = null; // connection name → health item; null while unknown

  function draw() {
    fillRows(body, COLUMNS, items.map((c) => {
      const state = health ? health.get(c.name) : undefined;
      let healthCell;
      let detailCell;
      if (!health) {
        healthCell = h('span', { class: 'muted' }, 'checking…');
        detailCell = '';
      } else if (!state) {
        healthCell = badge('unknown');
        detailCell = h('span', { class: 'muted' }, 'not reported');
      } else if (state.reachable) {
        healthCell = badge('reachable');
        detailCell = ms(state.latency_ms);
      } else {
        healthCell = badge('unreachable');
        detailCell = h('span', { class: 'error-text' }, state.error || 'unreachable');
      }
      return {
        attrs: { 'data-connection': c.name, 'data-testid': 'connection-row' },
        cells: [
          h('strong', null, c.name),
          h('code', { class: 'wrap' }, c.conninfo || ''),
          c.password_from ? h('code', null, c.password_from) : h('span', { class: 'muted' }, '—'),
          c.description || '',
          healthCell,
          detailCell,
        ],
      };
    }), 'No connections are configured.');
  }

  async function loadHealth() {
    health = null;
    draw();
    try {
      const { data } = await api.get('/api/health/services');
      if (!ctx.alive()) return;
      health = new Map((data.items || []).map((item) => [item.connection, item]));
      checked.textContent = `Health checked at ${new Date().toLocaleTimeString()}.`;
    } catch (failure) {
      health = new Map();
      checked.textContent = 'Health could not be checked.';
      ctx.error(failure, 'Checking connection health');
    }
    if (ctx.alive()) draw();
  }

  refresh.addEventListener('click', () => loadHealth());

  try {
    const { data } = await api.get('/api/connections');
    items = data.items || [];
  } catch (failure) {
    fillRows(body, COLUMNS, [], 'Could not load the connections.');
    ctx.error(failure, 'Loading the connections');
    return;
  }
  if (!ctx.alive()) return;
  await loadHealth();
}
