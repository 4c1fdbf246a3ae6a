// #/services/new and #/services/NAME/edit — the service document as a form.
//
// The server checks the document against the target database's catalog (routine exists,
// parameters match) and reports every problem with its path; the page only shapes the JSON.

import * as api from '../api.js';
import { flash, clearAlert, showProblem } from '../alerts.js';
import { h, field } from '../dom.js';
import { parseExact, stringify } from '../json.js';
import { busy } from './service-actions.js';

const PARAMS_EXAMPLE = '[\n  {"name": "p_id", "type": "integer", "required": true, "minimum": 1}\n]';

/** A grid field two columns wide (one on phones). */
function span2(wrapper) {
  wrapper.classList.add('span-2');
  return wrapper;
}

export async function render(ctx, name) {
  const editing = name !== null;
  ctx.title(editing ? `Edit ${name}` : 'New service');
  const heading = h('h1', null, editing ? `Edit ${name}` : 'New service');
  ctx.root.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/services' }, 'Services'), ' / ',
      editing ? [h('a', { href: `#/services/${api.seg(name)}` }, name), ' / '] : null),
    heading);

  let connections;
  let policies;
  let existing = null;
  try {
    const calls = [api.get('/api/connections'), api.get('/api/retry-policies')];
    if (editing) calls.push(api.get(`/api/services/${api.seg(name)}`));
    const answers = await Promise.all(calls);
    connections = answers[0].data.items || [];
    policies = answers[1].data.items || [];
    existing = editing ? answers[2].data : null;
  } catch (failure) {
    ctx.error(failure, editing ? `Loading service ${name}` : 'Loading connections and retry policies');
    return;
  }
  if (!ctx.alive()) return;

  const nameInput = h('input', {
    id: 'svc-name', name: 'name', type: 'text', autocomplete: 'off', spellcheck: 'false',
    value: existing ? existing.name : '', readonly: editing, required: true,
    pattern: '[a-z][a-z0-9_\\-]{0,62}', maxlength: 63,
  });
  const description = h('textarea', {
    id: 'svc-description', name: 'description', rows: 2, value: existing ? existing.description || '' : '',
  });
  const connectionNames = connections.map((c) => c.name);
  if (existing && !connectionNames.includes(existing.connection)) connectionNames.push(existing.connection);
  const connection = h('select', {
    id: 'svc-connection', name: 'connection', required: true,
    value: existing ? existing.connection : connectionNames[0] || '',
  }, connectionNames.map((c) => h('option', { value: c }, c)));
  const procedure = h('input', {
    id: 'svc-procedure', name: 'procedure', type: 'text', autocomplete: 'off', spellcheck: 'false',
    required: true, placeholder: 'schema.function', value: existing ? existing.procedure : '',
  });
  const timeout = h('input', {
    id: 'svc-timeout', name: 'timeout_ms', type: 'number', min: 1, max: 3600000, step: 1,
    inputmode: 'numeric', placeholder: 'server default',
    value: existing && existing.timeout_ms !== null && existing.timeout_ms !== undefined
      ? String(existing.timeout_ms) : '',
  });
  const retry = h('select', {
    id: 'svc-retry', name: 'retry_policy', value: existing ? existing.retry_policy || '' : '',
  },
  h('option', { value: '' }, 'None (one attempt)'),
  policies.map((p) => h('option', { value: p.name },
    `${p.name} — up to ${p.max_attempts} attempt${p.max_attempts === 1 ? '' : 's'}`)));
  const enabled = h('input', {
    id: 'svc-enabled', name: 'enabled', type: 'checkbox', checked: existing ? existing.enabled : true,
  });
  const isPublic = h('input', {
    id: 'svc-public', name: 'public', type: 'checkbox', checked: existing ? existing.public === true : false,
  });

  // Parameters: discovered from the catalog (new services default to it) or edited as JSON.
  const discover = h('input', {
    id: 'svc-params-discover', type: 'radio', name: 'params-mode', value: 'discover', checked: !editing,
  });
  const manual = h('input', {
    id: 'svc-params-json', type: 'radio', name: 'params-mode', value: 'json', checked: editing,
  });
  const paramsText = h('textarea', {
    id: 'svc-params', name: 'parameters', rows: 10, spellcheck: 'false', class: 'mono',
    placeholder: PARAMS_EXAMPLE,
    value: existing ? stringify(existing.parameters || []) : '[]',
  });
  const paramsField = field('Parameters (JSON array)', paramsText,
    'Each: name, type, direction (IN/OUT/INOUT), required, default, minimum, maximum, maxLength, '
    + 'pattern, enum, description.');
  const syncMode = () => {
    paramsField.hidden = discover.checked;
    paramsText.disabled = discover.checked;
  };
  discover.addEventListener('change', syncMode);
  manual.addEventListener('change', syncMode);
  syncMode();

  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'svc-submit' },
    editing ? 'Save changes' : 'Create service');
  const form = h('form', { id: 'service-form', class: 'form card', novalidate: true },
    h('div', { class: 'grid' },
      field('Name', nameInput, editing ? 'The name is the service\'s URL: it cannot change.'
        : 'Lowercase letters, digits, _ or -, starting with a letter.'),
      span2(field('Procedure', procedure,
        'Schema-qualified; an overloaded routine needs its signature: demo.f(integer, text).')),
      field('Connection', connection, connections.length ? null : 'No connection is configured yet.'),
      field('Timeout (ms)', timeout, 'Covers every attempt and pause.'),
      field('Retry policy', retry),
      h('div', { class: 'field' },
        h('span', { class: 'field-label' }, 'Availability'),
        h('div', { class: 'field-inline check-row' }, enabled,
          h('label', { for: 'svc-enabled' }, 'Enabled: clients can call it')),
        h('div', { class: 'field-inline check-row' }, isPublic,
          h('label', { for: 'svc-public' }, 'Public: callable without an API key')))),
    field('Description', description),
    h('fieldset', { class: 'fieldset' },
      h('legend', null, 'Parameters'),
      h('div', { class: 'field-inline' }, discover,
        h('label', { for: 'svc-params-discover' }, 'Discover from the catalog')),
      h('div', { class: 'field-inline' }, manual,
        h('label', { for: 'svc-params-json' }, 'Edit as JSON')),
      paramsField),
    h('div', { class: 'actions' }, submit,
      h('a', { href: editing ? `#/services/${api.seg(name)}` : '#/services', class: 'btn btn-link' }, 'Cancel')));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearAlert();
    // Fields the form does not show (kind, future ones) are kept from the stored document,
    // and so is its version: the save is refused (409) if the service changed meanwhile.
    const doc = existing ? api.writableService(existing) : {};
    doc.name = nameInput.value.trim();
    doc.description = description.value;
    doc.connection = connection.value;
    doc.procedure = procedure.value.trim();
    doc.enabled = enabled.checked;
    doc.public = isPublic.checked;
    doc.retry_policy = retry.value || null;
    const timeoutText = timeout.value.trim();
    if (timeoutText === '') delete doc.timeout_ms;
    else doc.timeout_ms = /^\d+$/.test(timeoutText) ? Number(timeoutText) : timeoutText;
    if (discover.checked) {
      doc.parameters = 'discover';
    } else {
      let parsed;
      try {
        parsed = parseExact(paramsText.value.trim() || '[]');
      } catch (error) {
        showProblem('The parameters are not valid JSON.', [{ parameter: 'parameters', problem: error.message }]);
        paramsText.focus();
        return;
      }
      if (!Array.isArray(parsed)) {
        showProblem('The parameters must be a JSON array.', [{ parameter: 'parameters', problem: 'not an array' }]);
        paramsText.focus();
        return;
      }
      doc.parameters = parsed;
    }
    if (!doc.name) {
      showProblem('Give the service a name.', [{ parameter: 'name', problem: 'required' }]);
      nameInput.focus();
      return;
    }
    try {
      const { data: stored } = await busy(submit, editing ? 'Saving…' : 'Creating…', () => (editing
        ? api.put(`/api/services/${api.seg(name)}`, doc)
        : api.post('/api/services', doc)));
      flash(`Service ${stored.name} ${editing ? 'saved' : 'created'}`
        + ` with ${(stored.parameters || []).length} parameter(s).`);
      ctx.navigate(`#/services/${api.seg(stored.name)}`);
    } catch (failure) {
      if (editing && failure.status === 409) {
        ctx.error(failure, null, `Not saved: someone changed ${name} since this form was opened. `
          + 'Your edits are still in the form; open the service again to see the current version.');
      } else {
        ctx.error(failure, editing ? `Saving service ${name}` : 'Creating the service');
      }
    }
  });

  ctx.root.append(form);
}
