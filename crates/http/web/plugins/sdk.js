// Switchboard's JavaScript SDK for a business's website, served at `/sdk.js` (and
// `/en_US/sdk.js`), loaded as Meta's is: `<script async src="https://SWITCHBOARD/sdk.js">`.
// A classic script (not a module): it defines the `FB` subset Messenger sites use
// (`init`, `XFBML.parse`, `Event`, `AppEvents.logEvent`, `CustomerChat`) and renders the
// XFBML tags `fb-send-to-messenger`, `fb-messenger-checkbox` and `fb-customerchat`.
//
// Before any iframe, each tag is checked with `GET /plugins/v1/check` (the server reads
// this page's Origin): a refusal renders nothing, warns in the console and marks the
// tag `data-switchboard-status="refused"` with `data-switchboard-reason`. The plugins
// themselves are iframes of the Switchboard origin (which holds the person's session);
// they talk to this page only by postMessage, and every message is checked against
// that origin and the iframe it came from. This file never sees the person's session.
(function () {
  "use strict";
  if (window.FB && window.FB.__switchboard) return;

  var script = document.currentScript;
  var source = new URL(script && script.src ? script.src : "/sdk.js", location.href);
  // The Switchboard base: where this script was loaded from, without `/sdk.js`.
  var BASE = source.origin + source.pathname.replace(/\/(?:[a-z]{2}_[A-Z]{2}\/)?sdk\.js$/, "");
  var ORIGIN = source.origin;

  var FB = window.FB && typeof window.FB === "object" ? window.FB : {};
  window.FB = FB;
  FB.__switchboard = true;

  var settings = { appId: null, xfbml: false, version: null };
  var initialized = false;
  /** Every plugin iframe: `{iframe, kind, tag, userRef}`. */
  var frames = [];
  var listeners = {};
  var EVENTS = ["send_to_messenger", "messenger_checkbox"];

  function warn(reason) {
    console.warn("Switchboard plugin not rendered: " + reason);
  }

  // ---- events -------------------------------------------------------------------

  function emit(name, payload) {
    var callbacks = (listeners[name] || []).slice();
    for (var i = 0; i < callbacks.length; i++) {
      try {
        callbacks[i](payload);
      } catch (error) {
        console.error(error);
      }
    }
  }

  FB.Event = {
    subscribe: function (name, callback) {
      if (typeof callback !== "function") return;
      (listeners[name] = listeners[name] || []).push(callback);
    },
    unsubscribe: function (name, callback) {
      var list = listeners[name] || [];
      listeners[name] = callback ? list.filter(function (c) { return c !== callback; }) : [];
    },
  };

  // ---- init and parsing -----------------------------------------------------------

  FB.init = function (options) {
    options = options || {};
    settings.appId = options.appId != null ? String(options.appId) : settings.appId;
    settings.xfbml = Boolean(options.xfbml);
    settings.version = options.version || settings.version;
    initialized = true;
    if (!settings.xfbml) return;
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { parse(document); });
    else parse(document);
  };

  FB.getVersion = function () { return settings.version; };

  FB.XFBML = {
    parse: function (element, callback) {
      parse(element || document);
      if (typeof callback === "function") callback();
    },
  };

  function parse(root) {
    var kinds = [
      ["fb-send-to-messenger", renderSendToMessenger],
      ["fb-messenger-checkbox", renderCheckbox],
      ["fb-customerchat", renderCustomerChat],
    ];
    kinds.forEach(function (pair) {
      var tags = [];
      if (root.classList && root.classList.contains(pair[0])) tags.push(root);
      if (root.querySelectorAll) tags = tags.concat(Array.prototype.slice.call(root.querySelectorAll("." + pair[0])));
      tags.forEach(function (tag) {
        // A tag is rendered once, whatever parses it again.
        if (tag.getAttribute("data-switchboard-status")) return;
        tag.setAttribute("data-switchboard-status", "checking");
        pair[1](tag);
      });
    });
  }

  function attr(tag, name) {
    var value = tag.getAttribute(name);
    if (value === null) value = tag.getAttribute("data-" + name.replace(/_/g, "-"));
    return value === null ? "" : value;
  }

  function refuse(tag, reason) {
    frames = frames.filter(function (frame) {
      if (frame.tag !== tag) return true;
      frame.iframe.remove();
      return false;
    });
    tag.setAttribute("data-switchboard-status", "refused");
    tag.setAttribute("data-switchboard-reason", reason);
    warn(reason);
  }

  function query(params) {
    return Object.keys(params)
      .filter(function (key) { return params[key] !== undefined && params[key] !== null && params[key] !== ""; })
      .map(function (key) { return encodeURIComponent(key) + "=" + encodeURIComponent(params[key]); })
      .join("&");
  }

  /** Asks Switchboard whether this page may show the plugin; calls `render` if so. */
  function check(tag, appId, pageId, render) {
    if (!appId) return refuse(tag, "the tag names no app (messenger_app_id, or FB.init's appId)");
    if (!pageId) return refuse(tag, "the tag names no Page (page_id)");
    fetch(BASE + "/plugins/v1/check?" + query({ app_id: appId, page_id: pageId }), { mode: "cors", credentials: "omit" })
      .then(function (response) {
        return response.text().then(function (text) {
          var body = null;
          try {
            body = text ? JSON.parse(text) : null;
          } catch (error) {
            body = null;
          }
          if (response.ok && body && body.ok) {
            tag.setAttribute("data-switchboard-status", "rendered");
            render();
          } else {
            var message = body && body.error && body.error.message;
            refuse(tag, message || "Switchboard answered HTTP " + response.status);
          }
        });
      })
      .catch(function (error) {
        refuse(tag, "cannot reach Switchboard (" + error.message + ")");
      });
  }

  function frame(tag, kind, path, params, style) {
    var iframe = document.createElement("iframe");
    iframe.src = BASE + path + "?" + query(params);
    iframe.title = kind === "checkbox" ? "Send to Messenger checkbox" : kind === "customerchat" ? "Chat with the business" : "Send to Messenger";
    iframe.setAttribute("data-switchboard-plugin", kind);
    iframe.style.border = "none";
    iframe.style.overflow = "hidden";
    iframe.style.colorScheme = "normal";
    for (var key in style) iframe.style[key] = style[key];
    var entry = { iframe: iframe, kind: kind, tag: tag, userRef: params.user_ref || null };
    frames.push(entry);
    return entry;
  }

  // ---- the plugins ------------------------------------------------------------------

  var WIDTHS = { standard: 240, large: 280, xlarge: 340 };

  function renderSendToMessenger(tag) {
    var appId = attr(tag, "messenger_app_id") || settings.appId;
    var pageId = attr(tag, "page_id");
    check(tag, appId, pageId, function () {
      var size = WIDTHS[attr(tag, "size")] ? attr(tag, "size") : "large";
      var color = attr(tag, "color") === "white" ? "white" : "blue";
      var entry = frame(tag, "send_to_messenger", "/plugins/send_to_messenger", {
        app_id: appId, page_id: pageId, ref: attr(tag, "ref"), color: color, size: size, origin: location.origin,
      }, { width: WIDTHS[size] + "px", height: "64px" });
      tag.replaceChildren(entry.iframe);
    });
  }

  function renderCheckbox(tag) {
    var appId = attr(tag, "messenger_app_id") || settings.appId;
    var pageId = attr(tag, "page_id");
    var userRef = attr(tag, "user_ref");
    if (!userRef) return refuse(tag, "the checkbox needs a user_ref generated by the site");
    check(tag, appId, pageId, function () {
      var entry = frame(tag, "checkbox", "/plugins/checkbox", {
        app_id: appId, page_id: pageId, user_ref: userRef, ref: attr(tag, "ref"),
        prechecked: attr(tag, "prechecked") === "true" || attr(tag, "prechecked") === "1" ? "true" : "false",
        origin: location.origin,
      }, { width: "100%", maxWidth: "480px", height: "56px" });
      tag.replaceChildren(entry.iframe);
    });
  }

  /** The chat plugin: a button at the bottom right opening a panel with the messenger. */
  var chat = null;

  function renderCustomerChat(tag) {
    var appId = attr(tag, "messenger_app_id") || settings.appId;
    var pageId = attr(tag, "page_id");
    if (chat) return refuse(tag, "one chat plugin per page");
    check(tag, appId, pageId, function () {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "switchboard-chat-button";
      button.textContent = "Chat";
      button.setAttribute("aria-label", "Chat with us");
      button.setAttribute("aria-expanded", "false");
      place(button, { right: "20px", bottom: "20px", width: "60px", height: "60px", borderRadius: "50%", border: "none",
        background: "#0a58ca", color: "#fff", font: "600 15px system-ui, sans-serif", cursor: "pointer",
        boxShadow: "0 4px 12px rgba(0,0,0,0.25)" });
      var panel = document.createElement("div");
      panel.className = "switchboard-chat-panel";
      panel.hidden = true;
      place(panel, { right: "20px", bottom: "92px", width: "360px", height: "520px", maxWidth: "calc(100vw - 40px)",
        maxHeight: "calc(100vh - 120px)", background: "#fff", borderRadius: "12px", overflow: "hidden",
        boxShadow: "0 8px 28px rgba(0,0,0,0.3)" });
      chat = { tag: tag, appId: appId, pageId: pageId, ref: attr(tag, "ref"), button: button, panel: panel, entry: null };
      button.addEventListener("click", function () {
        if (panel.hidden) showDialog();
        else hideDialog();
      });
      tag.replaceChildren(button, panel);
      if (attr(tag, "greeting_dialog_display") === "show") showDialog();
      emit("customerchat.load", {});
    });
  }

  function place(element, style) {
    element.style.position = "fixed";
    element.style.zIndex = "2147483000";
    for (var key in style) element.style[key] = style[key];
  }

  function showDialog() {
    if (!chat) return;
    if (!chat.entry) {
      // The messenger loads only when the person opens the chat.
      chat.entry = frame(chat.tag, "customerchat", "/plugins/customerchat", {
        app_id: chat.appId, page_id: chat.pageId, ref: chat.ref, origin: location.origin, referer_uri: location.href,
      }, { width: "100%", height: "100%", display: "block" });
      chat.panel.append(chat.entry.iframe);
    }
    chat.panel.hidden = false;
    chat.button.setAttribute("aria-expanded", "true");
    emit("customerchat.dialogShow", {});
  }

  function hideDialog() {
    if (!chat) return;
    chat.panel.hidden = true;
    chat.button.setAttribute("aria-expanded", "false");
    emit("customerchat.dialogHide", {});
  }

  FB.CustomerChat = {
    show: function (shouldShowDialog) {
      if (!chat) return;
      chat.button.hidden = false;
      if (shouldShowDialog) showDialog();
      emit("customerchat.show", {});
    },
    hide: function () {
      if (!chat) return;
      hideDialog();
      chat.button.hidden = true;
      emit("customerchat.hide", {});
    },
    showDialog: showDialog,
    hideDialog: hideDialog,
    update: function () {},
  };

  // ---- app events ---------------------------------------------------------------------

  FB.AppEvents = {
    EventNames: {},
    ParameterNames: {},
    logEvent: function (name, value, params) {
      // Only the checkbox's confirmation means anything here.
      if (name !== "MessengerCheckboxUserConfirmation" || !params || !params.user_ref) return;
      frames.forEach(function (entry) {
        if (entry.kind !== "checkbox" || entry.userRef !== String(params.user_ref)) return;
        entry.iframe.contentWindow.postMessage({
          type: "switchboard:confirm",
          app_id: params.app_id != null ? String(params.app_id) : null,
          page_id: params.page_id != null ? String(params.page_id) : null,
          ref: params.ref != null ? String(params.ref) : null,
          user_ref: String(params.user_ref),
        }, ORIGIN);
      });
    },
    logPageView: function () {},
  };

  // ---- messages from the plugins ----------------------------------------------------------

  window.addEventListener("message", function (event) {
    if (event.origin !== ORIGIN) return;
    var entry = null;
    for (var i = 0; i < frames.length; i++) if (frames[i].iframe.contentWindow === event.source) entry = frames[i];
    var data = event.data;
    if (!entry || !data || typeof data !== "object") return;
    switch (data.type) {
      case "switchboard:resize": {
        var height = Number(data.height);
        if (entry.kind !== "customerchat" && height > 0 && height < 2000) entry.iframe.style.height = Math.ceil(height) + "px";
        break;
      }
      case "switchboard:hide": {
        var reason = typeof data.reason === "string" && data.reason ? data.reason : "the plugin hid itself";
        if (entry.kind === "customerchat") {
          chat.button.remove();
          chat.panel.remove();
        }
        refuse(entry.tag, reason);
        break;
      }
      case "switchboard:event":
        if (EVENTS.indexOf(data.name) >= 0 && data.payload && typeof data.payload === "object") emit(data.name, data.payload);
        break;
      default:
        break;
    }
  });

  // ---- start ------------------------------------------------------------------------------

  if (typeof window.fbAsyncInit === "function") {
    try {
      window.fbAsyncInit();
    } catch (error) {
      console.error(error);
    }
  }
  function parseUnlessInitialized() {
    if (!initialized) parse(document);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", parseUnlessInitialized);
  else parseUnlessInitialized();
})();
