// The Pages view: the list and create form, and one Page's admins and agents, installed apps, handover receivers, Page tokens, features, custom labels and retention (privacy.js).

import { PAGE_FEATURES, graph } from './api.js';
import { main, session, view } from './app.js';
import { PAGE_INBOX_APP } from './inbox.js';
import { retentionSection } from './privacy.js';
import { h, append, replace, shown, field, statusLine, say, act, describe, table, section, secretBox, fieldCheckboxes, checkedValues, timeNode } from './dom.js';

export async function pagesView() {
  const list = h('div', { id: 'pages-list' }, h('p', { text: 'Loading…' }));
  const line = statusLine('create-page-status');
  const name = h('input', { id: 'new-page-name', name: 'name', required: true, autocomplete: 'off' });
  const username = h('input', { id: 'new-page-username', name: 'username', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9._\\-]+', spellcheck: 'false' });
  const button = h('button', { type: 'submit', text: 'Create Page', id: 'create-page' });
  const form = h('form', { class: 'inline-form', id: 'create-page-form' }, field('Page name', name), field('Username', username, 'Letters, digits, dots'), button);
  const load = async () => {
    try {
      const { data } = await session.api.pages();
      const rows = data.map((p) => h('tr', {}, h('th', { scope: 'row' }, h('a', { href: `#/pages/${p.id}`, text: p.name })), h('td', { text: `@${p.username}` }), h('td', { text: p.id })));
      replace(list, table('Your Pages', ['Name', 'Username', 'ID'], rows, 'No Pages yet: create one below.'));
    } catch (error) {
      replace(list, h('p', { class: 'status error', text: `The Pages cannot be listed: ${describe(error)}` }));
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(button, line, async () => {
      const page = await session.api.createPage(name.value.trim(), username.value.trim());
      say(line, `Created the Page ${page.name} (@${page.username}).`);
      append(line, ' ', h('a', { href: `#/pages/${page.id}`, text: `Open ${page.name}` }));
      name.value = '';
      username.value = '';
      await load();
    });
  });
  view('Pages', section('Your Pages', 'pages', list), section('Create a Page', 'new-page', form, line));
  await load();
}

export async function pageView(id) {
  view('Page');
  let overview;
  try {
    overview = await session.api.page(id);
  } catch (error) {
    return append(main, h('p', { class: 'status error', text: `This Page cannot be shown: ${describe(error)}` }));
  }
  const { page } = overview;
  const heading = view(page.name);
  heading.after(h('p', { class: 'subtitle' }, `@${page.username} · Page ID ${page.id} · `, h('a', { href: `/m/${encodeURIComponent(page.username)}`, text: 'open in the messenger' }),
    ' · ', h('a', { href: `#/inbox/${encodeURIComponent(page.id)}`, text: 'inbox', id: 'page-inbox-link' })));
  const tokenArea = h('div', { id: 'page-token' });
  const reload = () => pageView(id);
  append(main, adminsSection(overview, reload), installedSection(overview, tokenArea, reload), tokenArea, receiversSection(page), installSection(overview, tokenArea, reload), featuresSection(page), labelsSection(page), retentionSection(page));
}

/** The Page's roles, admins and agents (agents answer in the Page Inbox only). */
const PAGE_ROLES = [['admin', 'Admin'], ['agent', 'Agent (answers in the inbox)']];

/** The people with a role on the Page: its admins, and its agents where the overview names them. */
function pagePeople(overview) {
  const admins = (overview.admins || []).map((person) => ({ ...person, role: person.role || 'admin' }));
  const agents = (overview.agents || []).map((person) => ({ ...person, role: person.role || 'agent' }));
  return [...admins, ...agents];
}

function adminsSection(overview, reload) {
  const line = statusLine('admins-status');
  const rows = pagePeople(overview).map((person) => {
    const remove = h('button', { type: 'button', class: 'secondary small', text: 'Remove', 'aria-label': `Remove ${person.login} as ${person.role}` });
    remove.addEventListener('click', () => act(remove, line, async () => {
      await session.api.removePageAdmin(overview.page.id, person.id);
      await reload();
    }));
    return h('tr', { 'data-person': person.id }, h('th', { scope: 'row', text: person.name }), h('td', { text: person.login }), h('td', { text: person.role }), h('td', {}, remove));
  });
  const who = h('input', { id: 'admin-login', required: true, autocomplete: 'off' });
  const role = h('select', { id: 'admin-role' }, PAGE_ROLES.map(([value, text]) => h('option', { value, text })));
  const button = h('button', { type: 'submit', text: 'Add', id: 'add-admin' });
  const form = h('form', { class: 'inline-form', id: 'admin-form' }, field('Login', who), field('Role', role), button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(button, line, async () => {
      const login = who.value.trim();
      await session.api.setPageRole(overview.page.id, login, role.value);
      await reload();
      const done = document.getElementById('admins-status');
      if (done) say(done, `${login} is now ${role.value === 'agent' ? 'an agent' : 'an admin'} of this Page.`);
    });
  });
  return section('Admins and agents', 'admins', table('Admins and agents', ['Name', 'Login', 'Role', ''], rows, 'No admins.'),
    h('h3', { text: 'Add a person by login' }), form, line);
}

/** The handover roles an app can hold on a Page. */
const RECEIVER_ROLES = [['primary_receiver', 'Primary receiver'], ['secondary_receiver', 'Secondary receiver'], ['none', 'None']];

function receiversSection(page) {
  const line = statusLine('receivers-status');
  const body = h('div', { id: 'receivers' }, h('p', { text: 'Loading…' }));
  const showList = (data) => {
    const rows = data.map((app) => {
      const fixed = app.inbox || app.id === PAGE_INBOX_APP;
      const select = h('select', { id: `receiver-${app.id}`, 'data-app': app.id, disabled: fixed, 'aria-label': `Handover role of ${app.name}` },
        RECEIVER_ROLES.map(([value, text]) => h('option', { value, text, selected: (app.role || 'none') === value })));
      select.addEventListener('change', async () => {
        const changedTo = await act(select, line, async () => {
          const answer = await session.api.setReceiver(page.id, app.id, select.value);
          showList(answer.data);
          const chosen = RECEIVER_ROLES.find(([value]) => value === select.value);
          say(line, `${app.name} is now ${select.value === 'none' ? 'no receiver' : `a ${chosen[1].toLowerCase()}`}.`);
          return true;
        });
        if (!changedTo) load(); // refused: show the roles as they are
      });
      return h('tr', { 'data-app': app.id }, h('th', { scope: 'row', text: app.name }), h('td', { text: app.id }),
        h('td', {}, select, fixed ? h('span', { class: 'hint', text: ' built in' }) : null));
    });
    replace(body, table('Handover receivers', ['App', 'ID', 'Role'], rows, 'No apps act for this Page.'));
  };
  const load = () => session.api.receivers(page.id).then(({ data }) => showList(data), (error) => {
    replace(body, h('p', { class: 'status error', text: `The receivers cannot be listed: ${describe(error)}` }));
  });
  load();
  return section('Receivers', 'receivers-section',
    h('p', { text: 'The Handover Protocol: the primary receiver answers the Page’s conversations and may take a thread back; a secondary receiver, such as the Page Inbox where agents answer, is passed threads. Apps with no role take no part.' }),
    body, line);
}

/** Grants the app the Page (again) and shows the Page token with a copy button. */
async function showPageToken(overview, appId, personId, tokenArea) {
  const granted = await session.api.grant(overview.page.id, appId, personId);
  const app = overview.apps.find((a) => a.id === appId);
  replace(tokenArea, section(`Page access token${app ? ` for ${app.name}` : ''}`, 'token-section',
    h('p', { text: 'The app calls the Graph API for this Page with this token (Send API, subscribed_apps…). Treat it as a password.' }),
    secretBox('Page access token', granted.access_token, 'page-token-value')));
  tokenArea.querySelector('input').focus();
  return granted.access_token;
}

function onBehalfSelect(overview) {
  if (!session.operator) return null;
  return h('select', { id: 'grant-admin' }, overview.admins.map((p) => h('option', { value: String(p.id), text: `${p.name} (${p.login})` })));
}

function installedSection(overview, tokenArea, reload) {
  const line = statusLine('installed-status');
  const onBehalf = onBehalfSelect(overview);
  const rows = overview.apps.map((app) => {
    const token = h('button', { type: 'button', class: 'secondary small', text: 'Get Page token', 'aria-label': `Get a Page access token for ${app.name}` });
    token.addEventListener('click', () => act(token, line, async () => {
      await showPageToken(overview, app.id, onBehalf ? Number(onBehalf.value) : null, tokenArea);
      say(line, '');
    }));
    const remove = h('button', { type: 'button', class: 'secondary small', text: 'Remove', 'aria-label': `Remove ${app.name} from this Page` });
    remove.addEventListener('click', () => act(remove, line, async () => {
      if (!confirm(`Remove ${app.name} from this Page? Its Page tokens stop working at once.`)) return;
      await session.api.removeApp(overview.page.id, app.id);
      await reload();
    }));
    return h('tr', { 'data-app': app.id }, h('th', { scope: 'row' }, h('a', { href: `#/apps/${app.id}`, text: app.name })), h('td', { text: app.id }), h('td', { text: app.mode }),
      h('td', { text: app.fields.length ? app.fields.join(', ') : 'granted, not subscribed' }), h('td', {}, token, ' ', remove));
  });
  return section('Installed apps', 'installed',
    table('Apps installed on this Page', ['App', 'ID', 'Mode', 'Subscribed fields', ''], rows, 'No apps act for this Page.'),
    onBehalf && overview.apps.length ? field('Tokens on behalf of', onBehalf) : null, line);
}

function installSection(overview, tokenArea, reload) {
  const line = statusLine('install-status');
  const appSelect = h('select', { id: 'install-app', required: true }, h('option', { value: '', text: 'Loading your apps…' }));
  session.api.apps().then(({ data }) => {
    replace(appSelect, h('option', { value: '', text: data.length ? 'Choose an app' : 'You have no apps' }), data.map((a) => h('option', { value: a.id, text: `${a.name} (${a.id})` })));
  }, (error) => replace(appSelect, h('option', { value: '', text: `Apps cannot be listed: ${describe(error)}` })));
  const onBehalf = onBehalfSelect(overview);
  if (onBehalf) onBehalf.id = 'install-admin';
  const boxes = fieldCheckboxes('install-field', ['messages'], 'Fields this Page sends to the app');
  const button = h('button', { type: 'submit', text: 'Install app', id: 'install' });
  const form = h('form', { class: 'stack', id: 'install-form' }, field('App', appSelect), onBehalf ? field('On behalf of admin', onBehalf) : null, boxes, button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const fields = checkedValues(form, 'install-field');
    if (!appSelect.value) return say(line, 'Choose an app.', 'error');
    if (!fields.length) return say(line, 'Choose at least one field.', 'error');
    act(button, line, async () => {
      const granted = await session.api.grant(overview.page.id, appSelect.value, onBehalf ? Number(onBehalf.value) : null);
      await graph.install(overview.page.id, granted.access_token, fields);
      await reload();
      const fresh = await session.api.page(overview.page.id);
      const area = document.getElementById('page-token');
      await showPageToken(fresh, appSelect.value, onBehalf ? Number(onBehalf.value) : null, area || tokenArea);
      const done = document.getElementById('install-status');
      if (done) say(done, `Installed for ${fields.join(', ')}.`);
    });
  });
  return section('Install an app', 'install-section', h('p', { text: 'Lets the app act for this Page and subscribes it to the Page’s events.' }), form, line);
}

function featuresSection(page) {
  const line = statusLine('features-status');
  const body = h('div', { id: 'features' });
  const load = async () => {
    try {
      const { data } = await session.api.features(page.id);
      const rows = PAGE_FEATURES.map((name) => {
        const state = data.find((f) => f.feature === name);
        const cells = [h('th', { scope: 'row', text: name }), h('td', {}, h('span', { class: `badge feature-${state ? state.status : 'none'}`, text: state ? state.status : 'not applied' }))];
        const actions = h('td', { class: 'actions' });
        if (!state) {
          const terms = h('input', { type: 'checkbox', id: `terms-${name}` });
          const apply = h('button', { type: 'button', class: 'small', text: 'Apply', id: `apply-${name}` });
          apply.addEventListener('click', () => {
            if (!terms.checked) return say(line, `Accept the terms of ${name} first.`, 'error');
            act(apply, line, async () => {
              await session.api.applyFeature(page.id, name);
              say(line, `Applied for ${name}.`);
              await load();
            });
          });
          actions.append(h('label', { class: 'check' }, terms, 'I accept the terms'), apply);
        } else if (state.status === 'applied' && session.operator) {
          const approve = h('button', { type: 'button', class: 'small', text: 'Approve', id: `approve-${name}` });
          approve.addEventListener('click', () => act(approve, line, async () => {
            await session.api.approveFeature(page.id, name);
            say(line, `Approved ${name}.`);
            await load();
          }));
          actions.append(approve);
        } else if (state.status === 'applied') {
          actions.append('Waiting for the operator’s approval');
        }
        return h('tr', {}, cells, actions);
      });
      replace(body, table('Page features', ['Feature', 'Status', ''], rows, ''));
    } catch (error) {
      shown.delete(body);
      replace(body, h('p', { class: 'status error', text: describe(error) }));
    }
  };
  load();
  return section('Permissions', 'features-section', h('p', { text: 'phone_numbers lets apps message people by phone number; one_time_notif lets them ask for one follow-up message.' }), body, line);
}

/** The custom labels the Page's apps put on people (Graph `custom_labels`), each with how many people it holds. */
function labelsSection(page) {
  const body = h('div', { id: 'labels' }, h('p', { text: 'Loading…' }));
  session.api.labels(page.id).then(({ data }) => {
    const rows = data.map((label) => h('tr', { 'data-label': label.id }, h('th', { scope: 'row', text: label.name }), h('td', { text: label.id }),
      h('td', { class: 'label-members', text: String(label.members) }), h('td', {}, timeNode(label.created_at))));
    replace(body, table('Custom labels', ['Label', 'ID', 'People', 'Created'], rows, 'No labels yet: apps create them with POST /{page-id}/custom_labels.'));
  }, (error) => replace(body, h('p', { class: 'status error', text: `The labels cannot be listed: ${describe(error)}` })));
  return section('Labels', 'labels-section', h('p', { text: 'Labels sort the people this Page talks with; the Page’s apps create them and put people under them.' }), body);
}
