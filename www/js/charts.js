// Line charts with Chart.js: Debian's libjs-chart.js, which nginx serves from the package's own
// directory (/usr/share/javascript/chart.js/ at /javascript/chart.js/), never a copy in www/.
// The library is loaded on first use; when it is missing the promise resolves to null and the
// dashboard says so, showing its numbers without charts.

export const CHART_JS_URL = '/javascript/chart.js/chart.esm.js';

let loading = null;

/** Chart.js's Chart class, registered with its controllers and scales, or null when it cannot load. */
export function loadChart() {
  if (!loading) {
    loading = import(CHART_JS_URL).then((module) => {
      module.Chart.register(...module.registerables);
      return module.Chart;
    }).catch((error) => {
      console.warn(`Chart.js did not load from ${CHART_JS_URL}: ${error.message}`);
      loading = null; // try again on the next visit: the package may have been installed meanwhile
      return null;
    });
  }
  return loading;
}

/**
 * A line chart over time on `canvas`: `series` is [{label, color}]; x values are seconds before
 * now (negative), so the axis reads "-300 … 0 s" whatever the clock.
 */
export function lineChart(Chart, canvas, series, { unit = '', max, integers = false } = {}) {
  return new Chart(canvas, {
    type: 'line',
    data: {
      datasets: series.map((s) => ({
        label: s.label,
        data: [],
        borderColor: s.color,
        backgroundColor: s.color,
        borderWidth: 2,
        pointRadius: 0,
        tension: 0, // curves would overshoot below zero between readings
        spanGaps: false, // null: no request in that interval, so no share to draw
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: {
        x: { type: 'linear', title: { display: true, text: 'seconds ago' }, ticks: { callback: (v) => `${-v}` } },
        y: {
          beginAtZero: true, suggestedMax: max, title: { display: Boolean(unit), text: unit },
          ticks: integers ? { precision: 0 } : {},
        },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  });
}
