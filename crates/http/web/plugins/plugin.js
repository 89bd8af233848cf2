// What the plugin pages share (Send to Messenger and the checkbox, framed on a
// business's website by sdk.js): their query, the person's plugin session, the
// compact sign-in form, the access check, and messages to the embedding page.
//
// The session lives in localStorage under `switchboard.plugin.session`: a framed page
// cannot reach the messenger's sessionStorage. Messages go only to the parent, and
// only to the origin the query names (which the server checked against the Page's
// whitelisted domains); messages from the parent are read only from that origin.

import { Api, ApiError, login } from "/web/messenger/api.js";

export const $ = (id) => document.getElementById(id);
const SESSION_KEY = "switchboard.plugin.session";

const params = new URLSearchParams(location.search);
/** The plugin's query, as sdk.js built it. */
export const query = Object.freeze({
  appId: params.get("app_id") || "",
  pageId: params.get("page_id") || "",
  ref: params.get("ref") || "",
  origin: params.get("origin") || "",
  userRef: params.get("user_ref") || "",
  color: params.get("color") === "white" ? "white" : "blue",
  size: ["standard", "large", "xlarge"].includes(params.get("size")) ? params.get("size") : "large",
  prechecked: params.get("prechecked") === "true" || params.get("prechecked") === "1",
});

/** Whether this page is framed by the origin its query names (as far as the browser tells). */
function framedByOrigin() {
  if (window.parent === window || !query.origin) return false;
  const ancestors = location.ancestorOrigins;
  if (ancestors && ancestors.length > 0 && ancestors[0] !== "null") return ancestors[0] === query.origin;
  return true;
}

/** Posts to the embedding page (sdk.js), and only to the origin in the query. */
function post(message) {
  if (window.parent !== window && query.origin) window.parent.postMessage(message, query.origin);
}

/** Reports an `FB.Event` to the site (`send_to_messenger`, `messenger_checkbox`). */
export function emit(name, payload) {
  post({ type: "switchboard:event", name, payload });
}

/** Asks sdk.js to remove this plugin, with the reason it logs. */
export function hide(reason) {
  post({ type: "switchboard:hide", reason });
}

/** Calls `handler(data)` for each message from the embedding page's origin. */
export function onParentMessage(handler) {
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || event.origin !== query.origin) return;
    if (!event.data || typeof event.data !== "object") return;
    handler(event.data);
  });
}

/** Keeps the iframe as tall as the plugin's content. */
function watchSize() {
  let last = 0;
  const report = () => {
    const height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      post({ type: "switchboard:resize", height });
    }
  };
  new ResizeObserver(report).observe(document.body);
  report();
}

export function showError(message) {
  const error = document.querySelector(".plugin-error");
  error.textContent = message;
  error.hidden = !message;
}

/** Whether a refusal means the stored session is dead (signed out, expired). */
function deadSession(error) {
  return error instanceof ApiError && (error.status === 401 || error.body?.error?.code === 190);
}

function forget() {
  localStorage.removeItem(SESSION_KEY);
}

/**
 * Starts a plugin: signs the person in if needed, checks that this Page's app may
 * show here to this person (`GET /plugins/access`), then calls
 * `onReady(api, access, signOut)`; `views` lists the ids of the plugin's own views,
 * hidden while the sign-in form shows. A refusal calls `onRefused(reason)` (if given)
 * and asks sdk.js to hide the plugin.
 */
export function startPlugin(views, onReady, onRefused) {
  watchSize();
  const form = $("plugin-sign-in-form");
  const showViews = (shown) => {
    for (const id of views) $(id).hidden = !shown;
  };
  const showSignIn = () => {
    showViews(false);
    form.hidden = false;
  };
  const signOut = async (api) => {
    forget();
    await api?.logout().catch(() => {});
    showError("");
    showSignIn();
  };
  const refuse = (reason) => {
    showViews(false);
    form.hidden = true;
    showError(reason);
    onRefused?.(reason);
    hide(reason);
  };
  const open = async (token) => {
    const api = new Api(token, () => {
      forget();
      showSignIn();
    });
    let access;
    try {
      access = await api.pluginAccess(query.appId, query.pageId, query.origin);
    } catch (error) {
      if (deadSession(error)) {
        forget();
        showSignIn();
      } else if (error instanceof ApiError) {
        refuse(error.message);
      } else {
        showError(`Cannot reach Switchboard: ${error.message}`);
      }
      return;
    }
    form.hidden = true;
    showError("");
    showViews(true);
    onReady(api, access, () => signOut(api));
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    $("plugin-sign-in").disabled = true;
    showError("");
    try {
      const answer = await login($("plugin-login").value.trim(), $("plugin-password").value);
      localStorage.setItem(SESSION_KEY, answer.access_token);
      $("plugin-password").value = "";
      await open(answer.access_token);
    } catch (error) {
      if (error instanceof ApiError && error.status === 429) showError(error.message);
      else showError(error instanceof ApiError && error.status < 500 ? "Wrong login or password." : `Cannot sign in: ${error.message}`);
    } finally {
      $("plugin-sign-in").disabled = false;
    }
  });

  if (!framedByOrigin()) {
    refuse(`this plugin is not framed by ${query.origin || "the origin it names"}`);
    return;
  }
  if (!query.appId || !query.pageId) {
    refuse("the plugin names no app or no Page");
    return;
  }
  const token = localStorage.getItem(SESSION_KEY);
  if (token) open(token);
  else showSignIn();
}
