// Entry point: session (sign-in / sign-out), hash routing and the view lifecycle.
//
// Routes are hashes (#/services/NAME, #/executions?status=failed, ...) so the page is plain
// static files behind nginx and every view has a URL that survives a reload.
// Each navigation renders into a fresh container; a view gets a context whose `alive()` turns
// false as soon as the user navigates away or is signed out, so a late answer of an old
// request never writes an error over the current view.

import * as api from './api.js';
import { showError, resetMessages, clearAlert, showNotice } from './alerts.js';
import { h } from './dom.js';
import * as services from './views/services.js';
import * as serviceDetail from './views/service-detail.js';
import * as serviceForm from './views/service-form.js';
import * as connections from './views/connections.js';
import * as executions from './views/executions.js';
import * as executionDetail from './views/execution-detail.js';
import * as errors from './views/errors.js';
import * as dashboard from './views/dashboard.js';
import * as sagas from './views/sagas.js';
import * as sagaDetail from './views/saga-detail.js';

const routes = [
  [/^services$/, (ctx) => services.render(ctx)],
  [/^services\/new$/, (ctx) => serviceForm.render(ctx, null)],
  [/^services\/([^/]+)\/edit$/, (ctx, name) => serviceForm.render(ctx, name)],
  [/^services\/([^/]+)$/, (ctx, name) => serviceDetail.render(ctx, name)],
  [/^executions$/, (ctx) => executions.render(ctx)],
  [/^executions\/([^/]+)$/, (ctx, id) => executionDetail.render(ctx, id)],
  [/^connections$/, (ctx) => connections.render(ctx)],
  [/^errors$/, (ctx) => errors.render(ctx, null)],
  [/^errors\/([^/]+)$/, (ctx, reference) => errors.render(ctx, reference)],
  [/^dashboard$/, (ctx) => dashboard.render(ctx)],
  [/^sagas$/, (ctx) => sagas.render(ctx)],
  [/^sagas\/([^/]+)$/, (ctx, id) => sagaDetail.render(ctx, id)],
];

const DEFAULT_ROUTE = '#/services';

let generation = 0; // bumped on every navigation and on sign-out
let cleanups = [];

const $ = (id) => document.getElementById(id);

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, '');
  const mark = raw.indexOf('?');
  const path = mark < 0 ? raw : raw.slice(0, mark);
  const query = new URLSearchParams(mark < 0 ? '' : raw.slice(mark + 1));
  return { path: path.replace(/\/+$/, ''), query };
}

function runCleanups() {
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch (error) {
      console.error(error); // a failing cleanup must not block navigation
    }
  }
  cleanups = [];
}

function highlightNav(path) {
  const top = path.split('/')[0];
  for (const link of document.querySelectorAll('#nav a[data-route]')) {
    if (link.dataset.route === top) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function route({ focus = true } = {}) {
  if (!api.getKey()) {
    showSignedOut();
    return;
  }
  if (!window.location.hash.startsWith('#/')) {
    window.location.replace(DEFAULT_ROUTE);
    return;
  }
  runCleanups();
  const mine = ++generation;
  resetMessages();
  const { path, query } = parseHash();
  highlightNav(path);

  const root = h('div', { class: 'view', 'aria-busy': 'true' });
  $('view').replaceChildren(root);

  const ctx = {
    root,
    query,
    alive: () => mine === generation,
    onCleanup: (fn) => cleanups.push(fn),
    title: (text) => { document.title = `${text} · SPOrchestrator admin`; },
    /** Shows a failure unless the user has moved on (or was signed out). */
    error: (failure, context, lead) => {
      if (mine === generation) showError(failure, context, lead);
    },
    navigate: (hash) => {
      if (window.location.hash === hash) route();
      else window.location.hash = hash;
    },
    /** Re-renders the current route (e.g. after a change), keeping flashed notices. */
    refresh: () => route({ focus: false }),
    /** Updates the URL's query without re-rendering (filters typed into a view). */
    setQuery: (params) => {
      const qs = new URLSearchParams();
      for (const [name, value] of Object.entries(params)) if (value) qs.set(name, value);
      const text = qs.toString();
      window.history.replaceState(null, '', `#/${path}${text ? `?${text}` : ''}`);
    },
  };

  let handler = null;
  let match = null;
  for (const [pattern, fn] of routes) {
    match = pattern.exec(path);
    if (match) {
      handler = fn;
      break;
    }
  }
  try {
    if (!handler) {
      ctx.title('Not found');
      root.append(h('h1', { tabindex: '-1' }, 'Page not found'),
        h('p', null, 'No page at this address. ', h('a', { href: DEFAULT_ROUTE }, 'Go to the services.')));
    } else {
      await handler(ctx, ...match.slice(1).map(decodeURIComponent));
    }
  } catch (failure) {
    ctx.error(failure, 'Loading the page');
  } finally {
    root.removeAttribute('aria-busy');
  }
  // Move focus to the new view's heading, so keyboard and screen-reader users start there.
  if (focus && ctx.alive()) {
    const heading = root.querySelector('h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
  }
}

// ------------------------------------------------------------------------------------------
// Session
// ------------------------------------------------------------------------------------------

/** The public part of a key (spo_1a2b3c4d): safe to show, it only finds the key's record. */
function keyPrefix(key) {
  const match = /^(spo_[0-9a-f]+)_/.exec(key);
  return match ? match[1] : 'API key';
}

function showSignedIn() {
  $('signin').hidden = true;
  $('nav').hidden = false;
  $('session').hidden = false;
  $('view').hidden = false;
  $('session-key').textContent = keyPrefix(api.getKey() || '');
}

function showSignedOut() {
  runCleanups();
  generation += 1; // pending requests of the old session must not write into the page
  $('view').replaceChildren();
  $('view').hidden = true;
  $('nav').hidden = true;
  $('session').hidden = true;
  $('session-key').textContent = '';
  $('signin').hidden = false;
  document.title = 'Sign in · SPOrchestrator admin';
  $('signin-key').focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = $('signin-key');
  const button = $('signin-submit');
  const key = input.value.trim();
  clearAlert();
  if (!key) {
    showError({ error: { code: 'NOT_SENT', message: 'Enter an API key.' } });
    input.focus();
    return;
  }
  button.disabled = true;
  button.textContent = 'Signing in…';
  try {
    // An admin endpoint: 200 proves the key is valid and is an admin key.
    await api.get('/api/services', { key });
    api.setKey(key);
    input.value = '';
    showSignedIn();
    route();
  } catch (failure) {
    if (failure.status === 401) {
      showError(failure, null, 'Sign-in failed: this API key is not valid (unknown, mistyped or revoked).');
    } else if (failure.status === 403) {
      showError(failure, null,
        'Sign-in failed: this key is valid but it is not an admin key. The admin page needs a key '
        + 'created with --role admin.');
    } else {
      showError(failure, 'Signing in');
    }
    input.focus();
    input.select();
  } finally {
    button.disabled = false;
    button.textContent = 'Sign in';
  }
}

function signOut() {
  api.clearKey();
  showSignedOut();
  resetMessages();
  showNotice('Signed out. The key was removed from this tab.');
}

api.onUnauthorized((failure) => {
  if (!api.getKey()) return;
  api.clearKey();
  showSignedOut();
  showError(failure, null,
    'You were signed out: the API no longer accepts this key (revoked or invalid). Sign in again.');
});

function start() {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  // The skip link targets #main, which is not a route: focus main without touching the hash.
  $('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    $('main').focus();
  });
  window.addEventListener('hashchange', () => route());
  if (api.getKey()) {
    showSignedIn();
    route({ focus: false });
  } else {
    showSignedOut();
  }
}

start();
