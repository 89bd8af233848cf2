// The web messenger: how the person arrived and which accounts are linked. The ref
// of the link that opened a thread (a new thread passes it to Get Started, an
// existing one reports it as a referral), the notes of `?account_linking=`, the
// account_link and account_unlink buttons, and the thread header's linked mark.
//
// At `/plugins/customerchat` the messenger is the chat plugin ("embedded mode"),
// framed by a business's website through sdk.js: no thread list, the one Page of its
// `page_id`, refs with source CUSTOMER_CHAT_PLUGIN, and messages only to the parent
// whose origin the query names.
//
// The thread's state and actions stay app.js's: what needs them takes a `host` of
// `{ state, note, scrollToEnd, act }`, so this module never imports app.js.

import { ApiError } from "./api.js";
import { rememberTap } from "./record.js";
import { renderSystemLine, safeUrl } from "./render.js";

const $ = (id) => document.getElementById(id);

/** The chat plugin's query, or null outside it. */
export const EMBED = location.pathname === "/plugins/customerchat" ? embedQuery() : null;

function embedQuery() {
  const query = new URLSearchParams(location.search);
  return {
    appId: query.get("app_id") || "",
    pageId: query.get("page_id") || "",
    ref: query.get("ref") || null,
    origin: query.get("origin") || "",
    refererUri: query.get("referer_uri") || "",
  };
}

/** What `?account_linking=` says when the Page's site sends the person back. */
const LINKING = {
  linked: "Your account is linked.",
  cancelled: "Linking was cancelled.",
  expired: "That link expired; try again.",
};

// ---- arriving: the address's ref and `?account_linking=` ---------------------------

/** Before the thread of the address opens: the ref it carries (the chat plugin's
 * only once per load) and, outside the plugin, `?account_linking=`. */
export function readArrival(state) {
  if (EMBED) {
    state.linkRef = state.referralSent ? null : EMBED.ref;
    return;
  }
  const query = new URLSearchParams(location.search);
  state.linkRef = query.get("ref");
  state.linking = query.get("account_linking");
}

/** The source and referring page a ref is reported with. */
function referral(ref) {
  if (!EMBED) return { ref };
  const body = { ref, source: "CUSTOMER_CHAT_PLUGIN" };
  if (EMBED.refererUri) body.referer_uri = EMBED.refererUri;
  return body;
}

/** Once a thread is open: tell the Page about the ref of an existing thread, show
 * what `?account_linking=` says, and drop what was used from the address. */
export function afterOpen(host, isNewThread) {
  const { state } = host;
  const page = state.page;
  if (state.linking) {
    host.note(LINKING[state.linking] || "");
    state.linking = null;
  }
  const ref = state.linkRef;
  let used = false;
  if (ref && !isNewThread && !state.referralSent) {
    state.linkRef = null;
    state.referralSent = true;
    used = true;
    state.api.referral(page.username, referral(ref)).then(() => {
      if (state.page?.id !== page.id) return;
      const from = EMBED ? hostOf(EMBED.refererUri) : "a link";
      $("messages").append(renderSystemLine(`You opened this conversation from ${from}; ${page.name} was told.`));
      host.scrollToEnd();
    }, (e) => host.note(`${page.name} was not told about the link: ${e.message}`));
  }
  if (EMBED) return;
  const query = new URLSearchParams(location.search);
  const before = query.toString();
  query.delete("account_linking");
  if (used) query.delete("ref");
  const after = query.toString();
  if (after !== before) history.replaceState(null, "", location.pathname + (after ? `?${after}` : ""));
}

function hostOf(uri) {
  try {
    return new URL(uri).host || "a website";
  } catch {
    return "a website";
  }
}

/** The Get Started button, with the ref of the link that opened a new thread. */
export async function onGetStarted(host) {
  const { state } = host;
  const ref = state.linkRef;
  const tap = async () => {
    const answer = await state.api.getStarted(state.page.username, ref ? referral(ref) : undefined);
    rememberTap(answer?.mid, ref ? { kind: "get_started", ref } : { kind: "get_started" });
    return answer;
  };
  if (await host.act(tap)) {
    state.linkRef = null;
    if (ref) state.referralSent = true;
    // The ref is used: later visits to this address open the thread without it.
    if (!EMBED) history.replaceState(null, "", `/m/${encodeURIComponent(state.page.username)}`);
  }
}

// ---- the chat plugin ---------------------------------------------------------------

/** Marks the page as the chat plugin before anyone signs in. */
export function showEmbedded() {
  if (!EMBED) return;
  document.body.dataset.embedded = "on";
  $("no-thread").textContent = "Opening the chat…";
  $("embedded-sign-out").hidden = false;
}

/** Posts to the website framing the chat plugin, only to the origin its query names. */
function tellParent(message) {
  if (EMBED && window.parent !== window && EMBED.origin) window.parent.postMessage(message, EMBED.origin);
}

/** Whether the Page's app may show its chat here to this person; if not, asks the
 * website's sdk.js to remove the plugin. */
export async function embedAllowed(api) {
  try {
    await api.pluginAccess(EMBED.appId, EMBED.pageId, EMBED.origin);
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return false;
    $("no-thread").textContent = e.message;
    if (e instanceof ApiError) tellParent({ type: "switchboard:hide", reason: e.message });
    return false;
  }
}

// ---- account linking ---------------------------------------------------------------

/** An `account_link` button: the server answers the site's login URL with the token
 * added; the site sends the person back to `/m/{page}?account_linking=...`. */
export async function onAccountLink(host, msg, pointer) {
  const { state } = host;
  try {
    const answer = await state.api.accountLinking(state.page.username, msg.mid, pointer);
    const url = safeUrl(answer?.url);
    if (!url) throw new Error("the Page's login address cannot be opened");
    // Framed, the site's login could not show (nor should it): a tab of its own.
    if (EMBED) window.open(url, "_blank", "noopener");
    else location.assign(url);
  } catch (e) {
    host.note(`That did not work: ${e.message}`);
  }
}

/** An `account_unlink` button: the Page is told `unlinked`, and the mark goes. */
export async function onAccountUnlink(host, msg, pointer) {
  const { state } = host;
  if (await host.act(() => state.api.accountUnlinking(state.page.username, msg.mid, pointer), true)) {
    showAccountLinked(false);
    host.note("Your account is unlinked.");
  }
}

/** The thread header's mark of an account linked with the Page's site. */
export function showAccountLinked(linked) {
  $("account-linked").hidden = linked !== true;
}
