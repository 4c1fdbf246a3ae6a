// The JSON API client: the page calls the same /api/ endpoints as any client, with the key
// as a Bearer token. Errors come back as ApiError carrying the API's error object
// ({code, message, reference?, details?}), or a synthetic one for network failures and
// non-JSON answers (e.g. nginx's own 502 page), so the alert region can show every failure
// the same way.

import { parseExact, stringify } from './json.js';

const STORAGE_KEY = 'spo.apiKey';

/** The key of this browser tab (sessionStorage: gone when the tab closes). */
export function getKey() {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function setKey(key) {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function clearKey() {
  sessionStorage.removeItem(STORAGE_KEY);
}

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: no answer)
   * @param {{code: string, message: string, reference?: string, details?: object[]}} error
   * @param {string|null} executionId X-Execution-ID of the answer, when the call was audited
   * @param {string} text the raw body
   */
  constructor(status, error, executionId = null, text = '') {
    super(error.message || error.code);
    this.name = 'ApiError';
    this.status = status;
    this.error = error;
    this.executionId = executionId;
    this.text = text;
  }
}

let unauthorizedHandler = null;

/** Called (once per failing call) when the API answers 401 to the stored key. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/**
 * One API call. Options: `query` (object; empty values dropped), `body` (a value, sent as exact
 * JSON), `key` (a key to try instead of the stored one: sign-in; a 401 then does not sign out).
 * Resolves to {status, data, text, executionId}; rejects with ApiError.
 */
export async function request(method, path, { query, body, key } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
  }
  const apiKey = key ?? getKey();
  const headers = { Accept: 'application/json' };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : stringify(body, true);
  }

  let response;
  try {
    response = await fetch(url, init);
  } catch (cause) {
    throw new ApiError(0, {
      code: 'NETWORK_ERROR',
      message: `Could not reach the API (${method} ${url.pathname}): ${cause.message}. `
        + 'Check that the server is running and that this browser can reach it.',
    });
  }

  const text = await response.text();
  const executionId = response.headers.get('X-Execution-ID');
  let data = null;
  let parsed = false;
  if (text) {
    try {
      data = parseExact(text);
      parsed = true;
    } catch {
      parsed = false;
    }
  }

  if (!response.ok) {
    const error = parsed && data && typeof data.error === 'object' && data.error
      ? data.error
      : {
        code: `HTTP_${response.status}`,
        message: `${method} ${url.pathname} answered ${response.status} ${response.statusText} `
          + 'without the API\'s JSON error body (is the worker pool running behind nginx?)',
      };
    const failure = new ApiError(response.status, error, executionId, text);
    if (response.status === 401 && key === undefined && unauthorizedHandler) unauthorizedHandler(failure);
    throw failure;
  }
  if (text && !parsed) {
    throw new ApiError(response.status, {
      code: 'BAD_RESPONSE',
      message: `${method} ${url.pathname} answered ${response.status} with a body that is not JSON`,
    }, executionId, text);
  }
  return { status: response.status, data, text, executionId };
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, body, options) => request('POST', path, { ...options, body });
export const put = (path, body, options) => request('PUT', path, { ...options, body });
export const del = (path, options) => request('DELETE', path, options);

/** Path segment for a name or id taken from the page or the API. */
export const seg = (value) => encodeURIComponent(value);

/** Fields the server adds to a service document (PUT ignores them; dropped to keep bodies clean). */
const SERVER_ONLY = ['id', 'result_shape'];

/**
 * A service document as returned by GET, made fit for PUT. `version` is kept on purpose: the
 * server then replaces the service only if nobody changed it since it was read, and answers
 * 409 CONFLICT otherwise (optimistic concurrency), so a page never overwrites a newer edit.
 */
export function writableService(doc) {
  const copy = { ...doc };
  for (const name of SERVER_ONLY) delete copy[name];
  return copy;
}
