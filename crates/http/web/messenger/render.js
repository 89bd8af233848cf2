// The web messenger: rendering of messages (text, media, every template, buttons),
// quick replies and thread previews. Every piece of bot-supplied text goes through
// textContent, and a URL from a bot becomes a link only when it is http(s) (or a
// path of this server), so nothing a bot sends can run in this page.
// What a tap does is the caller's: each function takes a `ctx` of callbacks.

export const REACTIONS = ["❤️", "😆", "😮", "😢", "😠", "👍"];

/** Meta's like sticker, the one the 👍 button by the composer sends. */
export const LIKE_STICKER = "369239263222822";
/** The like sticker and its larger variants, for the image's label. */
const LIKE_STICKERS = new Set([LIKE_STICKER, "369239343222814", "369239383222810"]);

/** How long after sending, and how many times, a person may edit a message (the
 * server's rules; the page only hides what the server would refuse). */
const EDIT_WINDOW_MS = 15 * 60 * 1000;
const MAX_EDITS = 5;

/** A DOM element with classes, attributes and children (strings become text). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** The URL if it is safe to open from this page (http, https, or this server), else null. */
export function safeUrl(url) {
  if (typeof url !== "string" || !url) return null;
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** A link opening a bot's URL in a new tab, or an inert span for an unsafe one. */
function externalLink(url, label, className) {
  const href = safeUrl(url);
  if (!href) return el("span", { class: `${className} disabled`, text: label, title: "This link cannot be opened" });
  return el("a", { class: className, href, target: "_blank", rel: "noopener noreferrer", text: label });
}

/** Hides a decorative picture that failed to load rather than show a broken image. */
function hideBroken(event) {
  event.target.hidden = true;
}

const str = (value) => (typeof value === "string" ? value : value === undefined || value === null ? "" : String(value));

/** A button of a template or the menu; `pointer` locates it in the attachment payload. */
export function renderButton(button, pointer, msg, ctx) {
  const title = str(button?.title);
  switch (button?.type) {
    case "postback":
      return el("button", { type: "button", class: "button postback", text: title, onclick: () => ctx.postback(msg, pointer, title) });
    case "web_url":
      return externalLink(button.url, title || "Open", "button web-url");
    case "phone_number": {
      const number = str(button.payload).replace(/[^+\d]/g, "");
      if (!number) return el("span", { class: "button disabled", text: title });
      return el("a", { class: "button phone", href: `tel:${number}`, text: title || number, "aria-label": `Call ${title || number} (${number})` });
    }
    case "account_link":
      // Linking starts from a message: the server adds the token to the site's URL.
      if (!msg) return el("span", { class: "button disabled", text: title || "Log in", title: "Linking starts from a message" });
      return el("button", { type: "button", class: "button account-link", text: title || "Log in", onclick: () => ctx.accountLink(msg, pointer) });
    case "account_unlink":
      if (!msg) return el("span", { class: "button disabled", text: title || "Log out", title: "Unlinking starts from a message" });
      return el("button", { type: "button", class: "button account-unlink", text: title || "Log out", onclick: () => ctx.accountUnlink(msg, pointer) });
    default:
      return el("span", { class: "button disabled", text: title || "Unsupported button", title: "Not supported here" });
  }
}

function renderButtons(buttons, base, msg, ctx) {
  if (!Array.isArray(buttons) || buttons.length === 0) return null;
  return el("div", { class: "buttons" }, buttons.map((b, i) => renderButton(b, `${base}/buttons/${i}`, msg, ctx)));
}

function renderMedia(attachment) {
  const url = safeUrl(attachment.payload?.url);
  if (!url) return el("p", { class: "bubble unsupported", text: "An attachment that cannot be shown" });
  switch (attachment.type) {
    case "image":
      return el("a", { class: "media", href: url, target: "_blank", rel: "noopener noreferrer", "aria-label": "Open the image" },
        el("img", { src: url, alt: "Image", loading: "lazy" }));
    case "video":
      return el("div", { class: "media" }, el("video", { src: url, controls: true, preload: "metadata", "aria-label": "Video" }));
    case "audio":
      return el("div", { class: "media" }, el("audio", { src: url, controls: true, preload: "metadata", "aria-label": "Audio" }));
    default: {
      const name = decodeURIComponent(url.split("/").pop()?.split("?")[0] || "file");
      return el("a", { class: "file-link bubble", href: url, download: name, target: "_blank", rel: "noopener noreferrer" }, `Download ${name}`);
    }
  }
}

function renderGeneric(payload, msg, ctx) {
  const ratio = payload.image_aspect_ratio === "square" ? "square" : "horizontal";
  const elements = Array.isArray(payload.elements) ? payload.elements : [];
  const cards = elements.map((element, i) => {
    const image = safeUrl(element.image_url) ? el("img", { class: `card-image ${ratio}`, src: safeUrl(element.image_url), alt: "", loading: "lazy", onerror: hideBroken }) : null;
    const title = el("h3", { class: "card-title", text: str(element.title) });
    const subtitle = element.subtitle ? el("p", { class: "card-subtitle", text: str(element.subtitle) }) : null;
    const action = element.default_action?.type === "web_url" ? safeUrl(element.default_action.url) : null;
    // The default action makes the card's picture and words one link.
    const top = action
      ? el("a", { class: "card-link", href: action, target: "_blank", rel: "noopener noreferrer" }, image, title, subtitle)
      : el("div", { class: "card-top" }, image, title, subtitle);
    return el("li", { class: "card" }, top, renderButtons(element.buttons, `/elements/${i}`, msg, ctx));
  });
  return el("ul", { class: "carousel", "aria-label": `${cards.length} card${cards.length === 1 ? "" : "s"}` }, cards);
}

function money(amount, currency) {
  const number = Number(amount);
  if (!Number.isFinite(number)) return str(amount);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD" }).format(number);
  } catch {
    return `${number.toFixed(2)} ${str(currency)}`.trim();
  }
}

function renderReceipt(payload) {
  const currency = payload.currency;
  const row = (label, value, cls) => el("div", { class: `row ${cls || ""}` }, el("dt", { text: label }), el("dd", { text: value }));
  const items = (Array.isArray(payload.elements) ? payload.elements : []).map((item) =>
    el("li", { class: "receipt-item" },
      safeUrl(item.image_url) ? el("img", { src: safeUrl(item.image_url), alt: "", loading: "lazy" }) : null,
      el("div", { class: "item-text" },
        el("strong", { text: str(item.title) }),
        item.subtitle ? el("span", { class: "muted", text: str(item.subtitle) }) : null,
        item.quantity ? el("span", { class: "muted", text: `Qty ${item.quantity}` }) : null),
      el("span", { class: "price", text: money(item.price, item.currency || currency) })));
  const summary = payload.summary || {};
  const address = payload.address;
  const details = [];
  if (payload.recipient_name) details.push(row("Recipient", str(payload.recipient_name)));
  if (payload.order_number) details.push(row("Order number", str(payload.order_number), "order-number"));
  if (payload.payment_method) details.push(row("Payment", str(payload.payment_method)));
  const totals = [];
  if (summary.subtotal !== undefined) totals.push(row("Subtotal", money(summary.subtotal, currency)));
  for (const adjustment of Array.isArray(payload.adjustments) ? payload.adjustments : []) {
    totals.push(row(str(adjustment.name), `−${money(adjustment.amount, currency)}`));
  }
  if (summary.shipping_cost !== undefined) totals.push(row("Shipping", money(summary.shipping_cost, currency)));
  if (summary.total_tax !== undefined) totals.push(row("Tax", money(summary.total_tax, currency)));
  totals.push(row("Total", money(summary.total_cost, currency), "total"));
  const addressLines = address
    ? [address.street_1, address.street_2, [address.city, address.state, address.postal_code].filter(Boolean).join(" "), address.country].filter(Boolean).map(str)
    : [];
  return el("section", { class: "receipt", "aria-label": "Receipt" },
    el("h3", { text: payload.merchant_name ? `Receipt from ${str(payload.merchant_name)}` : "Order confirmation" }),
    el("dl", { class: "details" }, details),
    el("ul", { class: "receipt-items" }, items),
    addressLines.length ? el("address", { class: "receipt-address" }, el("span", { class: "muted", text: "Ship to" }), addressLines.map((l) => el("span", { text: l }))) : null,
    el("dl", { class: "summary" }, totals),
    payload.order_url ? externalLink(payload.order_url, "View order", "button web-url") : null);
}

function renderMediaTemplate(payload, msg, ctx) {
  const element = Array.isArray(payload.elements) ? payload.elements[0] || {} : {};
  const url = safeUrl(element.url);
  let media;
  if (!url) media = el("p", { class: "unsupported", text: "Media that cannot be shown" });
  else if (element.media_type === "video") media = el("video", { src: url, controls: true, preload: "metadata", "aria-label": "Video" });
  else media = el("img", { src: url, alt: "Image", loading: "lazy" });
  return el("div", { class: "media-template" }, el("div", { class: "media" }, media), renderButtons(element.buttons, "/elements/0", msg, ctx));
}

function renderOneTimeRequest(payload, msg, ctx) {
  const state = ctx.optin(msg.mid);
  const button = el("button", {
    type: "button",
    class: "button notify-me",
    text: state === "accepted" ? "You'll be notified" : "Notify me",
    disabled: state === "accepted",
    onclick: () => ctx.notifyMe(msg),
  });
  return el("div", { class: "template optin" }, el("p", { class: "optin-title", text: str(payload.title) }), el("div", { class: "buttons" }, button));
}

const CTA = { ALLOW: "Allow messages", FREQUENCY: "Get messages", GET: "Get messages", OPT_IN: "Opt in to messages", SIGN_UP: "Sign up for messages" };
const FREQUENCY = { DAILY: "daily", WEEKLY: "weekly", MONTHLY: "monthly" };

function renderNotificationRequest(payload, msg, ctx) {
  const state = ctx.optin(msg.mid);
  let buttons;
  if (state === "accepted" || state === "resumed") {
    buttons = [el("button", { type: "button", class: "button notifications-stop", text: "Stop messages", onclick: () => ctx.notifications(msg, "stop") })];
  } else if (state === "stopped") {
    buttons = [el("button", { type: "button", class: "button notifications-resume", text: "Resume messages", onclick: () => ctx.notifications(msg, "resume") })];
  } else {
    const label = CTA[payload.notification_messages_cta_text] || "Get messages";
    buttons = [el("button", { type: "button", class: "button notifications-accept", text: label, onclick: () => ctx.notifications(msg, "") })];
  }
  const frequency = FREQUENCY[payload.notification_messages_frequency];
  return el("div", { class: "template optin" },
    safeUrl(payload.image_url) ? el("img", { class: "card-image horizontal", src: safeUrl(payload.image_url), alt: "", loading: "lazy" }) : null,
    el("p", { class: "optin-title", text: str(payload.title) }),
    frequency ? el("p", { class: "muted", text: `Up to one message ${frequency === "daily" ? "a day" : frequency === "weekly" ? "a week" : "a month"}.` }) : null,
    state === "stopped" ? el("p", { class: "muted", text: "You stopped these messages." }) : null,
    el("div", { class: "buttons" }, buttons));
}

function renderTemplate(payload, msg, ctx) {
  switch (payload?.template_type) {
    case "generic":
      return renderGeneric(payload, msg, ctx);
    case "button":
      return el("div", { class: "template button-template" }, el("p", { class: "template-text", text: str(payload.text) }), renderButtons(payload.buttons, "", msg, ctx));
    case "media":
      return renderMediaTemplate(payload, msg, ctx);
    case "receipt":
      return renderReceipt(payload);
    case "one_time_notif_req":
      return renderOneTimeRequest(payload, msg, ctx);
    case "notification_messages":
      return renderNotificationRequest(payload, msg, ctx);
    default:
      return el("p", { class: "bubble unsupported", text: "A message this app cannot show yet" });
  }
}

function renderSticker(attachment) {
  const url = safeUrl(attachment.payload?.url);
  if (!url) return el("p", { class: "bubble unsupported", text: "A sticker that cannot be shown" });
  const like = LIKE_STICKERS.has(str(attachment.payload?.sticker_id));
  return el("img", { class: "sticker", src: url, alt: like ? "Like sticker" : "Sticker", "data-sticker": str(attachment.payload?.sticker_id), onerror: hideBroken });
}

/** A location pin the person shared: its coordinates, as text. */
function renderLocation(attachment) {
  const { lat, long } = attachment.payload?.coordinates || {};
  if (typeof lat !== "number" || typeof long !== "number") return el("p", { class: "bubble unsupported", text: "A location that cannot be shown" });
  return el("p", { class: "bubble location", text: `📍 ${lat}, ${long}` });
}

function renderAttachment(attachment, msg, ctx) {
  if (!attachment || typeof attachment !== "object") return null;
  if (attachment.type === "template") return renderTemplate(attachment.payload || {}, msg, ctx);
  if (attachment.type === "sticker") return renderSticker(attachment);
  if (attachment.type === "location") return renderLocation(attachment);
  return renderMedia(attachment);
}

/** Whether the person may still edit a message of theirs: text, recent, edits left. */
export function editable(msg, now = Date.now()) {
  return msg?.from === "person" && Boolean(msg.text) && !msg.attachment && (msg.edits || 0) < MAX_EDITS && now - msg.created_at <= EDIT_WINDOW_MS;
}

/** One line about a message, for quotes, the thread list and the reply bar. */
export function describe(msg) {
  if (!msg) return "";
  if (msg.text) return msg.text;
  const attachment = msg.attachment;
  if (!attachment) return "";
  if (attachment.type === "template") {
    const payload = attachment.payload || {};
    switch (payload.template_type) {
      case "generic": return `Card: ${str(payload.elements?.[0]?.title) || "cards"}`;
      case "button": return str(payload.text);
      case "receipt": return `Receipt${payload.order_number ? ` for order ${str(payload.order_number)}` : ""}`;
      case "media": return payload.elements?.[0]?.media_type === "video" ? "Video" : "Photo";
      case "one_time_notif_req":
      case "notification_messages": return `Notification request: ${str(payload.title)}`;
      default: return "Message";
    }
  }
  return { image: "Photo", video: "Video", audio: "Audio", file: "File", sticker: "Sticker", location: "Location" }[attachment.type] || "Attachment";
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

/**
 * A message as an <li>. `ctx`: `pageName`, `quoted(mid)`, `seen(msg)`, `optin(mid)`,
 * and the actions `postback`, `accountLink`, `accountUnlink`, `reply`, `react`,
 * `edit`, `rate`, `notifyMe`, `notifications`, `note`.
 */
export function renderMessage(msg, ctx) {
  const mine = msg.from === "person";
  const li = el("li", { class: `message ${mine ? "from-person" : "from-page"}`, "data-mid": msg.mid });
  const who = mine ? "You" : msg.persona?.name || ctx.pageName;
  if (!mine && msg.persona) {
    const picture = safeUrl(msg.persona.profile_picture_url);
    li.append(el("div", { class: "sender persona" }, picture ? el("img", { class: "persona-picture", src: picture, alt: "", onerror: hideBroken }) : null, el("span", { class: "persona-name", text: str(msg.persona.name) })));
  }
  li.append(el("span", { class: "visually-hidden", text: `${who} said:` }));
  if (msg.reply_to) {
    const quoted = ctx.quoted(msg.reply_to);
    li.append(el("blockquote", { class: "quote" }, el("span", { class: "quote-label", text: mine ? "You replied to" : "Replied to" }), el("span", { class: "quote-text", text: quoted ? describe(quoted) || "a message" : "an earlier message" })));
  }
  if (msg.text) li.append(el("p", { class: "bubble text", text: msg.text }));
  const attachment = renderAttachment(msg.attachment, msg, ctx);
  if (attachment) li.append(attachment);

  const reactions = msg.reactions || {};
  if (reactions.page || reactions.person) {
    const parts = [];
    if (reactions.page) parts.push(el("span", { class: "reaction by-page", title: `${ctx.pageName} reacted`, "aria-label": `${ctx.pageName} reacted ${reactions.page}`, text: reactions.page }));
    if (reactions.person) parts.push(el("span", { class: "reaction by-person", title: "You reacted", "aria-label": `You reacted ${reactions.person}`, text: reactions.person }));
    li.append(el("div", { class: "reactions" }, parts));
  }

  const meta = el("div", { class: "meta" });
  const time = new Date(msg.created_at);
  if (!Number.isNaN(time.getTime())) meta.append(el("time", { datetime: time.toISOString(), text: timeFormat.format(time) }));
  if (msg.edits) meta.append(el("span", { class: "edited", title: `Edited ${msg.edits} time${msg.edits === 1 ? "" : "s"}`, text: "Edited" }));
  if (mine) meta.append(el("span", { class: "status", text: ctx.seen(msg) ? "Seen" : "Sent" }));
  const actions = el("div", { class: "actions" },
    el("button", { type: "button", class: "action reply-button", "aria-label": `Reply to: ${describe(msg).slice(0, 60)}`, text: "Reply", onclick: () => ctx.reply(msg) }));
  if (mine && editable(msg)) {
    actions.append(el("button", { type: "button", class: "action edit-button", "aria-label": `Edit: ${describe(msg).slice(0, 60)}`, text: "Edit", onclick: () => ctx.edit(msg) }));
  }
  if (!mine) {
    const rate = (feedback, emoji, label) => el("button", {
      type: "button",
      class: `action rate rate-${feedback}${msg.feedback === feedback ? " chosen" : ""}`,
      "aria-label": label,
      "aria-pressed": msg.feedback === feedback ? "true" : "false",
      title: label,
      text: emoji,
      onclick: () => ctx.rate(msg, feedback),
    });
    actions.append(el("span", { class: "rating", role: "group", "aria-label": "Rate this answer" },
      rate("good", "👍", "Good response"), rate("bad", "👎", "Bad response")));
    const picker = el("div", { class: "picker", role: "group", "aria-label": "Reactions", hidden: true },
      REACTIONS.map((emoji) => el("button", {
        type: "button",
        class: `emoji${reactions.person === emoji ? " chosen" : ""}`,
        "aria-label": reactions.person === emoji ? `Remove ${emoji}` : `React ${emoji}`,
        "aria-pressed": reactions.person === emoji ? "true" : "false",
        text: emoji,
        onclick: () => ctx.react(msg, emoji),
      })));
    const toggle = el("button", { type: "button", class: "action react-button", "aria-expanded": "false", "aria-label": "React to this message", text: "React" });
    toggle.addEventListener("click", () => {
      picker.hidden = !picker.hidden;
      toggle.setAttribute("aria-expanded", String(!picker.hidden));
      if (!picker.hidden) picker.querySelector("button")?.focus();
    });
    picker.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        picker.hidden = true;
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
    actions.append(toggle, picker);
  }
  meta.append(actions);
  li.append(meta);
  return li;
}

/** The quick-reply chips of a Page message. */
export function renderQuickReplies(msg, ctx) {
  const replies = Array.isArray(msg?.quick_replies) ? msg.quick_replies : [];
  return replies.map((reply, index) => {
    switch (reply?.content_type) {
      case "user_email":
        return el("button", { type: "button", class: "quick-reply", text: "Share my email", onclick: () => ctx.shareEmail(msg, index) });
      case "user_phone_number":
        return el("button", { type: "button", class: "quick-reply", text: "Share my phone number", onclick: () => ctx.sharePhone(msg, index) });
      default: {
        const picture = safeUrl(reply?.image_url);
        return el("button", { type: "button", class: "quick-reply", onclick: () => ctx.quickReply(msg, index) },
          picture ? el("img", { src: picture, alt: "", onerror: hideBroken }) : null, str(reply?.title));
      }
    }
  });
}

/** A line of the thread that is no message: what happened, shown on this page only. */
export function renderSystemLine(text) {
  return el("li", { class: "system-line", role: "status", text });
}
