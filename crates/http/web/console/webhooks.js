// The webhooks view of one app: callback URL and fields, delivery mode (listeners, poller), endpoint health, delivery chart, recent errors, refused API calls, events, replay and alerts.

import { graph } from './api.js';
import { main, session, view, every, serverNow } from './app.js';
import { appTabs, loadApp } from './apps.js';
import { deliveryChart } from './chart.js';
import { h, append, replace, shown, changed, field, statusLine, say, act, describe, table, section, formatTime, timeNode, formatDuration, fieldCheckboxes, checkedValues, copyButton } from './dom.js';

export async function webhooksView(id) {
  view('Webhooks');
  let loaded;
  try {
    loaded = await loadApp(id);
  } catch (error) {
    return append(main, h('p', { class: 'status error', text: `This app cannot be shown: ${describe(error)}` }));
  }
  const { app } = loaded;
  const heading = view(`Webhooks of ${app.name}`);
  const refresh = h('button', { type: 'button', id: 'refresh', class: 'secondary', text: 'Refresh' });
  const auto = h('input', { type: 'checkbox', id: 'auto-refresh', checked: true });
  heading.after(h('p', { class: 'subtitle', text: `App ID ${app.id}` }), appTabs(app, 'webhooks'),
    h('div', { class: 'toolbar' }, refresh, h('label', { class: 'check' }, auto, 'Refresh every 3 seconds'), h('a', { href: '/metrics', text: 'Prometheus metrics' })));

  const delivery = deliverySection(app);
  const health = healthSection(app);
  const chart = chartSection(app);
  const errors = errorsSection(app);
  const refused = refusedSection(app);
  const events = eventsSection(app);
  const alerts = alertsSection(app);
  append(main, callbackSection(app, loaded.admin), delivery.node, health.node, chart.node, errors.node, refused.node, events.node, replaySection(app, events), alerts.node);
  const all = () => Promise.all([delivery.load(), health.load(), chart.load(), errors.load(), refused.load(), events.load(), alerts.load()]);
  refresh.addEventListener('click', () => act(refresh, null, all));
  every(3000, () => { if (auto.checked && !document.hidden) all(); });
  const onClock = all;
  window.addEventListener('clockmoved', onClock);
  const stop = () => window.removeEventListener('clockmoved', onClock);
  window.addEventListener('hashchange', stop, { once: true });
  await all();
}

function callbackSection(app, admin) {
  const line = statusLine('callback-status');
  const current = h('p', { id: 'subscription-now', text: 'Loading the current subscription…' });
  const url = h('input', { id: 'callback-url', name: 'callback_url', type: 'url', required: true, placeholder: 'https://bot.example/webhook', autocomplete: 'off', spellcheck: 'false' });
  const verify = h('input', { id: 'verify-token', name: 'verify_token', autocomplete: 'off', spellcheck: 'false' });
  const secret = h('input', { id: 'webhook-app-secret', type: 'password', autocomplete: 'off' });
  const secretField = admin ? null : field('App secret', secret, 'Only administrators see the secret here; the app token is APP_ID|APP_SECRET.');
  const boxes = fieldCheckboxes('webhook-field', ['messages'], 'Subscribed fields');
  const save = h('button', { type: 'submit', text: 'Verify and save', id: 'save-callback' });
  const form = h('form', { class: 'stack', id: 'callback-form' },
    field('Callback URL', url), field('Verify token', verify, 'Sent as hub.verify_token in the verification request.'), secretField, boxes, save);
  const appToken = () => `${app.id}|${admin ? app.secret : secret.value}`;
  const loadCurrent = async () => {
    if (!admin && !secret.value) return replace(current, 'Enter the app secret to see and change the subscription.');
    try {
      const { data } = await graph.subscriptions(app.id, appToken());
      const sub = data.find((s) => s.object === 'page');
      if (!sub) return replace(current, 'No callback URL yet: the app receives no webhooks.');
      url.value = sub.callback_url;
      const names = sub.fields.map((f) => f.name);
      for (const box of form.querySelectorAll('input[name="webhook-field"]')) box.checked = names.includes(box.value);
      replace(current, 'Now: ', h('code', { text: sub.callback_url }), sub.active ? ' (active)' : ' (inactive)', ` for ${names.join(', ') || 'no fields'}.`);
    } catch (error) {
      replace(current, `The subscription cannot be read: ${describe(error)}`);
    }
  };
  secret.addEventListener('change', loadCurrent);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const fields = checkedValues(form, 'webhook-field');
    if (!fields.length) return say(line, 'Choose at least one field.', 'error');
    say(line, 'Running the verification request…', 'busy');
    save.disabled = true;
    graph.subscribe(app.id, appToken(), url.value.trim(), verify.value, fields).then(async () => {
      say(line, `Verified: ${url.value.trim()} answered the challenge. Saved for ${fields.join(', ')}.`, 'ok');
      await loadCurrent();
    }, (error) => {
      say(line, `Not saved: the verification failed. ${describe(error)}`, 'error');
    }).finally(() => { save.disabled = false; });
  });
  loadCurrent();
  return section('Callback URL', 'callback', current, form, line);
}

const DELIVERY_MODES = [['webhook', 'webhook: POSTed to the callback URL or a listener'], ['pull', 'pull: read with the pull API']];

/** A command or request to copy, with its copy button. */
function command(id, text) {
  return h('div', { class: 'command' }, h('pre', {}, h('code', { id, text })), copyButton(() => text));
}

/** What to run for the mode: `switchboard listen` (webhook) or the pull API's request (pull). */
function deliveryHelp(app, mode) {
  if (mode === 'pull') {
    return [h('h3', { text: 'Read the events with the pull API' }),
      h('p', {}, 'Call with the app token (', h('code', { text: 'APP_ID|APP_SECRET' }), '). Each answer gives ', h('code', { text: 'next_offset' }),
        ': pass it as ', h('code', { text: 'offset' }), ' in the next call to acknowledge what came; ', h('code', { text: 'timeout' }),
        ' (up to 50 seconds) waits for the next event. One request at a time.'),
      command('delivery-pull-request', `GET /v21.0/${app.id}/updates?offset=&timeout=\nAuthorization: Bearer ${app.id}|APP_SECRET`)];
  }
  return [h('h3', { text: 'Receive the events on your machine' }),
    h('p', { text: 'Run this where the bot runs: while it is connected, the events go to the bot instead of the callback URL, with the same body and signatures. No public address needed.' }),
    command('delivery-listen-command', `switchboard listen --app ${app.id} --app-secret APP_SECRET --forward-to http://localhost:3000/webhook --server ${location.origin}`),
    h('p', { class: 'hint', text: 'APP_SECRET: the app’s secret (or set SWITCHBOARD_APP_SECRET). A listener is refused while the mode is pull.' })];
}

/**
 * How the app's events reach it: POSTed (to the callback URL, or to the `switchboard
 * listen` processes connected meanwhile) or read with the pull API; the listeners
 * connected and the poller polling; a control to change the mode.
 */
function deliverySection(app) {
  const line = statusLine('delivery-status');
  const body = h('div', { id: 'delivery' }, h('p', { text: 'Loading…' }));
  const help = h('div', { id: 'delivery-help' });
  const choice = h('select', { id: 'delivery-mode-choice' }, DELIVERY_MODES.map(([value, text]) => h('option', { value, text })));
  const save = h('button', { type: 'submit', id: 'delivery-save', text: 'Save' });
  const form = h('form', { class: 'inline-form', id: 'delivery-form' },
    field('Delivery mode', choice, `The CLI: switchboard webhook delivery --app ${app.id} --mode pull|webhook`), save);
  // The mode last shown: a choice not saved yet stays as the person left it.
  let saved;
  let helpMode;
  // A save outdates the answers of reads that started before it.
  let generation = 0;
  const show = (d) => {
    if (saved === undefined || choice.value === saved) choice.value = d.mode;
    // Changed elsewhere (the CLI, another console): what this page last said is old news.
    if (saved !== undefined && saved !== d.mode) say(line, '');
    saved = d.mode;
    if (helpMode !== d.mode) replace(help, deliveryHelp(app, d.mode));
    helpMode = d.mode;
    if (!changed(body, d)) return;
    const pull = d.mode === 'pull';
    const fact = (term, id, value, data) => [h('dt', { text: term }), h('dd', { id, ...data }, value)];
    const callback = d.callback_url
      ? [h('code', { text: d.callback_url }), pull ? ' (not used while the mode is pull)' : d.listeners.length ? ' (not used while listeners are connected)' : '']
      : pull ? 'none' : 'none — events wait for a listener';
    const listeners = d.listeners.length
      ? [`${d.listeners.length} connected`, h('ul', { class: 'pickups' }, d.listeners.map((l) => h('li', { 'data-listener': l.id },
        h('code', { text: l.id }), ' connected since ', timeNode(l.since))))]
      : 'none connected';
    const poller = d.poller ? ['polling now: ', h('code', { text: d.poller.id }), ' since ', timeNode(d.poller.since)] : 'not polling';
    replace(body, h('dl', { class: 'facts' },
      fact('Mode', null, [h('span', { class: `badge delivery-${d.mode}`, id: 'delivery-mode', 'data-mode': d.mode, text: d.mode }),
        pull ? ' Never POSTed: the app reads its events with the pull API.' : ' POSTed to the callback URL, or to the listeners while any are connected.']),
      fact('Callback URL', 'delivery-callback', callback),
      fact('Fields', 'delivery-fields', d.fields.length ? d.fields.join(', ') : 'none'),
      fact('Listeners', 'delivery-listeners', listeners, { 'data-count': d.listeners.length }),
      fact('Poller', 'delivery-poller', poller, { 'data-polling': d.poller ? 'true' : 'false' })));
  };
  const load = async () => {
    const mine = generation;
    try {
      const d = await session.api.delivery(app.id);
      if (mine === generation) show(d);
    } catch (error) {
      if (mine !== generation) return;
      shown.delete(body);
      replace(body, h('p', { class: 'status error', text: describe(error) }));
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(save, line, async () => {
      generation += 1;
      const answer = await session.api.setDelivery(app.id, { mode: choice.value });
      generation += 1;
      saved = undefined;
      show(answer);
      say(line, answer.mode === 'pull' ? 'Saved: the events are now read with the pull API.' : 'Saved: the events are now POSTed.');
    });
  });
  return { node: section('Delivery', 'delivery-section', body, form, line, help), load };
}

function healthSection(app) {
  const body = h('div', { id: 'health' }, h('p', { text: 'Loading…' }));
  const load = async () => {
    try {
      const hl = await session.api.health(app.id);
      if (!changed(body, hl)) return;
      const state = hl.disabled_at ? ['Disabled: unsubscribed from its Pages after failing too long', 'bad']
        : hl.failing_since ? [`Failing since ${formatTime(hl.failing_since)}`, 'bad']
          : hl.callback_url ? ['Healthy', 'good'] : ['No callback URL', 'neutral'];
      const fact = (term, value) => [h('dt', { text: term }), h('dd', {}, value)];
      replace(body, h('p', {}, h('span', { class: `badge health-${state[1]}`, id: 'health-state', text: state[0] })),
        h('dl', { class: 'facts' },
          fact('Callback URL', hl.callback_url ? h('code', { text: hl.callback_url }) : '–'),
          fact('Pending events', String(hl.pending)),
          fact('Oldest pending', hl.oldest_pending_age_ms === null ? '–' : `${formatDuration(hl.oldest_pending_age_ms)} old`),
          fact('Dead letters', String(hl.dead)),
          fact('Last error', hl.last_error ? [hl.last_error, ' at ', timeNode(hl.last_error_at)] : '–'),
          fact('Last success', timeNode(hl.last_success_at)),
          hl.disabled_at ? fact('Disabled at', timeNode(hl.disabled_at)) : null));
    } catch (error) {
      shown.delete(body);
      replace(body, h('p', { class: 'status error', text: describe(error) }));
    }
  };
  return { node: section('Endpoint health', 'health-section', body), load };
}

const RANGES = [
  { label: 'last hour', ms: 3600000, bucket: 60000 },
  { label: 'last 3 hours', ms: 3 * 3600000, bucket: 60000 },
  { label: 'last 6 hours', ms: 6 * 3600000, bucket: 120000 },
  { label: 'last 24 hours', ms: 24 * 3600000, bucket: 600000 },
];

function chartSection(app) {
  const holder = h('div', { id: 'chart', 'aria-live': 'off' }, h('p', { text: 'Loading…' }));
  const range = h('select', { id: 'chart-range' }, RANGES.map((r, i) => h('option', { value: String(i), text: r.label, selected: i === 1 })));
  const load = async () => {
    const chosen = RANGES[Number(range.value)];
    const bucket = chosen.bucket;
    const now = serverNow();
    const to = now - (now % bucket) + bucket;
    try {
      const stats = await session.api.stats(app.id, { from: to - chosen.ms, to, bucket_ms: bucket });
      if (!changed(holder, [range.value, stats])) return;
      const wasOpen = holder.querySelector('details')?.open;
      replace(holder, deliveryChart(stats, `${app.name}, ${chosen.label}`));
      if (wasOpen) holder.querySelector('details').open = true;
    } catch (error) {
      shown.delete(holder);
      replace(holder, h('p', { class: 'status error', text: `The chart cannot be drawn: ${describe(error)}` }));
    }
  };
  range.addEventListener('change', load);
  return {
    node: section('Deliveries and latency', 'chart-section', h('div', { class: 'inline-form' }, field('Period', range)), holder,
      h('p', { class: 'hint' }, 'The same counters for every app are at ', h('a', { href: '/metrics', text: '/metrics' }), ' (Prometheus).')),
    load,
  };
}

/** The value of a `datetime-local` input for epoch ms, in the browser's zone. */
function localInput(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function attemptRows(attempts) {
  return attempts.map((a) => h('tr', {},
    h('td', {}, timeNode(a.time)), h('td', { text: a.kind }), h('td', { text: a.status ?? '–' }), h('td', { text: a.error || '–' }),
    h('td', { class: 'num', text: a.latency_ms ?? '–' }), h('td', {}, h('code', { class: 'url', text: a.url || '–' })),
    h('td', {}, a.response_excerpt ? h('code', { class: 'excerpt', text: a.response_excerpt }) : '–')));
}

/** How many events a POST carried, and which (a batch carries several). */
function eventsOf(attempt) {
  const ids = attempt.event_ids || [];
  return ids.length ? `${attempt.events}: ${ids.map((id) => `#${id}`).join(', ')}` : String(attempt.events);
}

function errorsSection(app) {
  const body = h('div', { id: 'errors' }, h('p', { text: 'Loading…' }));
  const load = async () => {
    try {
      const { data } = await session.api.errors(app.id, 20);
      if (!changed(body, data)) return;
      const rows = attemptRows(data);
      data.forEach((a, i) => rows[i].append(h('td', { class: 'num', text: eventsOf(a) })));
      replace(body, table('Recent failed attempts, newest first', ['Time', 'Kind', 'Status', 'Error', 'Latency (ms)', 'URL', 'Response', 'Events'], rows, 'No failed attempts.'));
    } catch (error) {
      shown.delete(body);
      replace(body, h('p', { class: 'status error', text: describe(error) }));
    }
  };
  return { node: section('Recent errors', 'errors-section', body), load };
}

/** The Graph calls of the app this node refused: what the bot sent and the error it got. */
function refusedSection(app) {
  const body = h('div', { id: 'refused-calls' }, h('p', { text: 'Loading…' }));
  const load = async () => {
    try {
      const { data } = await session.api.apiErrors(app.id, 20);
      if (!changed(body, data)) return;
      const rows = data.map((c) => h('tr', {},
        h('td', {}, timeNode(c.time)), h('td', {}, h('code', { text: `${c.method} ${c.path}` })), h('td', { text: c.recipient ?? '–' }),
        h('td', { text: `${c.status}` }), h('td', { text: c.error.error_subcode ? `${c.error.code}/${c.error.error_subcode}` : `${c.error.code}` }),
        h('td', { text: c.error.message }),
        h('td', {}, h('code', { class: 'excerpt', text: typeof c.body === 'string' ? `${c.body}…` : JSON.stringify(c.body) }))));
      replace(body, h('p', { class: 'hint', text: 'Kept by this node only, in memory: the latest 50.' }),
        table('Refused API calls, newest first', ['Time', 'Call', 'Recipient', 'Status', 'Code', 'Error', 'Body sent'], rows, 'No refused calls.'));
    } catch (error) {
      shown.delete(body);
      replace(body, h('p', { class: 'status error', text: describe(error) }));
    }
  };
  return { node: section('Refused API calls', 'refused-section', body), load };
}

function eventsSection(app) {
  const line = statusLine('events-status');
  const body = h('div', { id: 'events' });
  const detail = h('div', { id: 'event-detail' });
  const state = h('select', { id: 'event-state' },
    [['', 'all states'], ['pending', 'pending'], ['dead', 'dead letters'], ['delivered', 'delivered']].map(([value, text]) => h('option', { value, text })));
  const replay = (event, button) => act(button, line, async () => {
    const { queued } = await session.api.replayEvent(app.id, event.id);
    say(line, `Event ${event.id} is queued again (${queued.length} queued: ${queued.join(', ')}).`);
    await load();
  });
  const show = (event, button) => act(button, line, async () => {
    const full = await session.api.event(app.id, event.id);
    const replayButton = h('button', { type: 'button', text: 'Replay this event', class: 'small' });
    replayButton.addEventListener('click', () => replay(full, replayButton));
    const heading = h('h3', { text: `Event ${full.id}`, tabindex: '-1' });
    replace(detail, heading,
      h('dl', { class: 'facts' },
        h('dt', { text: 'Page' }), h('dd', { text: full.page_id }), h('dt', { text: 'Field' }), h('dd', { text: full.field }),
        h('dt', { text: 'State' }), h('dd', { text: full.state }), h('dt', { text: 'Created' }), h('dd', {}, timeNode(full.created_at)),
        h('dt', { text: 'Failures' }), h('dd', { text: String(full.failures) }),
        full.next_attempt_at ? [h('dt', { text: 'Next attempt' }), h('dd', {}, timeNode(full.next_attempt_at))] : null,
        full.settled_at ? [h('dt', { text: 'Settled' }), h('dd', {}, timeNode(full.settled_at))] : null,
        full.replayed_at ? [h('dt', { text: 'Replayed' }), h('dd', {}, timeNode(full.replayed_at))] : null),
      replayButton,
      h('h4', { text: 'Failed attempts' }),
      table(`Failed attempts of event ${full.id}`, ['Time', 'Kind', 'Status', 'Error', 'Latency (ms)', 'URL', 'Response'], attemptRows(full.attempts), 'No failed attempts.'));
    say(line, '');
    heading.focus();
  });
  const load = async () => {
    try {
      const { data } = await session.api.events(app.id, { state: state.value, limit: 50 });
      if (!changed(body, [state.value, data])) return;
      const rows = data.map((event) => {
        const details = h('button', { type: 'button', class: 'secondary small', text: 'Details', 'aria-label': `Details of event ${event.id}` });
        details.addEventListener('click', () => show(event, details));
        const again = h('button', { type: 'button', class: 'small', text: 'Replay', 'aria-label': `Replay event ${event.id}`, 'data-event': event.id });
        again.addEventListener('click', () => replay(event, again));
        return h('tr', { 'data-event': event.id, 'data-state': event.state },
          h('th', { scope: 'row', text: String(event.id) }), h('td', {}, timeNode(event.created_at)), h('td', { text: event.page_id }), h('td', { text: event.field }),
          h('td', {}, h('span', { class: `badge state-${event.state}`, text: event.state })), h('td', { class: 'num', text: String(event.failures) }),
          h('td', { text: event.last_error || '–' }), h('td', { class: 'actions' }, details, again));
      });
      replace(body, table('Webhook events, newest first', ['ID', 'Created', 'Page', 'Field', 'State', 'Failures', 'Last error', 'Actions'], rows, 'No events.'));
    } catch (error) {
      shown.delete(body);
      replace(body, h('p', { class: 'status error', text: describe(error) }));
    }
  };
  state.addEventListener('change', load);
  return { node: section('Events', 'events-section', h('div', { class: 'inline-form' }, field('Show', state)), body, line, detail), load };
}

function replaySection(app, events) {
  const line = statusLine('replay-status');
  const now = serverNow();
  const from = h('input', { type: 'datetime-local', id: 'replay-from', required: true, value: localInput(now - 3600000) });
  const to = h('input', { type: 'datetime-local', id: 'replay-to', required: true, value: localInput(now + 60000) });
  const button = h('button', { type: 'submit', text: 'Replay dead events', id: 'replay-range' });
  const form = h('form', { class: 'inline-form', id: 'replay-form' }, field('Created from', from), field('Until', to), button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const range = [new Date(from.value).getTime(), new Date(to.value).getTime()];
    if (!(range[0] <= range[1])) return say(line, 'The start must come before the end.', 'error');
    act(button, line, async () => {
      const { queued } = await session.api.replayRange(app.id, range[0], range[1]);
      say(line, queued.length ? `Queued again: ${queued.length} event${queued.length === 1 ? '' : 's'}.` : 'No dead events in that range (or they were replayed already).');
      await events.load();
    });
  });
  return section('Replay a time range', 'replay-section', h('p', { text: 'Sends again every dead letter created in the range, with the same bytes.' }), form, line);
}

function alertsSection(app) {
  const body = h('div', { id: 'alerts' });
  const load = async () => {
    try {
      const { data } = await session.api.alerts(app.id);
      if (!changed(body, data)) return;
      if (!data.length) return replace(body, h('p', { text: 'No alerts.' }));
      replace(body, h('ul', { class: 'alerts' }, data.map((a) => h('li', { class: `alert alert-${a.kind}` },
        h('strong', { text: a.kind === 'disabled' ? 'Disabled' : 'Failing' }), ' ', timeNode(a.created_at), h('p', { text: a.message }),
        a.pages.length ? h('p', { class: 'hint', text: `Pages: ${a.pages.join(', ')}` }) : null))));
    } catch (error) {
      shown.delete(body);
      replace(body, h('p', { class: 'status error', text: describe(error) }));
    }
  };
  return { node: section('Alerts', 'alerts-section', body), load };
}
