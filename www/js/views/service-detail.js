// #/services/NAME — one service: its definition, parameters, "Try it", enable/disable, delete.

import * as api from '../api.js';
import { flash, showError, clearAlert, showProblem } from '../alerts.js';
import { h, badge, dl, pre, section, table, field, replace, ms } from '../dom.js';
import { display, parseExact, stringify } from '../json.js';
import { buildBody, inputKind, isInput } from '../params.js';
import { busy, toggleEnabled } from './service-actions.js';

export async function render(ctx, name) {
  ctx.title(name);
  let doc;
  try {
    ({ data: doc } = await api.get(`/api/services/${api.seg(name)}`));
  } catch (failure) {
    ctx.root.append(h('h1', null, name),
      h('p', null, h('a', { href: '#/services' }, '← All services')));
    ctx.error(failure, `Loading service ${name}`);
    return;
  }
  if (!ctx.alive()) return;

  const toggle = h('button', { type: 'button', class: 'btn', id: 'svc-toggle' },
    doc.enabled ? 'Disable' : 'Enable');
  toggle.addEventListener('click', async () => {
    try {
      const stored = await busy(toggle, doc.enabled ? 'Disabling…' : 'Enabling…', () => toggleEnabled(name));
      flash(`Service ${stored.name} ${stored.enabled ? 'enabled' : 'disabled'}.`);
      ctx.refresh();
    } catch (failure) {
      ctx.error(failure, `Changing service ${name}`);
    }
  });

  const remove = deleteControl(ctx, name);
  ctx.root.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/services' }, 'Services'), ' / '),
    h('div', { class: 'page-head' },
      h('h1', { id: 'svc-title' }, doc.name, ' ',
        badge(doc.enabled ? 'enabled' : 'disabled')),
      h('div', { class: 'page-actions' },
        h('a', { href: `#/services/${api.seg(name)}/edit`, class: 'btn', id: 'svc-edit' }, 'Edit'),
        toggle,
        remove.button)),
    remove.panel,
    doc.description
      ? h('p', { class: 'lede', id: 'svc-description-text' }, doc.description)
      : h('p', { class: 'lede muted', id: 'svc-description-text' }, 'No description.'),
    section('Definition', { id: 'svc-definition' },
      h('p', { class: 'endpoint' }, h('span', { class: 'method' }, 'POST'),
        h('code', { id: 'svc-endpoint' }, `/api/services/${doc.name}/execute`)),
      dl([
        ['Procedure', h('code', null, doc.procedure)],
        ['Connection', doc.connection],
        ['Result shape', doc.result_shape],
        ['Kind', doc.kind],
        ['Access', h('span', { id: 'svc-access' },
          doc.public ? 'public: anyone may call it without an API key' : 'API key with a grant for it')],
        ['Timeout', doc.timeout_ms === undefined || doc.timeout_ms === null ? null : ms(doc.timeout_ms)],
        ['Retry policy', doc.retry_policy || h('span', { class: 'muted' }, 'none (one attempt)')],
        ['Version', doc.version],
        ['Executions', h('a', { href: `#/executions?service=${api.seg(doc.name)}`, id: 'svc-executions' },
          'Show executions')],
      ], 'svc-props')),
    section('Parameters', { id: 'svc-parameters' }, parametersTable(doc.parameters || [])),
    tryIt(ctx, doc),
  );
}

function constraints(param) {
  const parts = [];
  if (param.minimum !== undefined && param.minimum !== null) parts.push(`≥ ${display(param.minimum)}`);
  if (param.maximum !== undefined && param.maximum !== null) parts.push(`≤ ${display(param.maximum)}`);
  if (param.maxLength !== undefined && param.maxLength !== null) {
    parts.push(`at most ${display(param.maxLength)} chars`);
  }
  if (param.pattern) parts.push(`matches ${param.pattern}`);
  if (Array.isArray(param.enum)) parts.push(`one of ${param.enum.map(display).join(', ')}`);
  return parts.join('; ');
}

function parametersTable(parameters) {
  const columns = [
    { label: 'Name' }, { label: 'Type' }, { label: 'Direction' }, { label: 'Required' },
    { label: 'Default' }, { label: 'Constraints' }, { label: 'Description', class: 'col-wide' },
  ];
  return table({
    id: 'params-table',
    columns,
    caption: 'Parameters',
    empty: 'This service takes no parameters.',
    rows: parameters.map((p) => ({
      attrs: { 'data-param': p.name },
      cells: [
        h('code', null, p.name),
        h('code', null, p.type),
        p.direction || 'IN',
        p.required ? 'yes' : 'no',
        p.default === undefined ? '' : h('code', null, display(p.default)),
        constraints(p),
        p.description || '',
      ],
    })),
  });
}

/** Delete, behind an inline confirmation (no window.confirm: it blocks and cannot be styled).
 *  Returns the button (for the page's actions) and the panel (shown below the heading). */
function deleteControl(ctx, name) {
  const ask = h('button', {
    type: 'button', class: 'btn btn-danger-outline', id: 'svc-delete',
    'aria-expanded': 'false', 'aria-controls': 'svc-delete-panel',
  }, 'Delete…');
  const confirmButton = h('button', { type: 'button', class: 'btn btn-danger', id: 'svc-delete-confirm' },
    `Delete ${name}`);
  const cancel = h('button', { type: 'button', class: 'btn', id: 'svc-delete-cancel' }, 'Cancel');
  const panel = h('div', {
    class: 'confirm', id: 'svc-delete-panel', role: 'group', 'aria-label': 'Confirm deletion', hidden: true,
  },
    h('p', null, `Delete service ${name}? Clients calling it will get SERVICE_NOT_FOUND. `
      + 'Its execution history is kept.'),
    h('div', { class: 'actions' }, confirmButton, cancel));
  ask.addEventListener('click', () => {
    panel.hidden = false;
    ask.setAttribute('aria-expanded', 'true');
    cancel.focus();
  });
  cancel.addEventListener('click', () => {
    panel.hidden = true;
    ask.setAttribute('aria-expanded', 'false');
    ask.focus();
  });
  confirmButton.addEventListener('click', async () => {
    try {
      await busy(confirmButton, 'Deleting…', () => api.del(`/api/services/${api.seg(name)}`));
      flash(`Service ${name} deleted.`);
      ctx.navigate('#/services');
    } catch (failure) {
      ctx.error(failure, `Deleting service ${name}`);
    }
  });
  return { button: ask, panel };
}

/** One labelled input per input parameter, typed by the parameter's type. */
function parameterInput(param) {
  const id = `try-${param.name}`;
  const kind = inputKind(param.type);
  const placeholder = param.default !== undefined ? `default: ${display(param.default)}`
    : (param.required ? '' : 'optional');
  let control;
  if (kind === 'boolean') {
    control = h('select', { id, name: param.name },
      h('option', { value: '' }, param.required ? '— choose —' : '— omit —'),
      h('option', { value: 'true' }, 'true'),
      h('option', { value: 'false' }, 'false'));
  } else if (kind === 'json') {
    control = h('textarea', {
      id, name: param.name, rows: 3, spellcheck: 'false', class: 'mono',
      placeholder: param.type.endsWith('[]') ? 'JSON array, e.g. [1, 2]' : 'JSON, e.g. {"a": 1}',
    });
  } else {
    control = h('input', {
      id, name: param.name, type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder,
      inputmode: kind === 'integer' ? 'numeric' : (kind === 'decimal' ? 'decimal' : null),
    });
  }
  if (param.required) control.setAttribute('aria-required', 'true');
  const label = [h('code', null, param.name), ' ', h('span', { class: 'type' }, param.type),
    param.required ? h('span', { class: 'required' }, ' required') : null];
  return field(label, control, param.description || null);
}

function tryIt(ctx, doc) {
  const inputs = (doc.parameters || []).filter(isInput);
  const status = h('p', { class: 'try-status', id: 'try-status', 'aria-live': 'polite' });
  const output = h('div', { class: 'try-output', id: 'try-output', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'try-submit' }, 'Execute');
  const form = h('form', { id: 'try-form', class: 'form', novalidate: true },
    inputs.length ? h('div', { class: 'grid' }, inputs.map(parameterInput))
      : h('p', { class: 'muted' }, 'No input parameters: the call sends {}.'),
    h('div', { class: 'actions' }, submit, status));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearAlert();
    const values = Object.fromEntries(inputs.map((p) => [p.name, form.elements.namedItem(p.name).value]));
    const built = buildBody(inputs, values);
    if (built.problems) {
      showProblem('Some values cannot be sent as typed.', built.problems);
      return;
    }
    const requestText = stringify(built.body);
    status.textContent = 'Running…';
    output.hidden = true;
    const started = performance.now();
    let result;
    try {
      const answer = await busy(submit, 'Executing…',
        () => api.post(`/api/services/${api.seg(doc.name)}/execute`, built.body));
      result = { ok: true, status: answer.status, data: answer.data, executionId: answer.data.execution_id };
    } catch (failure) {
      if (!ctx.alive()) return;
      showError(failure, `Executing ${doc.name}`);
      if (failure.status === 0) {
        status.textContent = '';
        return;
      }
      // An audited failure still names its execution (X-Execution-ID): link it too.
      result = { ok: false, status: failure.status, failure, executionId: failure.executionId };
    }
    if (!ctx.alive()) return;
    const elapsed = performance.now() - started;
    status.replaceChildren(
      result.ok ? badge('succeeded') : badge(display(result.failure.error.code), 'failed'),
      ` HTTP ${result.status} · ${Math.round(elapsed)} ms round trip`);
    const shown = result.ok ? stringify(result.data)
      : (result.failure.text && tryPretty(result.failure.text)) || result.failure.message;
    replace(output,
      h('h3', null, 'Response'),
      pre(shown, { id: 'try-result', tabindex: '0' }),
      result.executionId
        ? h('p', null, h('a', {
          href: `#/executions/${api.seg(result.executionId)}`, id: 'try-execution-link', class: 'strong',
        }, `Execution ${result.executionId} →`))
        : null,
      h('details', { class: 'request' }, h('summary', null, 'Request body sent'),
        pre(requestText, { id: 'try-request' })));
    output.hidden = false;
  });

  return section('Try it', { id: 'try' },
    h('p', { class: 'muted' }, 'Runs the service for real, as your key, and records an execution. '
      + 'Empty inputs are left out, so the procedure\'s own default applies.'),
    form, output);
}

/** The error body re-indented (parsed exactly, so it shows what the server sent). */
function tryPretty(text) {
  try {
    return stringify(parseExact(text));
  } catch {
    return text;
  }
}
