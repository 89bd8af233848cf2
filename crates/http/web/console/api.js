// The console's client: the console API (`/console/v1`) with the signed-in token,
// and the Graph API (`/v21.0`) with an app's or a Page's own token, as a developer
// would call it. It knows URLs and JSON, not the page: no DOM here.

const CONSOLE = '/console/v1';
const GRAPH = '/v21.0';
const TOKEN_KEY = 'switchboard.console.token';

/** A refused call: the Graph envelope's message and code, or the HTTP status. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = body && body.error;
    super(error && error.message ? error.message : `The server answered HTTP ${status}`);
    this.status = status;
    this.code = error ? error.code : undefined;
    this.subcode = error ? error.error_subcode : undefined;
  }
}

export function savedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function call(method, url, token, body) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (cause) {
    throw new ApiError(0, { error: { message: `The server cannot be reached (${cause.message})` } });
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

/** Signs a person in; answers `{access_token, person}`. */
export function login(loginName, password) {
  return call('POST', `${CONSOLE}/login`, null, { login: loginName, password });
}

/** The console API with one bearer token (a person's session or the operator's). */
export class Console {
  constructor(token) {
    this.token = token;
  }

  /** Ends this session on the server. */
  logout() {
    return this.post('/logout', {});
  }

  get(path, query) {
    return call('GET', withQuery(`${CONSOLE}${path}`, query), this.token);
  }

  post(path, body = {}) {
    return call('POST', `${CONSOLE}${path}`, this.token, body);
  }

  patch(path, body) {
    return call('PATCH', `${CONSOLE}${path}`, this.token, body);
  }

  me() { return this.get('/me'); }
  clock() { return this.get('/clock'); }
  moveClock(advanceMs) { return this.post('/clock', { advance_ms: advanceMs }); }

  apps() { return this.get('/apps'); }
  createApp(name) { return this.post('/apps', { name }); }
  app(id) { return this.get(`/apps/${enc(id)}`); }
  updateApp(id, change) { return this.patch(`/apps/${enc(id)}`, change); }
  audit(id) { return this.get(`/apps/${enc(id)}/audit`); }
  /** The operator warns, blocks or unblocks the app for policy. */
  enforcePolicy(id, action, reason) { return this.post(`/apps/${enc(id)}/policy`, { action, reason }); }
  roles(id) { return this.get(`/apps/${enc(id)}/roles`); }
  setRole(id, loginName, role) { return this.post(`/apps/${enc(id)}/roles`, { login: loginName, role }); }
  removeRole(id, personId) { return this.post(`/apps/${enc(id)}/roles`, { person_id: personId, role: null }); }
  createTestUser(id, name) { return this.post(`/apps/${enc(id)}/test-users`, name ? { name } : {}); }
  /** Where the login dialog may send people back to, matched exactly. */
  redirectUris(id) { return this.get(`/apps/${enc(id)}/redirect-uris`); }
  setRedirectUris(id, uris) { return call('PUT', `${CONSOLE}/apps/${enc(id)}/redirect-uris`, this.token, { redirect_uris: uris }); }
  /** Each permission's state in App Review. */
  review(id) { return this.get(`/apps/${enc(id)}/review`); }
  submitReview(id, permissions, note) { return this.post(`/apps/${enc(id)}/review`, { permissions, note }); }
  /** The operator's decision; a decline says why. */
  decideReview(id, permission, approve, reason) { return this.post(`/apps/${enc(id)}/review/${enc(permission)}`, { approve, reason }); }

  pages() { return this.get('/pages'); }
  createPage(name, username) { return this.post('/pages', { name, username }); }
  page(id) { return this.get(`/pages/${enc(id)}`); }
  setPageAdmin(id, loginName) { return this.post(`/pages/${enc(id)}/roles`, { login: loginName, role: 'admin' }); }
  /** Gives a person by login a role on the Page: `admin` or `agent` (answers in the Page Inbox only). */
  setPageRole(id, loginName, role) { return this.post(`/pages/${enc(id)}/roles`, { login: loginName, role }); }
  removePageAdmin(id, personId) { return this.post(`/pages/${enc(id)}/roles`, { person_id: personId, role: null }); }
  /** Removes the app from the Page: its Page tokens stop working, its webhooks stop. */
  removeApp(pageId, appId) { return call('DELETE', `${CONSOLE}/pages/${enc(pageId)}/apps/${enc(appId)}`, this.token); }
  grant(pageId, appId, personId) {
    const body = { app_id: appId };
    if (personId) body.person_id = personId;
    return this.post(`/pages/${enc(pageId)}/apps`, body);
  }
  /** The Handover Protocol's receivers: the Page's apps with their role. */
  receivers(id) { return this.get(`/pages/${enc(id)}/receivers`); }
  /** `role`: `primary_receiver`, `secondary_receiver` or `none`; answers the list again. */
  setReceiver(pageId, appId, role) { return this.post(`/pages/${enc(pageId)}/receivers/${enc(appId)}`, { role }); }
  features(id) { return this.get(`/pages/${enc(id)}/features`); }
  labels(id) { return this.get(`/pages/${enc(id)}/labels`); }
  applyFeature(id, feature) { return this.post(`/pages/${enc(id)}/features/${enc(feature)}`, { accept_terms: true }); }
  approveFeature(id, feature) { return this.post(`/pages/${enc(id)}/features/${enc(feature)}/approve`); }
  /** A Page's retention in days: its own (`null`: the installation's), the installation's, the one applied. */
  retention(id) { return this.get(`/pages/${enc(id)}/retention`); }
  setRetention(id, days) { return call('PUT', `${CONSOLE}/pages/${enc(id)}/retention`, this.token, { retention_days: days }); }

  /** The Pages whose inbox the signed-in person works in, with how many threads wait. */
  inboxes() { return this.get('/inbox'); }
  /** One Page's threads, most recent first. */
  pageInbox(pageId) { return this.get(`/pages/${enc(pageId)}/inbox`); }
  /** One thread with its history; reading it marks it seen. */
  inboxThread(pageId, psid) { return this.get(`/pages/${enc(pageId)}/inbox/${enc(psid)}`); }
  takeThread(pageId, psid) { return this.post(`/pages/${enc(pageId)}/inbox/${enc(psid)}/take`, {}); }
  inboxSend(pageId, psid, text) { return this.post(`/pages/${enc(pageId)}/inbox/${enc(psid)}/messages`, { text }); }
  handBack(pageId, psid) { return this.post(`/pages/${enc(pageId)}/inbox/${enc(psid)}/hand-back`, {}); }
  setFolder(pageId, psid, folder) { return this.post(`/pages/${enc(pageId)}/inbox/${enc(psid)}/folder`, { folder }); }

  health(app) { return this.get(`/apps/${enc(app)}/webhook`); }
  errors(app, limit = 20) { return this.get(`/apps/${enc(app)}/webhook/errors`, { limit }); }
  /** The app's Graph calls this node refused, newest first: the error the bot got and the body it sent. */
  apiErrors(app, limit = 20) { return this.get(`/apps/${enc(app)}/api-errors`, { limit }); }
  events(app, query) { return this.get(`/apps/${enc(app)}/webhook/events`, query); }
  event(app, id) { return this.get(`/apps/${enc(app)}/webhook/events/${enc(id)}`); }
  replayEvent(app, id) { return this.post(`/apps/${enc(app)}/webhook/events/${enc(id)}/replay`); }
  replayRange(app, from, to) { return this.post(`/apps/${enc(app)}/webhook/replay`, { from, to }); }
  alerts(app) { return this.get(`/apps/${enc(app)}/webhook/alerts`); }
  stats(app, query) { return this.get(`/apps/${enc(app)}/webhook/stats`, query); }
  /** How the app's events reach it: `mode` (`webhook` or `pull`), callback, fields, listeners, poller. */
  delivery(app) { return this.get(`/apps/${enc(app)}/webhook/delivery`); }
  /** `change`: `{mode: 'webhook'|'pull', fields?}`; answers the delivery again. */
  setDelivery(app, change) { return call('PUT', `${CONSOLE}/apps/${enc(app)}/webhook/delivery`, this.token, change); }

  /** The app's privacy callback URLs; an empty string removes one. */
  privacyUrls(app) { return this.get(`/apps/${enc(app)}/privacy`); }
  setPrivacyUrls(app, urls) { return this.patch(`/apps/${enc(app)}/privacy`, urls); }
  /** Data deletion requests and deauthorizations sent to the app, newest first. */
  privacyCallbacks(app) { return this.get(`/apps/${enc(app)}/privacy-callbacks`); }
  /** The operator's privacy audit, newest first (`before`: a record id), and a retention pass now. */
  privacyAudit(query) { return this.get('/privacy/audit', query); }
  runRetention() { return this.post('/privacy/retention/run'); }
}

/** The Graph API with an app token (`APP_ID|APP_SECRET`) or a Page token. */
export const graph = {
  subscriptions(appId, appToken) {
    return call('GET', `${GRAPH}/${enc(appId)}/subscriptions`, appToken);
  },
  subscribe(appId, appToken, callbackUrl, verifyToken, fields) {
    return call('POST', `${GRAPH}/${enc(appId)}/subscriptions`, appToken, {
      object: 'page',
      callback_url: callbackUrl,
      verify_token: verifyToken,
      fields: fields.join(','),
    });
  },
  install(pageId, pageToken, fields) {
    return call('POST', `${GRAPH}/${enc(pageId)}/subscribed_apps`, pageToken, { subscribed_fields: fields.join(',') });
  },
};

function enc(part) {
  return encodeURIComponent(String(part));
}

/** The webhook fields of `object=page`, as the Graph API names them. */
export const WEBHOOK_FIELDS = [
  'messages', 'message_echoes', 'message_deliveries', 'message_reads', 'message_reactions', 'message_edits',
  'messaging_postbacks', 'messaging_optins', 'messaging_referrals', 'messaging_account_linking',
  'messaging_handovers', 'standby', 'messaging_policy_enforcement', 'messaging_game_plays',
  'response_feedback', 'messaging_feedback',
];

/** The Page features an admin applies for and the operator approves. */
export const PAGE_FEATURES = ['phone_numbers', 'one_time_notif'];
