// Exact JSON for the page.
//
// The API keeps every digit of a number (bigint max, 29-digit numerics, bounds such as 0.10).
// JSON.parse would round them through a double, so a response shown to the user, or a service
// document read and written back by the page (enable/disable toggle), would silently change.
// Instead, a number whose text a double cannot reproduce is kept as JSON.rawJSON(source):
// JSON.stringify writes such a value back verbatim. Browsers without JSON.rawJSON / the reviver
// `context` argument fall back to ordinary numbers (lossy only for such numbers).

const hasRaw = typeof JSON.rawJSON === 'function' && typeof JSON.isRawJSON === 'function';

function reviver(_key, value, context) {
  if (hasRaw && typeof value === 'number' && context && typeof context.source === 'string'
      && String(value) !== context.source) {
    return JSON.rawJSON(context.source);
  }
  return value;
}

/** JSON.parse, keeping the exact text of numbers a double would change. */
export function parseExact(text) {
  return JSON.parse(text, reviver);
}

/** JSON text of a value (pretty with two-space indent unless `compact`). */
export function stringify(value, compact = false) {
  return compact ? JSON.stringify(value) : JSON.stringify(value, null, 2);
}

/** Whether `value` is an exact number kept as raw JSON text. */
export function isRaw(value) {
  return hasRaw && value !== null && typeof value === 'object' && JSON.isRawJSON(value);
}

/**
 * The value to send for a number typed as `text`: a JSON number with exactly these digits.
 * Without JSON.rawJSON, a number a double would change is sent as a string instead (the API
 * accepts numeric strings for numeric parameters), so no digit is lost either way.
 */
export function numberLiteral(text) {
  if (String(Number(text)) === text) return Number(text);
  return hasRaw ? JSON.rawJSON(text) : text;
}

/** A scalar for display: exact numbers show their source text; objects show as compact JSON. */
export function display(value) {
  if (value === null || value === undefined) return '';
  if (isRaw(value)) return value.rawJSON;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Whether `text` is a JSON number literal. */
export function isNumberLiteral(text) {
  return JSON_NUMBER.test(text);
}
