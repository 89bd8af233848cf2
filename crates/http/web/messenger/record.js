// The web messenger: "Save as test". The open thread becomes a BotiumScript
// conversation (`<page>.convo.txt`, docs/testing.md) that `switchboard test` replays
// against the same bot: each of the person's messages and taps a `#me` step, each
// Page message a `#bot` step with its text and asserters for what it carried. What
// the person tapped is remembered here as the taps happen (the thread's history
// shows a tap only as the person's message with the title). Touches no element of
// the page but its own button and the download link; the thread comes from app.js's
// state (the host), the note it leaves says what the file could not hold.

import { el } from "./render.js";

const TAPS_KEY = "switchboard.messenger.taps";
/** How many taps are remembered (the oldest are forgotten first). */
const MAX_TAPS = 500;
/** The longest conversation saved: the thread's latest messages, so that a thread
 * of years neither takes minutes to fetch nor makes a test nobody can read. */
export const MAX_MESSAGES = 500;
/** Messages per history call (the person API's largest page). */
const HISTORY_PAGE = 200;

// BotiumScript reads a line as a step, not as text, when its first word (after one
// `?` and one `!`) names an asserter, a person input or a logic hook of its own or of
// Switchboard's, and a line `#me`, `#bot`... starts a section.
const LOGIC_HOOKS = ["PAUSE", "WAITFORBOT", "SET_SCRIPTING_MEMORY", "CLEAR_SCRIPTING_MEMORY", "ASSIGN_SCRIPTING_MEMORY", "UPDATE_CUSTOM",
  "SKIP_BOT_UNCONSUMED", "INCLUDE", "CONDITIONAL_STEP_TIME_BASED", "CONDITIONAL_STEP_BUSINESS_HOURS", "CONDITIONAL_STEP_CAPABILITY_VALUE_BASED",
  "CONDITIONAL_STEP_JSON_PATH_BASED", "CONVO_STEP_PARAMETERS", "ORDERED_LIST_TO_BUTTON"];
const BOT_WORDS = new Set([...LOGIC_HOOKS, "BUTTONS", "BUTTONS_COUNT", "BUTTONS_COUNT_REC", "MEDIA", "MEDIA_COUNT", "MEDIA_COUNT_REC", "CARDS",
  "CARDS_COUNT", "CARDS_COUNT_REC", "PAUSE_ASSERTER", "JSON_PATH", "JSON_PATH_COUNT", "RESPONSE_LENGTH", "FORMS", "ENTITIES", "ENTITY_VALUES",
  "ENTITY_CONTENT", "INTENT", "INTENT_UNIQUE", "INTENT_CONFIDENCE", "TEXT", "TEXT_IC", "TEXT_WER", "BOT_CONSUMED", "BOT_UNCONSUMED_COUNT",
  "QUICK_REPLIES", "REFUSED", "INBOX"]);
const ME_WORDS = new Set([...LOGIC_HOOKS, "BUTTON", "MEDIA", "FORM", "QUICK_REPLY", "LOCATION", "GET_STARTED", "REF", "READ", "DELIVERED"]);
const SECTIONS = new Set(["me", "bot", "begin", "end", "include", "wait", "silence"]);

// ---- the taps the person made --------------------------------------------------

/**
 * Remembers that the person's message `mid` is a tap: `{kind: "quick_reply"}`,
 * `{kind: "button"}` (a postback button of a Page message), `{kind: "get_started",
 * ref?}`, or `{kind: "menu"}` (the persistent menu or an ice breaker). Kept in the
 * tab's session storage, so a reload still knows.
 */
export function rememberTap(mid, tap) {
  if (!mid) return;
  const taps = readTaps();
  delete taps[mid];
  taps[mid] = tap;
  const mids = Object.keys(taps);
  for (const old of mids.slice(0, Math.max(0, mids.length - MAX_TAPS))) delete taps[old];
  try {
    sessionStorage.setItem(TAPS_KEY, JSON.stringify(taps));
  } catch {
    // A full storage only costs the inference below.
  }
}

/** Signing out forgets them with the session. */
export function forgetTaps() {
  sessionStorage.removeItem(TAPS_KEY);
}

function readTaps() {
  try {
    const taps = JSON.parse(sessionStorage.getItem(TAPS_KEY) || "{}");
    return taps && typeof taps === "object" ? taps : {};
  } catch {
    return {};
  }
}

// ---- saving ------------------------------------------------------------------------

/** The "Save as test" control: fetches the rest of the history, then downloads the file. */
export async function saveAsTest(host, button) {
  const { state } = host;
  const page = state.page;
  if (!page) return;
  button.disabled = true;
  try {
    let thread;
    try {
      thread = await wholeThread(state);
    } catch (e) {
      host.note(`Cannot save the conversation: ${e.message}`);
      return;
    }
    if (state.page?.id !== page.id) return;
    const { text, leftOut } = convoText(page.name, thread, readTaps(), today());
    const filename = `${page.username || page.id}.convo.txt`;
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    const link = el("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    // The download has started by now; the object URL is no longer needed.
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    host.note(`Saved ${filename}${leftOut.length ? `: ${leftOut.join("; ")}` : ""}.`);
  } finally {
    button.disabled = false;
  }
}

/** The thread's messages, oldest first: what the page holds, and the older ones
 * fetched through the history API up to `MAX_MESSAGES`. */
async function wholeThread(state) {
  const held = state.messages.slice();
  const known = new Set(held.map((m) => m.mid));
  let older = [];
  let more = state.hasOlder;
  while (more && held.length + older.length < MAX_MESSAGES) {
    const oldest = older[0] || held[0];
    if (!oldest) break;
    const answer = await state.api.messages(state.page.username, oldest.mid, HISTORY_PAGE);
    const page = (answer?.messages || []).filter((m) => !known.has(m.mid));
    for (const m of page) known.add(m.mid);
    older = page.concat(older);
    more = page.length > 0 && (answer.messages || []).length >= HISTORY_PAGE;
  }
  const all = older.concat(held);
  return { messages: all.slice(-MAX_MESSAGES), cut: all.length > MAX_MESSAGES || more };
}

function today() {
  const now = new Date();
  const two = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}`;
}

// ---- the conversation as text ------------------------------------------------------

/**
 * The conversation file of `thread` (`{messages, cut}`), with what it had to leave
 * out, as phrases for the note (`["1 attachment left out"]`). `taps` are the
 * remembered taps by mid.
 */
export function convoText(pageName, thread, taps, date) {
  const { messages, cut } = thread;
  const lines = [`Recorded with ${pageName} on ${date}`, ""];
  const count = { attachments: 0, unwritable: 0, menu: 0 };
  messages.forEach((msg, index) => {
    if (msg.from === "page") {
      lines.push("#bot", ...botLines(msg), "");
      return;
    }
    // BotiumScript's MEDIA would need the file itself; stickers have no step at all.
    if (msg.attachment) {
      count.attachments += 1;
      return;
    }
    const tap = tapOf(msg, index, messages, taps);
    let step;
    if (tap?.kind === "get_started") step = [tap.ref ? `GET_STARTED ${tap.ref}` : "GET_STARTED"];
    else if (tap?.kind === "quick_reply" || tap?.kind === "button") step = [`BUTTON ${arg(msg.text)}`];
    else step = personText(msg.text || "");
    if (!step) {
      count.unwritable += 1;
      return;
    }
    // A menu item or an ice breaker has no step of its own: the bot gets its title
    // as text instead of the postback.
    if (tap?.kind === "menu") count.menu += 1;
    lines.push("#me", ...step, "");
  });
  const leftOut = [];
  if (cut) leftOut.push(`only the latest ${MAX_MESSAGES} messages`);
  if (count.attachments) leftOut.push(`${plural(count.attachments, "attachment")} left out`);
  if (count.unwritable) leftOut.push(`${plural(count.unwritable, "message")} BotiumScript cannot hold left out`);
  if (count.menu) leftOut.push(`${plural(count.menu, "menu tap")} saved as text`);
  return { text: lines.join("\n"), leftOut };
}

const plural = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;
const str = (value) => (typeof value === "string" ? value : value === undefined || value === null ? "" : String(value));

/** How the person's message came about: remembered, else inferred from what the
 * Page offered just before (a chip's or a button's exact title: a typed twin sends
 * the bot the same text, only without the payload). Null: typed. */
function tapOf(msg, index, messages, taps) {
  const known = taps[msg.mid];
  if (known) return known;
  if (!msg.text) return null;
  const previous = messages[index - 1];
  if (previous?.from === "page" && quickReplyTitles(previous).includes(msg.text)) return { kind: "quick_reply" };
  for (let i = index - 1; i >= 0 && messages[i].from === "page"; i--) {
    if (postbackTitles(messages[i]).includes(msg.text)) return { kind: "button" };
  }
  if (msg.text === "Get Started" && !messages.slice(0, index).some((m) => m.from === "person")) return { kind: "get_started" };
  return null;
}

function quickReplyTitles(msg) {
  const replies = Array.isArray(msg.quick_replies) ? msg.quick_replies : [];
  return replies.filter((r) => r?.content_type === "text").map((r) => str(r.title)).filter(Boolean);
}

function buttonsOf(msg) {
  const payload = msg.attachment?.type === "template" ? msg.attachment.payload || {} : {};
  const list = (buttons) => (Array.isArray(buttons) ? buttons : []);
  switch (payload.template_type) {
    case "button": return list(payload.buttons);
    case "media": return list(payload.elements?.[0]?.buttons);
    case "generic": return (Array.isArray(payload.elements) ? payload.elements : []).flatMap((e) => list(e?.buttons));
    default: return [];
  }
}

function postbackTitles(msg) {
  return buttonsOf(msg).filter((b) => b?.type === "postback").map((b) => str(b.title)).filter(Boolean);
}

/** A `#bot` step's lines: the text, then an asserter for each kind of thing it carried.
 * Receipts and opt-in requests have no asserter: their step accepts any message. */
function botLines(msg) {
  const attachment = msg.attachment;
  const payload = attachment?.payload || {};
  const template = attachment?.type === "template" ? payload.template_type : null;
  const text = msg.text || (template === "button" ? str(payload.text) : "");
  const lines = text ? textLines(text).map((line) => (isStep(line, BOT_WORDS) ? `*${line.slice(1)}` : line)) : [];
  escapeFirst(lines);
  const titles = (buttons) => (Array.isArray(buttons) ? buttons : []).map((b) => str(b?.title)).filter(Boolean);
  let buttons = [];
  let cards = [];
  const media = [];
  if (template === "button") buttons = titles(payload.buttons);
  else if (template === "generic") cards = (Array.isArray(payload.elements) ? payload.elements : []).map((e) => str(e?.title)).filter(Boolean);
  else if (template === "media") {
    const element = payload.elements?.[0] || {};
    if (lastSegment(element.url)) media.push(lastSegment(element.url));
    buttons = titles(element.buttons);
  } else if (attachment && lastSegment(payload.url)) media.push(lastSegment(payload.url));
  const replies = quickReplyTitles(msg);
  if (buttons.length) lines.push(`BUTTONS ${buttons.map(arg).join("|")}`);
  if (replies.length) lines.push(`QUICK_REPLIES ${replies.map(arg).join("|")}`);
  if (cards.length) lines.push(`CARDS ${cards.map(arg).join("|")}`);
  if (media.length) lines.push(`MEDIA ${media.map(arg).join("|")}`);
  return lines;
}

/** The `#me` lines of a typed message, or null when a line would read as a step
 * (a person's text cannot be escaped: it is sent as written). */
function personText(text) {
  const lines = textLines(text);
  if (lines.some((line) => isStep(line, ME_WORDS))) return null;
  escapeFirst(lines);
  return lines;
}

function textLines(text) {
  return text.replace(/\r\n?/g, "\n").split("\n");
}

/** Whether BotiumScript reads the line as an asserter, input, logic hook or section
 * (for a Page's text, the caller turns its first character into the wildcard `*`). */
function isStep(line, words) {
  if (line.startsWith("#") && SECTIONS.has(line.slice(1).split(" ")[0])) return true;
  let logic = line;
  if (logic.startsWith("?")) logic = logic.slice(1);
  if (logic.startsWith("!")) logic = logic.slice(1);
  return words.has(logic.split(" ")[0]);
}

/** A first text line opening with `?` (optional) or `!` (negated) has it doubled, the
 * literal form; Botium looks at the first line only. */
function escapeFirst(lines) {
  if (lines.length && (lines[0].startsWith("?") || lines[0].startsWith("!"))) lines[0] = lines[0][0] + lines[0];
}

/** An argument of an asserter or input: `|` separates them, `\|` is a literal bar. */
function arg(value) {
  return str(value).replace(/\|/g, "\\|");
}

/** The end of a media URL, as `MEDIA` matches it. */
function lastSegment(url) {
  if (typeof url !== "string" || !url) return "";
  try {
    return new URL(url, location.href).pathname.split("/").pop() || "";
  } catch {
    return "";
  }
}
