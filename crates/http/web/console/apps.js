// The apps view: the list and create form, and one app's settings, secret, login
// redirect URIs, App Review, privacy (privacy.js), roles, test users, the operator's
// policy enforcement and the audit of mode and policy changes.

import { main, session, view } from './app.js';
import { h, append, replace, field, statusLine, say, act, describe, table, section, timeNode, copyButton, secretBox } from './dom.js';
import { appPrivacySection } from './privacy.js';

export async function appsView() {
  const list = h('div', { id: 'apps-list' }, h('p', { text: 'Loading…' }));
  const line = statusLine('create-app-status');
  const name = h('input', { id: 'new-app-name', name: 'name', required: true, autocomplete: 'off' });
  const button = h('button', { type: 'submit', text: 'Create app', id: 'create-app' });
  const form = h('form', { class: 'inline-form', id: 'create-app-form' }, field('App name', name), button);
  const created = h('div', { id: 'created-app' });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(button, line, async () => {
      const app = await session.api.createApp(name.value.trim());
      say(line, `Created the app ${app.name} (${app.id}) in development mode.`);
      replace(created, h('p', {}, 'Keep its secret safe: ', h('a', { href: `#/apps/${app.id}`, text: `open ${app.name}` }), '.'),
        secretBox('App secret', app.secret, 'created-app-secret'));
      name.value = '';
      await loadApps(list);
    });
  });
  view('Apps', section('Your apps', 'apps', list), section('Create an app', 'new-app', form, line, created));
  await loadApps(list);
}

async function loadApps(list) {
  try {
    const { data } = await session.api.apps();
    const rows = data.map((app) => h('tr', {},
      h('th', { scope: 'row' }, h('a', { href: `#/apps/${app.id}`, text: app.name })),
      h('td', { text: app.id }), h('td', { text: app.mode }), h('td', { text: app.role || (session.operator ? 'operator' : '–') }),
      h('td', {}, h('a', { href: `#/apps/${app.id}/webhooks`, text: 'Webhooks', 'aria-label': `Webhooks of ${app.name}` }))));
    replace(list, table('Your apps', ['Name', 'ID', 'Mode', 'Your role', ''], rows, 'No apps yet: create one below.'));
  } catch (error) {
    replace(list, h('p', { class: 'status error', text: `The apps cannot be listed: ${describe(error)}` }));
  }
}

/** What the signed-in caller may see of an app: its settings (administrators) or its list entry. */
export async function loadApp(id) {
  const [settings, listed] = await Promise.allSettled([session.api.app(id), session.api.apps()]);
  const entry = listed.status === 'fulfilled' ? listed.value.data.find((a) => a.id === id) : undefined;
  if (settings.status === 'fulfilled') return { app: settings.value, role: entry ? entry.role : null, admin: true };
  if (entry) return { app: entry, role: entry.role, admin: false };
  throw settings.reason;
}

export function appTabs(app, current) {
  const tab = (href, text, key) => h('li', {}, h('a', { href, text, 'aria-current': current === key ? 'page' : null }));
  return h('nav', { class: 'tabs', 'aria-label': `App ${app.name}` },
    h('ul', {}, tab(`#/apps/${app.id}`, 'Settings and roles', 'settings'), tab(`#/apps/${app.id}/webhooks`, 'Webhooks', 'webhooks')));
}

export async function appView(id) {
  view('App');
  let loaded;
  try {
    loaded = await loadApp(id);
  } catch (error) {
    return append(main, h('p', { class: 'status error', text: `This app cannot be shown: ${describe(error)}` }));
  }
  const { app, role, admin } = loaded;
  const heading = view(app.name);
  heading.after(h('p', { class: 'subtitle' }, `App ID ${app.id} · `, h('span', { class: `badge mode-${app.mode}`, id: 'app-mode', text: app.mode === 'live' ? 'Live' : 'In development' }),
    role ? ` · your role: ${role}` : ''), appTabs(app, 'settings'));
  if (admin) append(main, settingsSection(app));
  else append(main, section('Settings', 'settings', h('p', { text: 'Only the app’s administrators see its settings and secret.' })));
  const developer = admin || role === 'developer';
  if (developer) append(main, redirectUrisSection(app, admin), reviewSection(app), appPrivacySection(app, admin));
  append(main, rolesSection(app, admin), testUsersSection(app, admin));
  append(main, policySection(app));
  if (admin) append(main, auditSection(app));
}

const POLICY_STATE = {
  clear: 'In good standing',
  warned: 'Warned for policy: it may still send',
  blocked: 'Blocked for policy: its messages are refused (10/1893063)',
};

/** Policy enforcement: everyone who sees the app sees its standing; the operator acts. */
function policySection(app) {
  const state = h('p', { id: 'policy-state', 'data-state': app.policy || 'clear' });
  const showState = (policy) => {
    state.dataset.state = policy;
    state.textContent = POLICY_STATE[policy] || policy;
  };
  showState(app.policy || 'clear');
  if (!session.operator) return section('Policy', 'policy', state);
  const line = statusLine('policy-status');
  const action = h('select', { id: 'policy-action', name: 'action' },
    [['warning', 'Warn'], ['block', 'Block'], ['unblock', 'Unblock']].map(([value, text]) => h('option', { value, text })));
  const reason = h('textarea', { id: 'policy-reason', rows: 2, maxLength: 1000 });
  const apply = h('button', { type: 'submit', id: 'policy-apply', class: 'danger', text: 'Apply' });
  const form = h('form', { id: 'policy-form' }, field('Action', action),
    field('Reason', reason, 'The app receives it in a messaging_policy_enforcement webhook on each of its Pages (not on unblock).'), apply);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(apply, line, async () => {
      const updated = await session.api.enforcePolicy(app.id, action.value, reason.value.trim() || null);
      app.policy = updated.policy;
      showState(updated.policy);
      reason.value = '';
      say(line, `Done: the app is now ${updated.policy}.`);
      if (auditSection.reload) await auditSection.reload();
    });
  });
  return section('Policy', 'policy', state, form, line);
}

function settingsSection(app) {
  const line = statusLine('settings-status');
  const modeText = h('span', { id: 'mode-text' });
  const modeButton = h('button', { type: 'button', id: 'toggle-mode' });
  const showMode = () => {
    modeText.textContent = app.mode === 'live'
      ? 'Live: the app may message anyone who writes to its Pages.'
      : 'Development: the app may message only people with a role on it.';
    modeButton.textContent = app.mode === 'live' ? 'Switch to development mode' : 'Switch to live mode';
    const badge = document.getElementById('app-mode');
    if (badge) {
      badge.textContent = app.mode === 'live' ? 'Live' : 'In development';
      badge.className = `badge mode-${app.mode}`;
    }
  };
  showMode();
  modeButton.addEventListener('click', () => act(modeButton, line, async () => {
    const updated = await session.api.updateApp(app.id, { mode: app.mode === 'live' ? 'development' : 'live' });
    app.mode = updated.mode;
    showMode();
    say(line, `The app is now in ${updated.mode} mode.`);
  }));

  const secret = h('input', { type: 'password', readOnly: true, value: app.secret, id: 'app-secret', class: 'secret', autocomplete: 'off', spellcheck: 'false' });
  const reveal = h('button', { type: 'button', class: 'secondary', id: 'show-secret', 'aria-pressed': 'false', 'aria-controls': 'app-secret', text: 'Show' });
  reveal.addEventListener('click', () => {
    const shown = secret.type === 'password';
    secret.type = shown ? 'text' : 'password';
    reveal.textContent = shown ? 'Hide' : 'Show';
    reveal.setAttribute('aria-pressed', String(shown));
  });
  const reset = h('button', { type: 'button', class: 'danger', id: 'reset-secret', text: 'Reset secret' });
  reset.addEventListener('click', () => {
    if (!confirm('Reset the app secret? Tokens and signatures made with the old secret stop working.')) return;
    act(reset, line, async () => {
      const updated = await session.api.updateApp(app.id, { reset_secret: true });
      app.secret = updated.secret;
      secret.value = updated.secret;
      say(line, 'The secret was reset. Update your bot with the new one.');
    });
  });
  const proof = h('input', { type: 'checkbox', id: 'require-proof', checked: Boolean(app.require_appsecret_proof) });
  proof.addEventListener('change', () => act(proof, line, async () => {
    const updated = await session.api.updateApp(app.id, { require_appsecret_proof: proof.checked });
    proof.checked = updated.require_appsecret_proof;
    say(line, updated.require_appsecret_proof ? 'Graph calls must now carry appsecret_proof.' : 'appsecret_proof is now optional.');
  }));
  return section('Settings', 'settings',
    h('h3', { text: 'Mode' }), h('p', {}, modeText), modeButton,
    h('h3', { text: 'App secret' }),
    h('div', { class: 'field' }, h('label', { for: 'app-secret', text: 'Secret' }), h('div', { class: 'row' }, secret, reveal, copyButton(() => secret.value), reset)),
    h('p', { class: 'hint' }, 'The app token is ', h('code', { text: `${app.id}|` }), 'followed by the secret.'),
    h('label', { class: 'check' }, proof, 'Require appsecret_proof on every Graph call'),
    line);
}

function rolesSection(app, admin) {
  const list = h('div', { id: 'roles-list' });
  const line = statusLine('roles-status');
  const load = async () => {
    try {
      const { data } = await session.api.roles(app.id);
      const rows = data.map((member) => {
        const remove = h('button', { type: 'button', class: 'secondary small', text: 'Remove', 'aria-label': `Remove ${member.person.login}` });
        remove.addEventListener('click', () => act(remove, line, async () => {
          await session.api.removeRole(app.id, member.person.id);
          say(line, `${member.person.login} no longer has a role.`);
          await load();
        }));
        return h('tr', {}, h('th', { scope: 'row', text: member.person.name }), h('td', { text: member.person.login }), h('td', { text: member.role }), h('td', {}, admin ? remove : null));
      });
      replace(list, table('Roles', ['Name', 'Login', 'Role', ''], rows, 'No one has a role.'));
    } catch (error) {
      replace(list, h('p', { class: 'status error', text: `The roles cannot be listed: ${describe(error)}` }));
    }
  };
  load();
  if (!admin) return section('Roles', 'roles', list);
  const who = h('input', { id: 'role-login', name: 'login', required: true, autocomplete: 'off' });
  const role = h('select', { id: 'role-kind', name: 'role' }, ['administrator', 'developer', 'tester'].map((r) => h('option', { value: r, text: r })));
  const button = h('button', { type: 'submit', text: 'Add role', id: 'add-role' });
  const form = h('form', { class: 'inline-form', id: 'role-form' }, field('Login', who), field('Role', role), button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(button, line, async () => {
      await session.api.setRole(app.id, who.value.trim(), role.value);
      say(line, `${who.value.trim()} is now ${role.value === 'administrator' ? 'an' : 'a'} ${role.value}.`);
      who.value = '';
      await load();
    });
  });
  rolesSection.reload = load;
  return section('Roles', 'roles', list, h('h3', { text: 'Add a person by login' }), form, line);
}

function testUsersSection(app, admin) {
  if (!admin) return null;
  const line = statusLine('test-user-status');
  const name = h('input', { id: 'test-user-name', name: 'name', autocomplete: 'off' });
  const button = h('button', { type: 'submit', text: 'Create test user', id: 'create-test-user' });
  const result = h('div', { id: 'test-user-result' });
  const form = h('form', { class: 'inline-form', id: 'test-user-form' }, field('Name (optional)', name), button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(button, line, async () => {
      const created = await session.api.createTestUser(app.id, name.value.trim());
      say(line, `Created the test user ${created.person.name}; their password is shown only now.`);
      replace(result, h('dl', { class: 'facts' }, h('dt', { text: 'Login' }), h('dd', { text: created.person.login, id: 'test-user-login' })),
        secretBox('Password', created.password, 'test-user-password'));
      name.value = '';
      if (rolesSection.reload) await rolesSection.reload();
    });
  });
  return section('Test users', 'test-users', h('p', { text: 'A test user is a new person with the tester role, who can talk to the app while it is in development.' }), form, line, result);
}

/** The redirect URIs the login dialog accepts for this app (one per line). */
function redirectUrisSection(app, admin) {
  const line = statusLine('redirect-uris-status');
  const uris = h('textarea', { id: 'redirect-uris', rows: 3, readOnly: !admin, spellcheck: 'false' });
  session.api.redirectUris(app.id).then(({ redirect_uris }) => { uris.value = redirect_uris.join('\n'); }, (error) => say(line, describe(error), 'error'));
  const save = h('button', { type: 'submit', id: 'save-redirect-uris', text: 'Save redirect URIs' });
  const form = h('form', { id: 'redirect-uris-form' }, field('Valid OAuth redirect URIs, one per line', uris,
    'The login dialog sends people back only to one of these, matched exactly.'), admin ? save : null);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(save, line, async () => {
      const list = uris.value.split('\n').map((u) => u.trim()).filter(Boolean);
      const saved = await session.api.setRedirectUris(app.id, list);
      uris.value = saved.redirect_uris.join('\n');
      say(line, `${saved.redirect_uris.length} redirect URI(s) saved.`);
    });
  });
  return section('Facebook Login', 'login', form, line);
}

const REVIEW_STATUS = {
  standard: 'Standard access: works for the app’s role holders only',
  pending: 'Submitted: waiting for the operator',
  approved: 'Approved: works for everyone once the app is live',
  declined: 'Declined',
};

/** App Review: each permission's state; developers submit, the operator decides. */
function reviewSection(app) {
  const line = statusLine('review-status');
  const list = h('div', { id: 'review-list' }, h('p', { text: 'Loading…' }));
  const boxes = h('fieldset', { id: 'review-permissions' }, h('legend', { text: 'Permissions to submit' }));
  const note = h('textarea', { id: 'review-note', rows: 3, required: true });
  const submit = h('button', { type: 'submit', id: 'submit-review', text: 'Submit for review' });
  const form = h('form', { id: 'review-form' }, boxes, field('How does the app use them?', note), submit);

  const decide = (permission, approve) => {
    const reason = approve ? null : prompt(`Why is ${permission} declined? The developer sees this.`);
    if (!approve && !reason) return;
    act(null, line, async () => {
      show(await session.api.decideReview(app.id, permission, approve, reason));
      say(line, `${permission} ${approve ? 'approved' : 'declined'}.`);
    });
  };
  const show = ({ permissions }) => {
    const rows = permissions.map((p) => {
      const actions = session.operator && p.status === 'pending'
        ? h('td', {}, h('button', { type: 'button', class: 'secondary', id: `approve-${p.permission}`, text: 'Approve', onclick: () => decide(p.permission, true) }),
          ' ', h('button', { type: 'button', class: 'danger', id: `decline-${p.permission}`, text: 'Decline', onclick: () => decide(p.permission, false) }))
        : h('td', {});
      return h('tr', { 'data-permission': p.permission, 'data-status': p.status },
        h('th', { scope: 'row', text: p.permission }),
        h('td', { class: `review-${p.status}`, text: REVIEW_STATUS[p.status] || p.status }),
        h('td', { text: p.reason ? `${p.note || ''} — operator: ${p.reason}` : (p.note || '') }),
        actions);
    });
    replace(list, table('App Review', ['Permission', 'State', 'Note', session.operator ? 'Decision' : ''], rows, 'No permissions.'));
    replace(boxes, h('legend', { text: 'Permissions to submit' }), ...permissions.filter((p) => p.status !== 'approved').map((p) =>
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'permission', value: p.permission, id: `review-${p.permission}` }), ` ${p.permission}`)));
  };
  session.api.review(app.id).then(show, (error) => replace(list, h('p', { class: 'status error', text: describe(error) })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const permissions = [...form.querySelectorAll('input[name=permission]:checked')].map((b) => b.value);
    act(submit, line, async () => {
      show(await session.api.submitReview(app.id, permissions, note.value.trim()));
      note.value = '';
      say(line, `Submitted ${permissions.join(', ')} for review.`);
    });
  });
  return section('App Review', 'review',
    h('p', { text: 'In development, or without review, a permission works for the app’s role holders only. To reach everyone, submit it for review and take the app live.' }),
    list, form, line);
}

function auditSection(app) {
  const list = h('div', { id: 'audit-list' });
  const load = () => session.api.audit(app.id).then(({ data }) => {
    const rows = data.map((r) => h('tr', {}, h('td', {}, timeNode(r.time)), h('td', { text: typeof r.actor === 'string' ? r.actor : JSON.stringify(r.actor) }), h('td', { text: typeof r.change === 'string' ? r.change : JSON.stringify(r.change) })));
    replace(list, table('Mode and policy changes', ['Time', 'By', 'Change'], rows, 'No changes yet.'));
  }, (error) => replace(list, h('p', { class: 'status error', text: describe(error) })));
  load();
  auditSection.reload = load;
  return section('Mode and policy changes', 'audit', list);
}
