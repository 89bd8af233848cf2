// The Send to Messenger plugin: one button; a click opts the person in to the Page
// with the tag's `data-ref` (the bot gets `messaging_optins` with `optin.ref` and the
// person's PSID), then links to the thread.

import { $, emit, query, showError, startPlugin } from "./plugin.js";

/** The signed-in person's API and access, once the plugin may show. */
let current = null;

async function onClick() {
  if (!current) return;
  const { api, access } = current;
  const button = $("send-to-messenger");
  emit("send_to_messenger", { event: "clicked", ref: query.ref });
  button.disabled = true;
  showError("");
  try {
    const body = { app_id: query.appId, page_id: query.pageId, origin: query.origin };
    if (query.ref) body.ref = query.ref;
    const answer = await api.pluginSendToMessenger(body);
    const page = answer?.page || access.page || {};
    const link = $("open-thread");
    link.href = `${location.origin}/m/${encodeURIComponent(page.username || page.id || query.pageId)}`;
    link.textContent = `Open ${page.name || "the chat"} in Messenger`;
    $("s2m").hidden = true;
    $("sent").hidden = false;
    emit("send_to_messenger", { event: "opt_in", ref: query.ref });
  } catch (error) {
    showError(error.message);
  } finally {
    button.disabled = false;
  }
}

$("send-to-messenger").classList.add(query.color, query.size);
$("send-to-messenger").addEventListener("click", onClick);

startPlugin(["s2m"], (api, access) => {
  current = { api, access };
  $("send-as").textContent = access.person?.name ? `as ${access.person.name}` : "";
  emit("send_to_messenger", { event: "rendered", ref: query.ref });
});
