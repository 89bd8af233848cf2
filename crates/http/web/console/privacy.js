// Privacy in the console: an app's privacy callback URLs and the callbacks it was
// sent (apps.js shows the section), a Page's message retention (pages.js), and the
// operator's privacy audit with a retention pass on demand (its own view, routed by
// app.js). It draws with dom.js and calls the server through api.js only.

import { session, view, every } from './app.js';
import { h, replace, shown, changed, field, statusLine, say, act, describe, table, section, timeNode } from './dom.js';

const CALLBACK_KINDS = { data_deletion: 'Data deletion', deauthorize: 'Deauthorize' };
const CALLBACK_STATES = { pending: 'Pending', answered: 'Answered', given_up: 'Given up' };

/** A Graph time (`2020-03-05T21:38:25+0000`) as a `<time>`, or the text if it does not parse. */
function graphTime(text) {
  if (!text) return '–';
  const ms = Date.parse(text.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
  return Number.isNaN(ms) ? text : timeNode(ms);
}

/** A URL shown as code, or a dash. */
function urlCell(url) {
  return h('td', {}, url ? h('code', { class: 'url', text: url }) : '–');
}

/**
 * An app's privacy: its data deletion and deauthorize callback URLs (administrators
 * change them; developers read them) and the callbacks sent to it, refreshed while shown.
 */
export function appPrivacySection(app, admin) {
  const line = statusLine('privacy-urls-status');
  const url = (id) => h('input', { type: 'url', id, readOnly: !admin, spellcheck: 'false', autocomplete: 'off', placeholder: 'https://' });
  const deletion = url('data-deletion-url');
  const deauthorize = url('deauthorize-callback-url');
  const save = h('button', { type: 'submit', id: 'save-privacy-urls', text: 'Save privacy URLs' });
  // The server judges the URLs (https, or http on loopback) and says why it refuses one.
  const form = h('form', { class: 'stack', id: 'privacy-urls-form', novalidate: true },
    field('Data deletion request URL', deletion, 'Sent a signed_request when someone who used the app deletes their account; it answers a status URL and a confirmation code. Empty: none.'),
    field('Deauthorize callback URL', deauthorize, 'Sent a signed_request when a person or a Page removes the app. Empty: none.'),
    admin ? save : null);
  const show = (urls) => {
    deletion.value = urls.data_deletion_url || '';
    deauthorize.value = urls.deauthorize_callback_url || '';
  };
  session.api.privacyUrls(app.id).then(show, (error) => say(line, describe(error), 'error'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!admin) return;
    act(save, line, async () => {
      show(await session.api.setPrivacyUrls(app.id, { data_deletion_url: deletion.value.trim(), deauthorize_callback_url: deauthorize.value.trim() }));
      say(line, 'Privacy URLs saved.');
    });
  });

  const list = h('div', { id: 'privacy-callbacks' }, h('p', { text: 'Loading…' }));
  const refresh = h('button', { type: 'button', class: 'secondary small', id: 'refresh-privacy-callbacks', text: 'Refresh' });
  const load = async () => {
    try {
      const { data } = await session.api.privacyCallbacks(app.id);
      if (!changed(list, data)) return;
      const rows = data.map((c) => h('tr', { 'data-callback': c.id, 'data-kind': c.kind, 'data-state': c.state },
        h('th', { scope: 'row', text: CALLBACK_KINDS[c.kind] || c.kind }),
        h('td', {}, h('span', { class: `badge callback-${c.state}`, text: CALLBACK_STATES[c.state] || c.state })),
        h('td', {}, graphTime(c.created_time)),
        h('td', { class: 'num', text: String(c.attempts) }),
        urlCell(c.status_url),
        h('td', {}, c.confirmation_code ? h('code', { text: c.confirmation_code }) : '–'),
        h('td', { text: c.last_error || '' })));
      replace(list, table('Privacy callbacks', ['Kind', 'State', 'Sent', 'Attempts', 'Status URL', 'Confirmation code', 'Last error'], rows, 'No privacy callbacks were sent to this app.'));
    } catch (error) {
      shown.delete(list);
      replace(list, h('p', { class: 'status error', text: `The privacy callbacks cannot be listed: ${describe(error)}` }));
    }
  };
  refresh.addEventListener('click', () => act(refresh, null, load));
  load();
  every(5000, () => { if (!document.hidden) load(); });
  return section('Privacy', 'privacy', form, line,
    h('h3', { text: 'Callbacks sent' }), h('div', { class: 'toolbar' }, refresh), list);
}

/** A Page's message retention: its own number of days, or empty for the installation's. */
export function retentionSection(page) {
  const line = statusLine('retention-status');
  const days = h('input', { type: 'number', id: 'retention-days', min: 1, max: 36500, step: 1, inputmode: 'numeric' });
  const save = h('button', { type: 'submit', id: 'save-retention', text: 'Save retention' });
  const daysField = field('Keep messages for (days)', days, 'Empty: the installation’s default.');
  const effective = h('p', { id: 'retention-effective' });
  const form = h('form', { class: 'inline-form', id: 'retention-form', novalidate: true }, daysField, save);
  const show = (answer) => {
    days.value = answer.retention_days === null || answer.retention_days === undefined ? '' : String(answer.retention_days);
    const installation = answer.installation_retention_days;
    daysField.querySelector('.hint').textContent = installation === null || installation === undefined
      ? 'Empty: the installation’s default, which keeps messages forever.'
      : `Empty: the installation’s default, ${installation} days.`;
    const kept = answer.effective_retention_days;
    effective.textContent = kept === null || kept === undefined ? 'Messages are kept until someone deletes them.' : `Messages older than ${kept} days are deleted.`;
  };
  session.api.retention(page.id).then(show, (error) => say(line, describe(error), 'error'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = days.value.trim();
    act(save, line, async () => {
      const answer = await session.api.setRetention(page.id, text === '' ? null : Number(text));
      show(answer);
      say(line, answer.retention_days === null ? 'This Page follows the installation’s retention.' : `This Page keeps messages for ${answer.retention_days} days.`);
    });
  });
  return section('Retention', 'retention', form, effective, line);
}

/** How many records a page of the audit holds. */
const AUDIT_PAGE = 50;

/** The operator's privacy audit, newest first, and a retention pass on demand. */
export async function privacyAuditView() {
  if (!session.operator) {
    view('Privacy audit', h('p', { class: 'status error', text: 'Only the operator reads the privacy audit.' }));
    return;
  }
  const runLine = statusLine('run-retention-status');
  const run = h('button', { type: 'button', id: 'run-retention', text: 'Run retention now' });
  const line = statusLine('privacy-audit-status');
  const list = h('div', { id: 'privacy-audit' }, h('p', { text: 'Loading…' }));
  const refresh = h('button', { type: 'button', class: 'secondary', id: 'refresh-privacy-audit', text: 'Refresh' });
  const older = h('button', { type: 'button', class: 'secondary', id: 'older-privacy-audit', text: 'Show older', hidden: true });
  let records = [];
  const draw = () => {
    const rows = records.map((r) => h('tr', { 'data-record': r.id, 'data-action': r.action },
      h('td', {}, graphTime(r.time)), h('td', { text: r.actor }), h('th', { scope: 'row', text: r.action }),
      h('td', { text: r.subject }), h('td', { text: r.detail })));
    replace(list, table('Privacy audit', ['Time', 'By', 'Action', 'Subject', 'Detail'], rows, 'Nothing recorded yet.'));
  };
  const load = async (before) => {
    const { data } = await session.api.privacyAudit({ before, limit: AUDIT_PAGE });
    records = before ? records.concat(data) : data;
    older.hidden = data.length < AUDIT_PAGE;
    draw();
  };
  refresh.addEventListener('click', () => act(refresh, line, async () => { await load(); say(line, ''); }));
  older.addEventListener('click', () => act(older, line, async () => {
    await load(records.length ? records[records.length - 1].id : undefined);
    say(line, '');
  }));
  run.addEventListener('click', () => act(run, runLine, async () => {
    const pruned = await session.api.runRetention();
    say(runLine, `Retention ran: ${pruned.messages} messages, ${pruned.attachments} attachments and ${pruned.files} files deleted.`);
    await load();
  }));
  view('Privacy audit',
    section('Retention', 'retention-run', h('p', { text: 'Deletes every Page’s messages older than its retention now, as the server does on its own from time to time.' }), run, runLine),
    section('Audit trail', 'privacy-audit-section', h('p', { text: 'Account deletions, app removals, retention passes and other privacy events, newest first.' }),
      h('div', { class: 'toolbar' }, refresh), line, list, older));
  await act(null, line, async () => { await load(); say(line, ''); });
}
