// The web messenger for people: sign in, the thread list, a thread with everything a
// Page can send, and live updates. Served at `/`, at `/m/{page-username}?ref=...`
// (which opens that Page's thread) and at `/plugins/customerchat` (the chat plugin).
// Talks only to the person API (api.js); rendering of message forms lives in
// render.js, how the person arrived (refs, the chat plugin, account linking) in
// entry.js, what they control about their data (blocking, deleting) in privacy.js,
// and saving a thread as a conversation test (`.convo.txt`) in record.js.

import { Api, ApiError, login } from "./api.js";
import { LIKE_STICKER, describe, el, renderButton, renderMessage, renderQuickReplies } from "./render.js";
import { EMBED, afterOpen, embedAllowed, onAccountLink, onAccountUnlink, onGetStarted, readArrival, showAccountLinked, showEmbedded } from "./entry.js";
import { closePrivacy, wirePrivacy } from "./privacy.js";
import { forgetTaps, rememberTap, saveAsTest } from "./record.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "switchboard.messenger.token";
const PERSON_KEY = "switchboard.messenger.person";
const TYPING_TIMEOUT_MS = 20000;

const state = {
  api: null,
  person: null,
  stopLive: null,
  /** The open thread: its Page, messages by mid (in order), and what the composer does. */
  page: null,
  messages: [],
  byMid: new Map(),
  hasOlder: false,
  welcome: null,
  /** The ref of the link that opened the thread, until Get Started or a referral uses it. */
  linkRef: null,
  /** Whether this load already told the Page about its ref (once per load). */
  referralSent: false,
  /** `?account_linking=` of the address, until shown. */
  linking: null,
  replyTo: null,
  /** The person's message the composer is editing, if any. */
  editing: null,
  share: null,
  /** Per Page id: the Page's `mark_seen` watermark (epoch ms). */
  seen: new Map(),
  /** Per mid: "accepted" | "stopped" | "resumed" for opt-in templates. */
  optins: new Map(),
  typingTimer: null,
  threadsTimer: null,
};

/** What entry.js and privacy.js may use of this page: the state and a few actions. */
const host = { state, note: setNote, scrollToEnd, act, closeThread, loadThreads, navigate, signOut };

// ---- sign in and out -------------------------------------------------------------

function showOnly(view) {
  $("loading").hidden = true;
  $("login-view").hidden = view !== "login";
  $("main-view").hidden = view !== "main";
}

/** Back to the sign-in form, with `notice` shown there (why the session ended). */
function signOut(notice = "") {
  // The server ends the session too (best effort: the page forgets the token anyway).
  state.api?.logout().catch(() => {});
  state.stopLive?.();
  state.stopLive = null;
  state.api = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(PERSON_KEY);
  forgetTaps();
  closeThread();
  closePrivacy();
  $("thread-list").replaceChildren();
  $("search-results").replaceChildren();
  document.body.dataset.live = "off";
  showOnly("login");
  $("login-notice").textContent = notice;
  $("login").focus();
}

async function onLogin(event) {
  event.preventDefault();
  const error = $("login-error");
  error.textContent = "";
  $("login-notice").textContent = "";
  $("sign-in").disabled = true;
  try {
    const answer = await login($("login").value.trim(), $("password").value);
    sessionStorage.setItem(TOKEN_KEY, answer.access_token);
    sessionStorage.setItem(PERSON_KEY, JSON.stringify(answer.person));
    $("password").value = "";
    await start(answer.access_token, answer.person);
  } catch (e) {
    if (e instanceof ApiError && e.status === 429) error.textContent = e.message;
    else error.textContent = e instanceof ApiError && e.status < 500 ? "Wrong login or password." : `Cannot sign in: ${e.message}`;
  } finally {
    $("sign-in").disabled = false;
  }
}

async function start(token, person) {
  state.api = new Api(token, () => signOut());
  state.person = person;
  $("me").textContent = person?.name || "";
  showOnly("main");
  if (EMBED && !(await embedAllowed(state.api))) return;
  state.stopLive = state.api.listen(onLive, (connected) => {
    // `data-live` also tells the browser tests when the stream is up.
    document.body.dataset.live = connected ? "on" : "off";
    // After a gap, the history is the truth: catch up.
    if (connected) refreshAll();
  });
  await route();
}

// ---- routing: `/` and `/m/{username}?ref=` ------------------------------------

function pageFromLocation() {
  const match = location.pathname.match(/^\/m\/([^/]+)\/?$/);
  return match ? decodeURIComponent(match[1]) : null;
}

async function route() {
  if (EMBED) {
    readArrival(state);
    await openThread(EMBED.pageId);
    return;
  }
  const username = pageFromLocation();
  await loadThreads();
  if (username) {
    readArrival(state);
    await openThread(username);
  } else {
    closeThread();
  }
}

function navigate(path) {
  if (location.pathname + location.search !== path) history.pushState(null, "", path);
}

// ---- the thread list and search ----------------------------------------------

async function loadThreads() {
  if (!state.api || EMBED) return;
  let answer;
  try {
    answer = await state.api.threads();
  } catch {
    return;
  }
  const list = $("thread-list");
  const items = (answer?.data || []).map((thread) => {
    const page = thread.page;
    const last = thread.last_message;
    const mine = last?.from === "person";
    const preview = last ? `${mine ? "You: " : ""}${describe(last)}` : "No messages yet";
    const unread = Number(thread.unread) || 0;
    const current = state.page?.id === page.id;
    const button = el("button", { type: "button", class: `thread-item${unread ? " unread" : ""}`, "aria-current": current ? "true" : null, onclick: () => openFromList(page.username) },
      el("span", { class: "avatar", "aria-hidden": "true", text: initial(page.name) }),
      el("span", { class: "thread-text" },
        el("span", { class: "thread-name", text: page.name }),
        el("span", { class: "thread-preview", text: preview })),
      unread ? el("span", { class: "unread-dot", "aria-label": `${unread} unread`, text: String(unread) }) : null);
    return el("li", { class: "thread", "data-page": page.username }, button);
  });
  list.replaceChildren(...items);
  $("no-threads").hidden = items.length > 0;
}

function scheduleThreads() {
  clearTimeout(state.threadsTimer);
  state.threadsTimer = setTimeout(loadThreads, 150);
}

function initial(name) {
  return (String(name || "?").trim()[0] || "?").toUpperCase();
}

async function onSearch(event) {
  event?.preventDefault();
  const query = $("search").value.trim();
  const results = $("search-results");
  const status = $("search-status");
  if (!query) {
    results.replaceChildren();
    status.textContent = "";
    return;
  }
  const pages = await state.api.findPages(query);
  if ($("search").value.trim() !== query) return;
  status.textContent = pages.length ? `${pages.length} Page${pages.length === 1 ? "" : "s"} found` : "No Page found";
  results.replaceChildren(...pages.map((page) =>
    el("li", {}, el("button", { type: "button", class: "search-result", onclick: () => {
      $("search").value = "";
      results.replaceChildren();
      status.textContent = "";
      openFromList(page.username);
    } }, el("span", { class: "avatar", "aria-hidden": "true", text: initial(page.name) }),
    el("span", { class: "thread-text" }, el("span", { class: "thread-name", text: page.name }), el("span", { class: "thread-preview", text: `@${page.username}` }))))));
}

// ---- a thread ----------------------------------------------------------------

function openFromList(username) {
  state.linkRef = null;
  navigate(`/m/${encodeURIComponent(username)}`);
  openThread(username);
}

function closeThread() {
  state.page = null;
  state.messages = [];
  state.byMid = new Map();
  state.welcome = null;
  state.replyTo = null;
  state.editing = null;
  document.body.classList.remove("thread-open");
  $("thread-body").hidden = true;
  $("no-thread").hidden = false;
  $("messages").replaceChildren();
  $("quick-replies").replaceChildren();
  for (const item of document.querySelectorAll(".thread-item[aria-current]")) item.removeAttribute("aria-current");
}

async function openThread(username) {
  let thread;
  let welcome;
  try {
    [thread, welcome] = await Promise.all([state.api.messages(username), state.api.welcome(username)]);
  } catch (e) {
    closeThread();
    $("no-thread").textContent = e instanceof ApiError && e.status === 400 ? `There is no Page @${username}.` : `Cannot open the chat: ${e.message}`;
    return;
  }
  state.page = thread.page;
  state.welcome = welcome;
  rememberThread(thread);
  state.messages = [];
  state.byMid = new Map();
  state.replyTo = null;
  state.editing = null;
  state.hasOlder = (thread.messages || []).length >= 50;
  hideShare();
  setNote("");
  $("replying").hidden = true;
  $("editing").hidden = true;
  $("no-thread").hidden = true;
  $("thread-body").hidden = false;
  document.body.classList.add("thread-open");
  $("thread-title").textContent = thread.page.name;
  $("thread-username").textContent = `@${thread.page.username}`;
  $("thread-avatar").textContent = initial(thread.page.name);
  document.title = `${thread.page.name} · Switchboard Messenger`;
  // The history is not news: the live region announces only what arrives later.
  $("messages").setAttribute("aria-busy", "true");
  $("messages").replaceChildren();
  showTyping(false);
  for (const msg of thread.messages || []) upsert(msg, false);
  $("messages").removeAttribute("aria-busy");
  $("older").hidden = !state.hasOlder;
  renderWelcome();
  renderMenu();
  renderQuick();
  showAccountLinked(thread.account_linked);
  scrollToEnd();
  afterOpen(host, isNewThread());
  for (const item of document.querySelectorAll(".thread-item")) {
    const current = item.closest(".thread")?.dataset.page === thread.page.username;
    if (current) item.setAttribute("aria-current", "true");
    else item.removeAttribute("aria-current");
  }
  markRead();
  $("text").focus({ preventScroll: true });
}

/** What the server keeps of a thread beyond its messages: the Page's seen mark and
 * what the person did with notification requests (so a reload shows them too). */
function rememberThread(thread) {
  const seen = Math.max(state.seen.get(thread.page.id) || 0, thread.seen_watermark || 0);
  state.seen.set(thread.page.id, seen);
  for (const msg of thread.messages || []) {
    if (!msg.notification) continue;
    if (msg.notification.stopped) state.optins.set(msg.mid, "stopped");
    else if (msg.notification.accepted && state.optins.get(msg.mid) !== "resumed") state.optins.set(msg.mid, "accepted");
  }
}

async function loadOlder() {
  const oldest = state.messages[0];
  if (!oldest || !state.page) return;
  const thread = await state.api.messages(state.page.username, oldest.mid);
  const older = (thread.messages || []).filter((m) => !state.byMid.has(m.mid));
  state.hasOlder = (thread.messages || []).length >= 50;
  $("older").hidden = !state.hasOlder;
  const first = $("messages").firstChild;
  for (const msg of older) {
    state.messages.push(msg);
    state.byMid.set(msg.mid, msg);
    $("messages").insertBefore(renderMessage(msg, context()), first);
  }
  state.messages.sort((a, b) => a.created_at - b.created_at);
}

async function refreshAll() {
  scheduleThreads();
  if (!state.page) return;
  try {
    const thread = await state.api.messages(state.page.username);
    rememberThread(thread);
    for (const msg of thread.messages || []) upsert(msg, false);
    renderQuick();
    renderWelcome();
    showAccountLinked(thread.account_linked);
  } catch {
    // The next live event or reconnect catches up.
  }
}

/** Adds or replaces a message of the open thread. */
function upsert(msg, scroll = true) {
  const existing = state.byMid.get(msg.mid);
  state.byMid.set(msg.mid, msg);
  const node = renderMessage(msg, context());
  if (existing) {
    const index = state.messages.findIndex((m) => m.mid === msg.mid);
    state.messages[index] = msg;
    const old = $("messages").querySelector(`[data-mid="${CSS.escape(msg.mid)}"]`);
    if (old) old.replaceWith(node);
    else $("messages").append(node);
  } else {
    // Keep time order even when a live event overtakes an answer.
    const index = state.messages.findIndex((m) => m.created_at > msg.created_at);
    if (index < 0) {
      state.messages.push(msg);
      $("messages").append(node);
    } else {
      const next = $("messages").querySelector(`[data-mid="${CSS.escape(state.messages[index].mid)}"]`);
      state.messages.splice(index, 0, msg);
      $("messages").insertBefore(node, next);
    }
  }
  if (scroll) scrollToEnd();
}

function rerender(mid) {
  const msg = state.byMid.get(mid);
  if (msg) upsert(msg, false);
}

function scrollToEnd() {
  const scroller = $("scroller");
  scroller.scrollTop = scroller.scrollHeight;
}

function isNewThread() {
  return state.messages.length === 0;
}

function renderWelcome() {
  const welcome = state.welcome;
  const show = Boolean(welcome) && isNewThread();
  $("welcome").hidden = !show;
  if (!show) return;
  $("greeting").textContent = welcome.greeting || `Start a conversation with ${state.page.name}.`;
  $("get-started").hidden = !welcome.get_started;
  const breakers = (welcome.ice_breakers || []).map((breaker, index) =>
    el("button", { type: "button", class: "ice-breaker", text: String(breaker.question ?? ""), onclick: () => act(tapped({ kind: "menu" }, () => state.api.postback(state.page.username, { ice_breaker: index }))) }));
  $("ice-breakers").replaceChildren(...breakers);
}

function renderMenu() {
  const menu = state.welcome?.persistent_menu;
  const items = Array.isArray(menu?.call_to_actions) ? menu.call_to_actions : [];
  const button = $("menu-button");
  button.hidden = items.length === 0;
  closeMenu();
  $("menu").replaceChildren(...items.map((item, index) => {
    let control;
    if (item.type === "postback") {
      control = el("button", { type: "button", role: "menuitem", class: "menu-item", text: String(item.title ?? ""), onclick: () => {
        closeMenu();
        act(tapped({ kind: "menu" }, () => state.api.postback(state.page.username, { menu: `/${index}` })));
      } });
    } else {
      control = renderButton(item, `/${index}`, null, context());
      control.setAttribute("role", "menuitem");
      control.classList.add("menu-item");
      control.addEventListener("click", closeMenu);
    }
    return el("li", { role: "none" }, control);
  }));
  const disabled = Boolean(menu?.composer_input_disabled);
  $("text").disabled = disabled;
  $("text").placeholder = disabled ? "Use the menu to chat" : "Aa";
}

function closeMenu() {
  $("menu").hidden = true;
  $("menu-button").setAttribute("aria-expanded", "false");
}

function toggleMenu() {
  const menu = $("menu");
  menu.hidden = !menu.hidden;
  $("menu-button").setAttribute("aria-expanded", String(!menu.hidden));
  if (!menu.hidden) menu.querySelector("button, a")?.focus();
}

/** Quick replies show under the thread's latest message when it is the Page's. */
function renderQuick() {
  const last = state.messages[state.messages.length - 1];
  const chips = last && last.from === "page" ? renderQuickReplies(last, context()) : [];
  $("quick-replies").replaceChildren(...chips);
  if (chips.length === 0) hideShare();
}

function context() {
  return {
    pageName: state.page?.name || "The Page",
    quoted: (mid) => state.byMid.get(mid),
    seen: (msg) => (state.seen.get(state.page?.id) || 0) >= msg.created_at,
    optin: (mid) => state.optins.get(mid),
    note: setNote,
    postback: (msg, pointer) => act(tapped({ kind: "button" }, () => state.api.postback(state.page.username, { mid: msg.mid, button: pointer }))),
    accountLink: (msg, pointer) => onAccountLink(host, msg, pointer),
    accountUnlink: (msg, pointer) => onAccountUnlink(host, msg, pointer),
    reply: startReply,
    react: onReact,
    edit: startEdit,
    rate: onRate,
    notifyMe: async (msg) => {
      if (await act(() => state.api.notifyMe(state.page.username, msg.mid), true)) {
        state.optins.set(msg.mid, "accepted");
        rerender(msg.mid);
        setNote(`${state.page.name} may send you one notification.`);
      }
    },
    notifications: async (msg, action) => {
      if (await act(() => state.api.notifications(state.page.username, msg.mid, action), true)) {
        state.optins.set(msg.mid, action === "stop" ? "stopped" : action === "resume" ? "resumed" : "accepted");
        rerender(msg.mid);
      }
    },
    quickReply: (msg, index) => act(tapped({ kind: "quick_reply" }, () => state.api.quickReply(state.page.username, msg.mid, index))),
    shareEmail: (msg, index) => askShare(msg, index, "email"),
    sharePhone: async (msg, index) => {
      try {
        const sent = await state.api.quickReply(state.page.username, msg.mid, index);
        upsert(sent);
        renderQuick();
      } catch (e) {
        if (e instanceof ApiError && e.status === 400) askShare(msg, index, "phone");
        else setNote(`Not sent: ${e.message}`);
      }
    },
  };
}

/** A tap's call whose answer, the person's new message, is remembered as that tap
 * (the history shows only the title; "Save as test" writes the tap). */
function tapped(tap, call) {
  return async () => {
    const answer = await call();
    rememberTap(answer?.mid, tap);
    return answer;
  };
}

/** Runs a tap that answers the person's new message (or `{success}`), and shows it. */
async function act(call, quiet = false) {
  try {
    const answer = await call();
    if (answer?.mid) {
      upsert(answer);
      renderWelcome();
      renderQuick();
      scheduleThreads();
    }
    if (!quiet) setNote("");
    return true;
  } catch (e) {
    setNote(`That did not work: ${e.message}`);
    return false;
  }
}

function setNote(text) {
  $("note").textContent = text;
}

// ---- replies, reactions, sharing -----------------------------------------------

function startReply(msg) {
  cancelEdit();
  state.replyTo = msg;
  $("replying-text").textContent = `Replying to ${msg.from === "person" ? "yourself" : state.page.name}: ${describe(msg)}`;
  $("replying").hidden = false;
  $("text").focus();
}

function cancelReply() {
  state.replyTo = null;
  $("replying").hidden = true;
}

/** The composer takes the message's text; sending saves the edit. */
function startEdit(msg) {
  cancelReply();
  state.editing = msg;
  $("editing-text").textContent = `Editing: ${describe(msg)}`;
  $("editing").hidden = false;
  $("send").textContent = "Save";
  const input = $("text");
  input.value = msg.text || "";
  input.focus();
}

function cancelEdit() {
  if (!state.editing) return;
  state.editing = null;
  $("editing").hidden = true;
  $("send").textContent = "Send";
  $("text").value = "";
}

async function saveEdit(msg, text) {
  try {
    const edited = await state.api.edit(state.page.username, msg.mid, text);
    cancelEdit();
    upsert(edited, false);
    scheduleThreads();
    setNote("");
  } catch (e) {
    setNote(`Not edited: ${e.message}`);
  }
}

async function onRate(msg, feedback) {
  try {
    await state.api.rate(state.page.username, msg.mid, feedback);
  } catch (e) {
    setNote(`Could not rate: ${e.message}`);
    return;
  }
  upsert({ ...msg, feedback }, false);
  $("messages").querySelector(`[data-mid="${CSS.escape(msg.mid)}"] .rate-${feedback}`)?.focus();
}

// A message of the person's own, accepted: shown in the thread, the composer reset.
function showSent(sent) {
  cancelReply();
  upsert(sent);
  renderWelcome();
  renderQuick();
  scheduleThreads();
  setNote("");
}

async function onLike() {
  if (!state.page) return;
  const replyTo = state.replyTo?.mid;
  try {
    const sent = await state.api.sendSticker(state.page.username, LIKE_STICKER, replyTo);
    showSent(sent);
  } catch (e) {
    setNote(`Not sent: ${e.message}`);
  }
}

async function onReact(msg, emoji) {
  const current = msg.reactions?.person;
  const page = state.page.username;
  try {
    if (current === emoji) await state.api.unreact(page, msg.mid);
    else await state.api.react(page, msg.mid, emoji);
  } catch (e) {
    setNote(`Could not react: ${e.message}`);
    return;
  }
  const reactions = { ...(msg.reactions || {}) };
  if (current === emoji) delete reactions.person;
  else reactions.person = emoji;
  upsert({ ...msg, reactions }, false);
  $("messages").querySelector(`[data-mid="${CSS.escape(msg.mid)}"] .react-button`)?.focus();
}

function askShare(msg, index, kind) {
  state.share = { msg, index, kind };
  const input = $("share-value");
  $("share-label").textContent = kind === "email" ? "Your email" : "Your phone number";
  input.type = kind === "email" ? "email" : "tel";
  input.autocomplete = kind === "email" ? "email" : "tel";
  input.value = "";
  $("share-form").hidden = false;
  input.focus();
}

function hideShare() {
  state.share = null;
  $("share-form").hidden = true;
}

async function onShare(event) {
  event.preventDefault();
  const share = state.share;
  if (!share) return;
  const value = $("share-value").value.trim();
  if (await act(() => state.api.quickReply(state.page.username, share.msg.mid, share.index, value))) hideShare();
}

// ---- the composer ---------------------------------------------------------------

async function onSend(event) {
  event.preventDefault();
  const input = $("text");
  const text = input.value;
  if (!text.trim() || !state.page) return;
  if (state.editing) {
    await saveEdit(state.editing, text);
    return;
  }
  const replyTo = state.replyTo?.mid;
  input.value = "";
  try {
    const sent = await state.api.sendText(state.page.username, text, replyTo);
    showSent(sent);
  } catch (e) {
    input.value = text;
    setNote(`Not sent: ${e.message}`);
  }
}

function onKey(event) {
  if (event.key === "Escape" && state.editing) {
    event.preventDefault();
    cancelEdit();
    return;
  }
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
}

async function onFile() {
  const input = $("file");
  const file = input.files?.[0];
  if (!file || !state.page) return;
  setNote(`Sending ${file.name}…`);
  try {
    const sent = await state.api.upload(state.page.username, file);
    upsert(sent);
    renderWelcome();
    renderQuick();
    scheduleThreads();
    setNote("");
  } catch (e) {
    setNote(`${file.name} was not sent: ${e.message}`);
  } finally {
    input.value = "";
  }
}

// ---- live events and receipts ------------------------------------------------

function onLive(event) {
  const current = state.page && event.page_id === state.page.id;
  switch (event.type) {
    case "message": {
      const msg = event.message;
      if (current) {
        if (msg.from === "page") showTyping(false);
        upsert(msg);
        renderWelcome();
        renderQuick();
      }
      if (msg.from === "page") {
        if (current && document.visibilityState === "visible") markRead();
        else state.api.delivered(event.page_id).catch(() => {});
      }
      scheduleThreads();
      break;
    }
    case "typing":
      if (current) showTyping(event.on, event.persona);
      break;
    case "seen":
      state.seen.set(event.page_id, Math.max(state.seen.get(event.page_id) || 0, event.watermark));
      if (current) for (const msg of state.messages) if (msg.from === "person") rerender(msg.mid);
      break;
    case "reaction":
      if (current) {
        const msg = state.byMid.get(event.mid);
        if (msg) {
          const reactions = { ...(msg.reactions || {}) };
          if (event.emoji) reactions[event.by] = event.emoji;
          else delete reactions[event.by];
          upsert({ ...msg, reactions }, false);
        }
      }
      break;
    case "edit":
      if (current) {
        const msg = state.byMid.get(event.mid);
        if (msg) upsert({ ...msg, text: event.text, edits: event.edits }, false);
      }
      scheduleThreads();
      break;
    case "feedback":
      if (current) {
        const msg = state.byMid.get(event.mid);
        if (msg) upsert({ ...msg, feedback: event.feedback }, false);
      }
      break;
    case "lagged":
      refreshAll();
      break;
    default:
      break;
  }
}

function showTyping(on, persona) {
  clearTimeout(state.typingTimer);
  const typing = $("typing");
  typing.hidden = !on;
  if (!on) {
    typing.textContent = "";
    return;
  }
  const who = persona?.name || state.page?.name || "The Page";
  typing.replaceChildren(el("span", { class: "dots", "aria-hidden": "true" }, el("span"), el("span"), el("span")), ` ${who} is typing…`);
  scrollToEnd();
  // Meta's clients drop the indicator after about 20 s without a message.
  state.typingTimer = setTimeout(() => showTyping(false), TYPING_TIMEOUT_MS);
}

function markRead() {
  if (!state.page || document.visibilityState !== "visible") return;
  if (!state.messages.some((m) => m.from === "page")) return;
  state.api.read(state.page.username).then(scheduleThreads, () => {});
}

// ---- wiring --------------------------------------------------------------------

function wire() {
  $("login-form").addEventListener("submit", onLogin);
  $("sign-out").addEventListener("click", () => signOut());
  $("embedded-sign-out").addEventListener("click", () => signOut());
  $("search-form").addEventListener("submit", onSearch);
  let searchTimer = null;
  $("search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(onSearch, 250);
  });
  $("back").addEventListener("click", () => {
    navigate("/");
    closeThread();
    scheduleThreads();
    document.querySelector(".thread-item")?.focus();
  });
  $("get-started").addEventListener("click", () => onGetStarted(host));
  $("load-older").addEventListener("click", loadOlder);
  $("save-test").addEventListener("click", () => saveAsTest(host, $("save-test")));
  $("composer").addEventListener("submit", onSend);
  $("text").addEventListener("keydown", onKey);
  $("attach").addEventListener("click", () => $("file").click());
  $("file").addEventListener("change", onFile);
  $("cancel-reply").addEventListener("click", cancelReply);
  $("cancel-edit").addEventListener("click", cancelEdit);
  $("like").addEventListener("click", onLike);
  $("menu-button").addEventListener("click", toggleMenu);
  $("menu").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      closeMenu();
      $("menu-button").focus();
    }
  });
  $("share-form").addEventListener("submit", onShare);
  $("share-cancel").addEventListener("click", hideShare);
  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("popstate", () => state.api && route());
  wirePrivacy(host);
}

showEmbedded();
wire();
const token = sessionStorage.getItem(TOKEN_KEY);
if (token) {
  let person = null;
  try {
    person = JSON.parse(sessionStorage.getItem(PERSON_KEY) || "null");
  } catch {
    person = null;
  }
  start(token, person);
} else {
  showOnly("login");
}
