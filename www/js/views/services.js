// #/services?search=&enabled= — the list of services, searched on the server.

import * as api from '../api.js';
import { showNotice } from '../alerts.js';
import { h, badge, field, fillRows, table } from '../dom.js';
import { busy, toggleEnabled } from './service-actions.js';

const COLUMNS = [
  { label: 'Name' },
  { label: 'Description', class: 'col-wide' },
  { label: 'Procedure' },
  { label: 'Connection' },
  { label: 'Parameters', class: 'num' },
  { label: 'Status' },
  { label: 'Actions', class: 'col-actions' },
];

const SEARCH_DELAY_MS = 300; // typing pauses this long before the list is asked again

export async function render(ctx) {
  ctx.title('Services');
  const search = h('input', {
    id: 'services-search', type: 'search', name: 'search', autocomplete: 'off',
    placeholder: 'Name or description', value: ctx.query.get('search') || '',
  });
  const enabled = h('select', { id: 'services-enabled', name: 'enabled', value: ctx.query.get('enabled') || '' },
    h('option', { value: '' }, 'All'),
    h('option', { value: 'true' }, 'Enabled'),
    h('option', { value: 'false' }, 'Disabled'));
  const count = h('p', { class: 'muted count', id: 'services-count', 'aria-live': 'polite' }, 'Loading…');
  const list = table({ id: 'services-table', columns: COLUMNS, rows: [], empty: 'Loading…', caption: 'Services' });
  const body = list.querySelector('tbody');

  let sequence = 0; // only the answer to the latest search is shown
  let timer = null;

  async function load() {
    if (!ctx.alive()) return; // a late search of a view the user has left
    const mine = ++sequence;
    ctx.setQuery({ search: search.value.trim(), enabled: enabled.value });
    try {
      const { data } = await api.get('/api/services', {
        query: { search: search.value.trim(), enabled: enabled.value },
      });
      if (mine !== sequence || !ctx.alive()) return;
      const items = data.items || [];
      count.textContent = `${items.length} service${items.length === 1 ? '' : 's'}`;
      fillRows(body, COLUMNS, items.map(row), search.value || enabled.value
        ? 'No service matches these filters.' : 'No services yet. Create one with “New service”.');
    } catch (failure) {
      if (mine === sequence) {
        count.textContent = '';
        fillRows(body, COLUMNS, [], 'Could not load the services.');
        ctx.error(failure, 'Loading the services');
      }
    }
  }

  function row(service) {
    const toggle = h('button', {
      type: 'button', class: 'btn btn-small', 'data-testid': `toggle-${service.name}`,
      'aria-label': `${service.enabled ? 'Disable' : 'Enable'} service ${service.name}`,
    }, service.enabled ? 'Disable' : 'Enable');
    const cells = [
      h('a', { href: `#/services/${api.seg(service.name)}`, class: 'strong', 'data-testid': 'service-link' },
        service.name),
      h('span', { class: 'clamp', title: service.description || null }, service.description || ''),
      h('code', null, service.procedure),
      service.connection,
      Array.isArray(service.parameters) ? service.parameters.length : '—',
      badge(service.enabled ? 'enabled' : 'disabled'),
      toggle,
    ];
    const tr = { cells, attrs: { 'data-service': service.name, 'data-testid': 'service-row' } };
    toggle.addEventListener('click', async () => {
      try {
        const stored = await busy(toggle, service.enabled ? 'Disabling…' : 'Enabling…',
          () => toggleEnabled(service.name));
        if (!ctx.alive()) return;
        showNotice(`Service ${stored.name} ${stored.enabled ? 'enabled' : 'disabled'}.`);
        const current = body.querySelector(`tr[data-service="${CSS.escape(service.name)}"]`);
        if (current) {
          const fresh = h('tbody');
          fillRows(fresh, COLUMNS, [row(stored)]);
          current.replaceWith(fresh.firstChild);
        }
      } catch (failure) {
        ctx.error(failure, `Changing service ${service.name}`);
      }
    });
    return tr;
  }

  const form = h('form', {
    id: 'services-filter', class: 'toolbar', role: 'search',
    onsubmit: (event) => { event.preventDefault(); clearTimeout(timer); load(); },
  },
  field('Search', search),
  field('Status', enabled),
  h('div', { class: 'toolbar-actions' }, h('button', { type: 'submit', class: 'btn' }, 'Search')));

  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(load, SEARCH_DELAY_MS);
  });
  enabled.addEventListener('change', () => { clearTimeout(timer); load(); });
  ctx.onCleanup(() => clearTimeout(timer));

  ctx.root.append(
    h('div', { class: 'page-head' },
      h('h1', null, 'Services'),
      h('a', { href: '#/services/new', class: 'btn btn-primary', id: 'services-new' }, 'New service')),
    h('p', { class: 'lede' }, 'Each service is a stored procedure exposed as ',
      h('code', null, 'POST /api/services/{name}/execute'), '.'),
    h('div', { class: 'card' }, form, count, list));
  await load();
}
