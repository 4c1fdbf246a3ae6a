// Turning what the user typed in a "Try it" input into the JSON value of a parameter.
//
// The page does not validate like the server does (the server reports every problem at once,
// with the parameter's name); it only chooses the JSON type the server expects, so that
// "42" typed for an integer is sent as 42, "true" for a boolean as true, and [1, 2] for an
// integer[] as an array. Numbers are sent with their exact digits (see json.js).

import { isNumberLiteral, numberLiteral, parseExact } from './json.js';

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint', 'int', 'int2', 'int4', 'int8']);
const DECIMAL_TYPES = new Set(['numeric', 'decimal', 'real', 'double precision', 'float4', 'float8']);
const JSON_TYPES = new Set(['json', 'jsonb']);

/** "varchar(20)" → "varchar"; "numeric(10,2)" → "numeric"; lower case. */
export function baseType(type) {
  return String(type || '').toLowerCase().replace(/\(.*\)/, '').trim();
}

/** How the page asks for a value of `type`: 'boolean' | 'json' | 'integer' | 'decimal' | 'text'. */
export function inputKind(type) {
  const base = baseType(type);
  if (base.endsWith('[]') || JSON_TYPES.has(base)) return 'json';
  if (base === 'boolean' || base === 'bool') return 'boolean';
  if (INTEGER_TYPES.has(base)) return 'integer';
  if (DECIMAL_TYPES.has(base)) return 'decimal';
  return 'text';
}

/** Whether the parameter is sent by the client (OUT parameters are results, not inputs). */
export function isInput(param) {
  return String(param.direction || 'IN').toUpperCase() !== 'OUT';
}

/**
 * The JSON value for `text` typed for `param`:
 *   {omit: true}            empty input: leave the parameter out (its default applies);
 *   {value}                 the value to send;
 *   {problem}               the page cannot build a value (e.g. malformed JSON): not sent.
 */
export function coerce(param, text) {
  const kind = inputKind(param.type);
  if (text === undefined || text === null || text.trim() === '') return { omit: true };
  switch (kind) {
    case 'boolean':
      if (text === 'true') return { value: true };
      if (text === 'false') return { value: false };
      return { value: text };
    case 'integer': {
      const trimmed = text.trim();
      // BigInt normalises "+007" to "7" and keeps every digit of a bigint.
      if (/^[+-]?\d+$/.test(trimmed)) return { value: numberLiteral(BigInt(trimmed).toString()) };
      return { value: text }; // not an integer: the server says why
    }
    case 'decimal': {
      const trimmed = text.trim();
      if (isNumberLiteral(trimmed)) return { value: numberLiteral(trimmed) };
      return { value: text };
    }
    case 'json': {
      let value;
      try {
        value = parseExact(text);
      } catch (error) {
        return { problem: `is not valid JSON (${error.message})` };
      }
      if (baseType(param.type).endsWith('[]') && !Array.isArray(value)) {
        return { problem: 'must be a JSON array, e.g. [1, 2, 3]' };
      }
      return { value };
    }
    default:
      return { value: text };
  }
}

/**
 * The request body for the typed values: {body} or {problems: [{parameter, problem}]}.
 * `values` maps parameter names to the typed text.
 */
export function buildBody(parameters, values) {
  const body = {};
  const problems = [];
  for (const param of parameters.filter(isInput)) {
    const result = coerce(param, values[param.name]);
    if (result.problem) problems.push({ parameter: param.name, problem: result.problem });
    else if (!result.omit) body[param.name] = result.value;
  }
  return problems.length ? { problems } : { body };
}
