// #/dashboard — the pool live: GET /api/stats every POLL_MS, the readings of the last WINDOW_S
// seconds kept in the page. Rates are differences of successive readings, p50/p95 come from
// the histogram buckets' growth over LATENCY_S (see ../stats.js). Numbers are text in the DOM
// (tiles, tables, the charts' labels); Chart.js only draws them, and without it the page says
// so and keeps the numbers.
//
// Sections for data other parts of the server add to /api/stats `extra` (circuit breakers,
// queue depth) are in PANELS below: each appears only while its family is present.

import * as api from '../api.js';
import { showNotice } from '../alerts.js';
import { h, badge, fillRows, table } from '../dom.js';
import { CHART_JS_URL, lineChart, loadChart } from '../charts.js';
import { family, interval, num, reading } from '../stats.js';

const POLL_MS = 2000;
const WINDOW_S = 300;
const LATENCY_S = 30;

const SERVICE_COLUMNS = [
  { label: 'Service' },
  { label: 'Requests/s', class: 'num' },
  { label: 'Errors', class: 'num' },
  { label: 'p50', class: 'num' },
  { label: 'p95', class: 'num' },
];

const WORKER_COLUMNS = [
  { label: 'Worker', class: 'col-wide' },
  { label: 'PID', class: 'num' },
  { label: 'State' },
  { label: 'Requests', class: 'num' },
  { label: 'Restarts', class: 'num' },
];

const fixed = (n, digits = 1) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const percent = (share) => (share === null ? '—' : `${fixed(share * 100)} %`);
const count = (n) => n.toLocaleString('en-US');

/** Seconds as the page shows durations: "0.8 ms", "12 ms", "1.2 s"; "≥ 10 s" for +Inf. */
function duration(seconds, atLeast = false) {
  if (seconds === null) return '—';
  const text = seconds < 0.01 ? `${fixed(seconds * 1000, 2)} ms`
    : seconds < 1 ? `${fixed(seconds * 1000, 0)} ms` : `${fixed(seconds, 1)} s`;
  return atLeast ? `≥ ${text}` : text;
}

// ------------------------------------------------------------------------------------------
// Sections for `extra` families. To add one: an entry with the family's name, a title, and a
// render(samples, body, panelContext) that fills `body`. Shown only while the family is present.
// ------------------------------------------------------------------------------------------

const PANELS = [
  {
    // Circuit breakers: gauge spo_breaker_state{connection, state} = 1 for each connection's
    // current state (closed, open, half_open), the Prometheus way of exporting a state.
    id: 'breakers',
    family: 'spo_breaker_state',
    title: 'Circuit breakers',
    render(samples, body, panel) {
      const current = samples.filter((s) => num(s.value) === 1 && s.labels && s.labels.connection);
      const columns = [{ label: 'Connection' }, { label: 'State' }, { label: 'Action' }];
      const rows = current.map((s) => {
        const name = s.labels.connection;
        const state = s.labels.state || 'unknown';
        return {
          attrs: { 'data-connection': name, 'data-testid': 'breaker-row' },
          cells: [h('strong', null, name), badge(state.replace('_', '-'), `breaker-${state}`),
            h('button', {
              type: 'button', class: 'btn btn-small', disabled: state === 'closed',
              'aria-label': `Reset the circuit breaker of connection ${name}`,
              onclick: (event) => panel.resetBreaker(name, event.currentTarget),
            }, 'Reset')],
        };
      });
      body.replaceChildren(table({ id: 'dash-breakers-table', columns, rows, caption: 'Circuit breakers', empty: 'No breaker reported.' }));
    },
  },
  {
    // The job queue: gauge spo_queue_jobs{state} (queued, running), one row per state; the
    // waiting total is the queued sample.
    id: 'queue',
    family: 'spo_queue_jobs',
    title: 'Queue depth',
    render(samples, body) {
      const waiting = samples.filter((s) => s.labels && s.labels.state === 'queued')
        .reduce((sum, s) => sum + num(s.value), 0);
      const columns = [{ label: 'State', class: 'col-wide' }, { label: 'Jobs', class: 'num' }];
      const rows = samples.map((s) => [(s.labels && s.labels.state) || 'all', count(num(s.value))]);
      body.replaceChildren(
        h('p', null, 'Waiting jobs: ', h('strong', { id: 'dash-queue-depth' }, count(waiting))),
        table({ id: 'dash-queue-table', columns, rows, caption: 'Queue depth' }));
    },
  },
];

// ------------------------------------------------------------------------------------------

function tile(id, label, hint) {
  return h('div', { class: 'tile' },
    h('dt', { id: `${id}-label` }, label),
    h('dd', { id, 'data-testid': id, 'aria-labelledby': `${id}-label` }, '—'),
    hint ? h('p', { class: 'hint' }, hint) : null);
}

function chartCard(id, title, description) {
  const canvas = h('canvas', { id, role: 'img', 'aria-label': `${title}: no data yet` });
  return {
    canvas,
    card: h('section', { class: 'card chart-card', 'aria-labelledby': `${id}-title` },
      h('h2', { id: `${id}-title` }, title),
      h('p', { class: 'hint' }, description),
      h('div', { class: 'chart-box' }, canvas)),
  };
}

export async function render(ctx) {
  ctx.title('Dashboard');
  const updated = h('p', { class: 'muted count', id: 'dash-updated' }, 'Loading…');
  const pause = h('button', { type: 'button', class: 'btn', id: 'dash-pause', 'aria-pressed': 'false' }, 'Pause');
  const missing = h('p', { class: 'notice-inline', id: 'dash-charts-missing', role: 'status', hidden: true });

  const tiles = h('dl', { class: 'tiles', id: 'dash-tiles' },
    tile('dash-rps', 'Requests per second', `over the last ${POLL_MS / 1000} s`),
    tile('dash-error-rate', 'Error rate', 'share answered 4xx or 5xx'),
    tile('dash-requests', 'Requests', 'since the pool started'),
    tile('dash-errors', 'Errors', 'since the pool started'),
    tile('dash-workers-busy', 'Busy workers', 'of those running; one answers this read'),
    tile('dash-restarts', 'Worker restarts', 'since the pool started'),
    tile('dash-crash-looping', 'Crash-looping workers', 'restarted with backoff'));

  const rate = chartCard('dash-chart-rate', 'Requests per second', `Every execution request and those answered 4xx/5xx, last ${WINDOW_S / 60} minutes.`);
  const errors = chartCard('dash-chart-errors', 'Error rate', 'Share of requests answered 4xx or 5xx, in percent.');
  const workers = chartCard('dash-chart-workers', 'Workers', 'Busy and idle workers of the pool.');

  const chartGrid = h('div', { class: 'chart-grid', id: 'dash-charts' }, rate.card, errors.card, workers.card);

  const servicesTable = table({
    id: 'dash-services', columns: SERVICE_COLUMNS, rows: [], empty: 'No request in the interval.', caption: 'Latency per service',
  });
  const workersTable = table({ id: 'dash-workers', columns: WORKER_COLUMNS, rows: [], empty: 'Loading…', caption: 'Workers' });

  const panels = PANELS.map((panel) => {
    const body = h('div', { class: 'panel-body' });
    const card = h('section', { class: 'card', id: `dash-${panel.id}`, hidden: true, 'aria-labelledby': `dash-${panel.id}-title` },
      h('h2', { id: `dash-${panel.id}-title` }, panel.title), body);
    return { ...panel, body, card, shown: null };
  });

  ctx.root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Dashboard'), h('div', { class: 'page-actions' }, pause)),
    h('p', { class: 'lede' }, `The pool's counters (GET /api/stats), read every ${POLL_MS / 1000} s while this page is open.`),
    updated,
    missing,
    h('section', { class: 'card', 'aria-label': 'Now' }, tiles),
    chartGrid,
    h('section', { class: 'card', 'aria-labelledby': 'dash-services-title' },
      h('h2', { id: 'dash-services-title' }, 'Latency per service'),
      h('p', { class: 'hint' }, `p50 and p95 of the requests of the last ${LATENCY_S} s, from the duration histogram's buckets.`),
      servicesTable),
    ...panels.map((p) => p.card),
    h('section', { class: 'card', 'aria-labelledby': 'dash-workers-title' },
      h('h2', { id: 'dash-workers-title' }, 'Workers'), workersTable));

  const history = []; // readings, oldest first, at most WINDOW_S old
  const points = { rate: [], errors: [], share: [], busy: [], idle: [] }; // {x: at, y}
  let charts = null;
  let timer = null;
  let paused = false;
  let failing = false;

  const $ = (id) => ctx.root.querySelector(`#${id}`);
  const set = (id, text) => { $(id).textContent = text; };

  loadChart().then((Chart) => {
    if (!ctx.alive()) return;
    if (!Chart) {
      missing.hidden = false;
      missing.textContent = `Charts are not shown: the chart library did not load from ${CHART_JS_URL}. `
        + 'Install Debian\'s libjs-chart.js on the server (make deps does; nginx serves it from '
        + '/usr/share/javascript/chart.js/). The numbers below still update.';
      chartGrid.hidden = true;
      return;
    }
    charts = {
      rate: lineChart(Chart, rate.canvas, [{ label: 'requests/s', color: '#2457d6' }, { label: '4xx/5xx per s', color: '#c8203e' }]),
      errors: lineChart(Chart, errors.canvas, [{ label: 'errors %', color: '#c8203e' }], { unit: '%', max: 10 }),
      workers: lineChart(Chart, workers.canvas, [{ label: 'busy', color: '#b76e00' }, { label: 'idle', color: '#1f8a5b' }], { integers: true }),
    };
    drawCharts();
  });

  function drawCharts() {
    if (!charts || !history.length) return;
    const now = history[history.length - 1].at;
    const series = (list) => list.map((p) => ({ x: (p.x - now) / 1000, y: p.y }));
    const assign = (chart, lists) => {
      lists.forEach((list, i) => { chart.data.datasets[i].data = series(list); });
      chart.options.scales.x.min = -WINDOW_S;
      chart.options.scales.x.max = 0;
      chart.update('none');
    };
    assign(charts.rate, [points.rate, points.errors]);
    assign(charts.errors, [points.share]);
    assign(charts.workers, [points.busy, points.idle]);
  }

  function remember(now) {
    history.push(now);
    while (history.length > 2 && now.at - history[0].at > WINDOW_S * 1000) history.shift();
    for (const list of Object.values(points)) {
      while (list.length && now.at - list[0].x > WINDOW_S * 1000) list.shift();
    }
    points.busy.push({ x: now.at, y: now.busy });
    points.idle.push({ x: now.at, y: now.idle });
    if (history.length < 2) return null;
    const last = interval(history[history.length - 2], now);
    points.rate.push({ x: now.at, y: last.rate });
    points.errors.push({ x: now.at, y: last.errorRate });
    points.share.push({ x: now.at, y: last.errorShare === null ? null : last.errorShare * 100 });
    return last;
  }

  function latencyWindow(now) {
    const since = now.at - LATENCY_S * 1000;
    const start = history.find((r) => r.at >= since && r !== now) || history[history.length - 2];
    return start ? interval(start, now) : null;
  }

  function show(now, last) {
    set('dash-requests', count(now.requests));
    set('dash-errors', count(now.errors));
    set('dash-rps', last ? fixed(last.rate) : '—');
    set('dash-error-rate', last ? percent(last.errorShare) : '—');
    const running = now.slots.filter((s) => !s.retired && s.pid !== null).length;
    set('dash-workers-busy', `${count(now.busy)} of ${count(running || now.busy + now.idle)}`);
    set('dash-restarts', count(now.restarts));
    const looping = now.slots.filter((s) => s.crash_looping);
    set('dash-crash-looping', looping.length ? `${looping.length}: ${looping.map((s) => s.worker).join(', ')}` : 'none');
    $('dash-crash-looping').classList.toggle('error-text', looping.length > 0);

    if (last) {
      rate.canvas.setAttribute('aria-label', `Requests per second, last ${WINDOW_S / 60} minutes: now ${fixed(last.rate)}, errors ${fixed(last.errorRate)} per second`);
      errors.canvas.setAttribute('aria-label', `Error rate, last ${WINDOW_S / 60} minutes: now ${percent(last.errorShare)}`);
    }
    workers.canvas.setAttribute('aria-label', `Workers: ${now.busy} busy, ${now.idle} idle`);

    const recent = latencyWindow(now);
    const active = recent ? recent.services.filter((s) => s.requests > 0) : [];
    fillRows(servicesTable.querySelector('tbody'), SERVICE_COLUMNS, active.map((s) => {
      const buckets = now.services.get(s.name).buckets;
      const largest = buckets.length > 1 ? buckets[buckets.length - 2].le : null;
      return {
        attrs: { 'data-service': s.name, 'data-testid': 'dash-service-row' },
        cells: [h('strong', null, s.name), fixed(s.rate), count(s.errors),
          duration(s.p50, s.p50 === largest), duration(s.p95, s.p95 === largest)],
      };
    }), `No request in the last ${LATENCY_S} s.`);

    fillRows(workersTable.querySelector('tbody'), WORKER_COLUMNS, now.slots.map((s) => {
      let state;
      if (s.retired) state = badge('retired', 'neutral');
      else if (s.crash_looping) state = badge('crash-looping', 'failed');
      else if (s.pid === null) state = badge('restarting', 'neutral');
      else state = s.busy ? badge('busy', 'running') : badge('idle', 'succeeded');
      return {
        attrs: { 'data-worker': s.worker, 'data-testid': 'dash-worker-row' },
        cells: [h('code', { class: 'wrap' }, s.worker), s.pid === null ? '—' : String(s.pid), state,
          count(num(s.requests)), count(num(s.restarts))],
      };
    }));

    for (const panel of panels) {
      const samples = family(now.extra, panel.family);
      panel.card.hidden = samples === null;
      // Only when the data changed: a re-render would take the focus off a Reset button.
      const text = JSON.stringify(samples);
      if (samples !== null && text !== panel.shown) panel.render(samples, panel.body, panelContext);
      panel.shown = text;
    }
  }

  const panelContext = {
    async resetBreaker(name, button) {
      button.disabled = true;
      try {
        await api.request('POST', `/api/connections/${api.seg(name)}/breaker/reset`);
        // The next reading (within POLL_MS) shows the new state; the history stays.
        showNotice(`The circuit breaker of ${name} was reset.`);
      } catch (failure) {
        ctx.error(failure, `Resetting the breaker of ${name}`);
        button.disabled = false;
      }
    },
  };

  async function poll() {
    timer = null;
    if (!ctx.alive() || paused) return;
    try {
      const answer = await api.get('/api/stats');
      if (!ctx.alive()) return;
      const now = reading(answer.data, performance.now());
      const last = remember(now);
      show(now, last);
      drawCharts();
      failing = false;
      const clock = new Date().toLocaleTimeString('en-GB');
      updated.textContent = `Updated ${clock}, every ${POLL_MS / 1000} s.`;
    } catch (failure) {
      if (!ctx.alive()) return;
      if (!failing) ctx.error(failure, 'Reading the pool\'s counters');
      failing = true; // one alert per outage; the next success clears the stale mark
      updated.textContent = 'Not updated: the last read failed (see the message above). Trying again.';
    }
    if (ctx.alive() && !paused) timer = setTimeout(poll, POLL_MS);
  }

  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (paused) {
      if (timer) clearTimeout(timer);
      timer = null;
      updated.textContent = 'Paused.';
    } else {
      // A reading taken before the pause would make the next rate an average over the pause.
      history.length = 0;
      poll();
    }
  });

  ctx.onCleanup(() => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (charts) for (const chart of Object.values(charts)) chart.destroy();
    charts = null;
  });

  await poll();
}
