// The web messenger: the person API client. One method per endpoint of
// docs/person-api.md, and the live event stream read with fetch (EventSource cannot
// send the Authorization header). Knows nothing of the page's elements.

const BASE = "/person/v1";

/** A refusal from the server: its HTTP status and the Graph envelope's message. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

const seg = (value) => encodeURIComponent(String(value));

async function answer(response) {
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, body?.error?.message, body);
  }
  return body;
}

/** Signs in; answers `{access_token, person}`. */
export async function login(loginName, password) {
  const response = await fetch(`${BASE}/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ login: loginName, password }),
  });
  return answer(response);
}

export class Api {
  /** `onUnauthorized` runs when the session is no longer valid (401). */
  constructor(token, onUnauthorized) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  /** Ends the session on the server: the token stops working at once. */
  logout() {
    return this.call("POST", "/logout");
  }

  async call(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}` };
    const init = { method, headers };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(BASE + path, init);
    if (response.status === 401) {
      this.onUnauthorized?.();
    }
    return answer(response);
  }

  me() { return this.call("GET", "/me"); }
  threads() { return this.call("GET", "/threads"); }
  page(ref) { return this.call("GET", `/pages/${seg(ref)}`); }
  welcome(page) { return this.call("GET", `/pages/${seg(page)}/welcome`); }

  /** Pages by name or username. Until `GET /pages?q=` exists, an exact username. */
  async findPages(query) {
    try {
      const found = await this.call("GET", `/pages?q=${encodeURIComponent(query)}`);
      if (Array.isArray(found?.data)) return found.data;
    } catch (error) {
      if (error.status === 401) throw error;
    }
    try {
      return [await this.page(query.trim().replace(/^@/, ""))];
    } catch (error) {
      if (error.status === 401) throw error;
      return [];
    }
  }

  messages(page, before, limit = 50) {
    const query = before ? `?before=${encodeURIComponent(before)}&limit=${limit}` : `?limit=${limit}`;
    return this.call("GET", `/threads/${seg(page)}/messages${query}`);
  }

  sendText(page, text, replyTo) {
    const body = { text };
    if (replyTo) body.reply_to = replyTo;
    return this.call("POST", `/threads/${seg(page)}/messages`, body);
  }

  sendSticker(page, stickerId, replyTo) {
    const body = { sticker_id: stickerId };
    if (replyTo) body.reply_to = replyTo;
    return this.call("POST", `/threads/${seg(page)}/messages`, body);
  }

  /** A message of the person's, with new text: answers the message. */
  edit(page, mid, text) { return this.call("PUT", `/threads/${seg(page)}/messages/${seg(mid)}`, { text }); }

  /** `feedback`: "good" or "bad". */
  rate(page, mid, feedback) { return this.call("PUT", `/threads/${seg(page)}/messages/${seg(mid)}/feedback`, { feedback }); }

  quickReply(page, mid, index, value) {
    const choice = { mid, index };
    if (value !== undefined) choice.value = value;
    return this.call("POST", `/threads/${seg(page)}/messages`, { quick_reply: choice });
  }

  /** `tap` is `{mid, button}`, `{menu}` or `{ice_breaker}`. */
  postback(page, tap) { return this.call("POST", `/threads/${seg(page)}/postbacks`, tap); }

  /** `referral`: `{ref, source?, referer_uri?}` of the link or plugin that opened a new thread. */
  getStarted(page, referral) {
    return this.call("POST", `/threads/${seg(page)}/get-started`, referral?.ref ? referral : {});
  }

  /** A link or plugin with a ref opened a thread that has messages: `{ref, source?, referer_uri?}`. */
  referral(page, referral) { return this.call("POST", `/threads/${seg(page)}/referral`, referral); }

  /** An `account_link` button tapped: answers `{url}`, the site's login with the token. */
  accountLinking(page, mid, button) { return this.call("POST", `/threads/${seg(page)}/account_linking`, { mid, button }); }

  /** An `account_unlink` button tapped. */
  accountUnlinking(page, mid, button) { return this.call("POST", `/threads/${seg(page)}/account_unlinking`, { mid, button }); }

  /** Whether the Page's app may show a plugin on `origin` to this person: `{page, person, app_mode}`. */
  pluginAccess(appId, pageId, origin) {
    const query = new URLSearchParams({ app_id: appId, page_id: pageId, origin });
    return this.call("GET", `/plugins/access?${query}`);
  }

  /** Send to Messenger: `{app_id, page_id, ref?, origin}` → `{page}`. */
  pluginSendToMessenger(body) { return this.call("POST", "/plugins/send_to_messenger", body); }

  /** The checkbox confirmed: `{app_id, page_id, user_ref, ref?, origin}` → `{success}`. */
  pluginCheckbox(body) { return this.call("POST", "/plugins/checkbox", body); }

  react(page, mid, emoji) {
    return this.call("PUT", `/threads/${seg(page)}/messages/${seg(mid)}/reaction`, { emoji });
  }

  unreact(page, mid) { return this.call("DELETE", `/threads/${seg(page)}/messages/${seg(mid)}/reaction`); }

  upload(page, file) {
    const form = new FormData();
    form.append("file", file, file.name);
    return this.call("POST", `/threads/${seg(page)}/attachments`, form);
  }

  notifyMe(page, mid) { return this.call("POST", `/threads/${seg(page)}/messages/${seg(mid)}/notify-me`, {}); }

  /** `action`: "" (accept), "stop" or "resume". */
  notifications(page, mid, action) {
    const suffix = action ? `/${action}` : "";
    return this.call("POST", `/threads/${seg(page)}/messages/${seg(mid)}/notifications${suffix}`, {});
  }

  delivered(page) { return this.call("POST", `/threads/${seg(page)}/delivered`, {}); }
  read(page) { return this.call("POST", `/threads/${seg(page)}/read`, {}); }

  /** Deletes the conversation for this person; a new message starts it again. */
  deleteThread(page) { return this.call("DELETE", `/threads/${seg(page)}`); }
  block(page) { return this.call("POST", `/pages/${seg(page)}/block`, {}); }
  report(page) { return this.call("POST", `/pages/${seg(page)}/report`, {}); }
  unblock(page) { return this.call("DELETE", `/pages/${seg(page)}/block`); }
  /** `{data: [{page: {id, name, username}, blocked_at}]}`. */
  blocks() { return this.call("GET", "/blocks"); }

  /** Erases the account. Not through `call`: a refused password is the dialog's to
   * show, not a lost session. */
  async deleteAccount(password) {
    const response = await fetch(`${BASE}/me`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ password }),
    });
    return answer(response);
  }

  /** Everything the server keeps about the person: `{blob, filename}`. */
  async exportData() {
    const response = await fetch(`${BASE}/me/export`, { headers: { Authorization: `Bearer ${this.token}` } });
    if (response.status === 401) this.onUnauthorized?.();
    if (!response.ok) return answer(response);
    const disposition = response.headers.get("Content-Disposition") || "";
    const filename = disposition.match(/filename="?([^";]+)"?/)?.[1] || "switchboard-export.json";
    return { blob: await response.blob(), filename };
  }

  /**
   * Reads `GET /events` until `stop()` is called, reconnecting with backoff.
   * `onEvent(event)` gets each parsed `data:` object; `onState(connected)` tells when
   * the stream opens or drops (a reconnect should catch up from the history).
   */
  listen(onEvent, onState) {
    let stopped = false;
    let controller = null;
    let delay = 500;
    const run = async () => {
      while (!stopped) {
        controller = new AbortController();
        try {
          const response = await fetch(`${BASE}/events`, {
            headers: { Authorization: `Bearer ${this.token}`, Accept: "text/event-stream" },
            signal: controller.signal,
            cache: "no-store",
          });
          if (response.status === 401) {
            this.onUnauthorized?.();
            return;
          }
          if (!response.ok || !response.body) throw new Error(`events: HTTP ${response.status}`);
          delay = 500;
          onState(true);
          await readStream(response.body, onEvent);
        } catch (error) {
          if (stopped) return;
        }
        onState(false);
        if (stopped) return;
        await new Promise((resolve) => setTimeout(resolve, delay + Math.random() * delay * 0.3));
        delay = Math.min(delay * 2, 30000);
      }
    };
    run();
    return () => {
      stopped = true;
      controller?.abort();
    };
  }
}

/** Parses server-sent events: frames end with a blank line; JSON is on `data:` lines. */
async function readStream(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (!data) continue;
      let event;
      try {
        event = JSON.parse(data);
      } catch {
        continue;
      }
      onEvent(event);
    }
  }
}
