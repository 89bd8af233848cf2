// The console shell: signing in and out, the header, the server clock, and routing the hash to the apps, webhooks, Pages, inbox and (the operator's) privacy audit views.

import { ApiError, Console, login, saveToken, savedToken } from './api.js';
import { appView, appsView } from './apps.js';
import { inboxView, inboxesView } from './inbox.js';
import { pageView, pagesView } from './pages.js';
import { privacyAuditView } from './privacy.js';
import { webhooksView } from './webhooks.js';
import { h, append, replace, field, statusLine, say, act, describe, section, formatTime, formatDuration } from './dom.js';

export const main = document.getElementById('main');
export const session = { api: null, operator: false, person: null, clock: null };
/** Timers of the current view, stopped when the view changes. */
let viewTimers = [];

// ---- session ----

async function start() {
  document.getElementById('sign-out').addEventListener('click', signOut);
  setUpClock();
  const token = savedToken();
  if (!token) return showSignIn();
  session.api = new Console(token);
  try {
    const me = await session.api.me();
    session.operator = me.operator;
    session.person = me.person;
  } catch (error) {
    saveToken(null);
    return showSignIn(error instanceof ApiError && error.status === 401 ? 'Your session has ended; sign in again.' : describe(error));
  }
  signedIn();
}

function signedIn() {
  const who = document.getElementById('who');
  replace(who, session.operator ? 'Signed in as the operator' : `Signed in as ${session.person.name} (${session.person.login})`);
  document.getElementById('nav').hidden = false;
  document.getElementById('nav-privacy-item').hidden = !session.operator;
  refreshClock();
  window.addEventListener('hashchange', route);
  route();
}

async function signOut() {
  // The server ends the session (the operator credential is not a session, and stays).
  if (session.api && !session.operator) await session.api.logout().catch(() => {});
  saveToken(null);
  location.hash = '';
  location.reload();
}

function showSignIn(message) {
  document.title = 'Sign in · Switchboard Console';
  const line = statusLine('sign-in-status');
  const loginInput = h('input', { id: 'login', name: 'login', autocomplete: 'username', required: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const signInButton = h('button', { type: 'submit', text: 'Sign in', id: 'sign-in' });
  const form = h('form', { class: 'stack', id: 'sign-in-form' }, field('Login', loginInput), field('Password', password), signInButton);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(signInButton, line, async () => {
      const answer = await login(loginInput.value.trim(), password.value);
      await useToken(answer.access_token);
    });
  });
  const tokenInput = h('input', { id: 'operator-token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const tokenButton = h('button', { type: 'submit', text: 'Use credential', class: 'secondary', id: 'use-token' });
  const tokenForm = h('form', { class: 'stack', id: 'token-form' }, field('Operator credential or access token', tokenInput, 'Printed once by the server on its first start.'), tokenButton);
  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    act(tokenButton, line, () => useToken(tokenInput.value.trim()));
  });
  replace(main,
    h('h1', { text: 'Sign in to the console', tabindex: '-1' }),
    line,
    h('div', { class: 'columns' },
      section('With your login', 'sign-in-person', form),
      section('As the operator', 'sign-in-operator', tokenForm)));
  if (message) say(line, message, 'error');
  loginInput.focus();
}

async function useToken(token) {
  const api = new Console(token);
  const me = await api.me();
  saveToken(token);
  Object.assign(session, { api, operator: me.operator, person: me.person });
  signedIn();
}

// ---- the clock ----

function setUpClock() {
  const move = (ms, button) => act(button, document.getElementById('clock-status'), async () => {
    const answer = await session.api.moveClock(ms);
    session.clock = { now: answer.now, virtual: true, at: performance.now() };
    showClock();
    say(document.getElementById('clock-status'), `The clock moved forward by ${formatDuration(ms)}.`);
    window.dispatchEvent(new Event('clockmoved'));
  });
  document.getElementById('clock-1h').addEventListener('click', (e) => move(3600000, e.currentTarget));
  document.getElementById('clock-25h').addEventListener('click', (e) => move(25 * 3600000, e.currentTarget));
  const form = document.getElementById('clock-form');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const amount = Number(form.amount.value) * Number(form.unit.value);
    if (!(amount > 0)) return say(document.getElementById('clock-status'), 'Enter an amount above zero.', 'error');
    move(Math.round(amount), form.querySelector('button[type="submit"]'));
  });
  setInterval(showClock, 1000);
  setInterval(refreshClock, 30000);
}

/** The server's time now, as last read and moved on by the time elapsed here. */
export function serverNow() {
  if (!session.clock) return Date.now();
  return session.clock.now + (performance.now() - session.clock.at);
}

async function refreshClock() {
  if (!session.api) return;
  try {
    const clock = await session.api.clock();
    session.clock = { now: clock.now, virtual: clock.virtual, at: performance.now() };
    showClock();
  } catch (error) {
    say(document.getElementById('clock-status'), `The clock cannot be read: ${describe(error)}`, 'error');
  }
}

function showClock() {
  if (!session.clock) return;
  const now = Math.floor(serverNow());
  document.getElementById('clock').hidden = false;
  const time = document.getElementById('clock-now');
  time.dateTime = new Date(now).toISOString();
  time.dataset.ms = String(now);
  time.textContent = formatTime(now);
  document.getElementById('clock-kind').textContent = session.clock.virtual ? 'virtual' : 'real';
  document.getElementById('clock-controls').hidden = !(session.clock.virtual && session.operator);
}

// ---- routing ----

function route() {
  const hash = location.hash;
  if (hash && !hash.startsWith('#/')) return; // the skip link
  for (const timer of viewTimers) clearInterval(timer);
  viewTimers = [];
  const parts = hash.slice(2).split('/').filter(Boolean).map(decodeURIComponent);
  for (const link of document.querySelectorAll('#nav a[href^="#/"]')) {
    if (link.getAttribute('href') === `#/${parts[0] || 'apps'}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const [kind, id, sub] = parts;
  if (kind === 'inbox' && id) return inboxView(id, sub);
  if (kind === 'inbox') return inboxesView();
  if (kind === 'pages' && id) return pageView(id);
  if (kind === 'pages') return pagesView();
  if (kind === 'privacy') return privacyAuditView();
  if (kind === 'apps' && id && sub === 'webhooks') return webhooksView(id);
  if (kind === 'apps' && id) return appView(id);
  return appsView();
}

/** Starts a view: its heading, focused so that keyboard and reader users land there. */
export function view(title, ...children) {
  document.title = `${title} · Switchboard Console`;
  const heading = h('h1', { text: title, tabindex: '-1', id: 'view-title' });
  replace(main, heading, children);
  heading.focus({ preventScroll: true });
  return heading;
}

export function every(ms, work) {
  viewTimers.push(setInterval(work, ms));
}

// A failure nobody caught is still shown, rather than leaving a half-drawn view.
window.addEventListener('unhandledrejection', (event) => showFailure(event.reason));
window.addEventListener('error', (event) => showFailure(event.error || event.message));

function showFailure(error) {
  append(main, h('p', { class: 'status error', role: 'alert', text: `Something went wrong: ${describe(error)}` }));
}

start();
