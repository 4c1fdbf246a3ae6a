// The two message regions of the page:
//   #alert  (role="alert")  every failure: code, HTTP status, message, each detail, reference;
//   #notice (role="status") confirmations ("Service created").
// Both are cleared when the route changes, except a notice "flashed" just before navigating.
// The regions stay in the DOM (hidden by CSS while empty, never with `hidden`/display:none
// toggled on the region itself) so screen readers announce the content when it is inserted.

import { h, replace } from './dom.js';
import { display } from './json.js';

const alertRegion = () => document.getElementById('alert');
const noticeRegion = () => document.getElementById('notice');

let flashed = null;

/** One line per detail: "parameter: problem", or "key: value · key: value" for other shapes
 *  (a failed procedure's details carry sqlstate, message, detail, hint). */
function detailItem(detail) {
  if (detail === null || typeof detail !== 'object') return h('li', null, display(detail));
  if ('parameter' in detail || 'problem' in detail) {
    return h('li', { class: 'detail' },
      h('code', null, display(detail.parameter ?? '')), ': ', display(detail.problem ?? ''));
  }
  const parts = Object.entries(detail).filter(([, v]) => v !== null && v !== '');
  return h('li', { class: 'detail' }, parts.map(([k, v], i) => [
    i ? ' · ' : null, h('span', { class: 'detail-key' }, k), ': ', display(v),
  ]));
}

/**
 * Shows a failure. `failure` is an ApiError ({status, error, executionId}) or any Error;
 * `context` says what was being done ("Creating the service"); `lead`, when given, is a
 * sentence shown first that explains the failure in the page's own words.
 */
export function showError(failure, context, lead) {
  const region = alertRegion();
  const error = failure && failure.error ? failure.error
    : { code: 'ERROR', message: failure && failure.message ? failure.message : String(failure) };
  const details = Array.isArray(error.details) ? error.details : [];
  const status = failure && failure.status ? failure.status : null;
  replace(region,
    h('div', { class: 'alert-body' },
      lead ? h('p', { class: 'alert-lead', 'data-testid': 'alert-lead' }, lead) : null,
      h('p', { class: 'alert-title' },
        context ? h('span', { class: 'alert-context' }, `${context} failed: `) : null,
        h('strong', { class: 'alert-code', 'data-testid': 'alert-code' }, display(error.code)),
        status ? h('span', { class: 'alert-status' }, ` (HTTP ${status})`) : null),
      h('p', { class: 'alert-message', 'data-testid': 'alert-message' }, display(error.message)),
      details.length ? h('ul', { class: 'alert-details', 'data-testid': 'alert-details' },
        details.map(detailItem)) : null,
      error.reference ? h('p', { class: 'alert-reference' }, 'Reference: ',
        h('a', { href: `#/errors/${encodeURIComponent(error.reference)}`, 'data-testid': 'alert-reference' },
          display(error.reference))) : null,
      failure && failure.executionId ? h('p', { class: 'alert-execution' }, 'Execution: ',
        h('a', { href: `#/executions/${encodeURIComponent(failure.executionId)}` }, failure.executionId)) : null),
    h('button', {
      type: 'button', class: 'alert-close', 'aria-label': 'Dismiss the message', onclick: clearAlert,
    }, '×'));
}

/** Shows a problem found by the page itself before calling the API (nothing was sent). */
export function showProblem(message, details = []) {
  showError({ error: { code: 'NOT_SENT', message, details } });
}

export function clearAlert() {
  alertRegion().replaceChildren();
}

export function showNotice(message) {
  const region = noticeRegion();
  replace(region, h('p', null, message),
    h('button', { type: 'button', class: 'alert-close', 'aria-label': 'Dismiss', onclick: clearNotice }, '×'));
}

export function clearNotice() {
  noticeRegion().replaceChildren();
}

/** A notice to show after the next navigation (which clears the regions first). */
export function flash(message) {
  flashed = message;
}

/** Called by the router when a route changes. */
export function resetMessages() {
  clearAlert();
  clearNotice();
  if (flashed) {
    showNotice(flashed);
    flashed = null;
  }
}
