// Changes to a service shared by the list and the detail view.

import * as api from '../api.js';

/**
 * Flips `enabled` of a service. The API replaces a service as a whole (PUT with the full
 * document), so the current document is read first — never a stale copy from the list — and
 * written back with only `enabled` changed, carrying the version it was read at (a change made
 * in between is refused with 409, not overwritten). Resolves to the stored document.
 */
export async function toggleEnabled(name) {
  const { data: current } = await api.get(`/api/services/${api.seg(name)}`);
  const doc = api.writableService(current);
  doc.enabled = !current.enabled;
  const { data: stored } = await api.put(`/api/services/${api.seg(name)}`, doc);
  return stored;
}

/** Runs `action` with `button` disabled and showing `busyText` meanwhile. */
export async function busy(button, busyText, action) {
  const text = button.textContent;
  button.disabled = true;
  button.textContent = busyText;
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.textContent = text;
  }
}
