// The checkbox plugin: "Send to Messenger as NAME", ticked or not (`prechecked`).
// When the site confirms (`FB.AppEvents.logEvent('MessengerCheckboxUserConfirmation')`,
// relayed by sdk.js with the same `user_ref`) and the box is ticked, the person opts in:
// the bot gets `messaging_optins` with `optin.user_ref` and no sender.

import { $, emit, onParentMessage, query, showError, startPlugin } from "./plugin.js";

/** The signed-in person's API and how to sign out, once the plugin may show. */
let current = null;
let confirmed = false;
const box = $("messenger-checkbox");

function state() {
  return box.checked ? "checked" : "unchecked";
}

function report(event) {
  emit("messenger_checkbox", { event, state: state(), user_ref: query.userRef });
}

async function confirm(data) {
  if (data.type !== "switchboard:confirm" || data.user_ref !== query.userRef) return;
  if ((data.app_id && data.app_id !== query.appId) || (data.page_id && data.page_id !== query.pageId)) return;
  if (!current || !box.checked || confirmed) return;
  confirmed = true;
  box.disabled = true;
  showError("");
  try {
    const body = { app_id: query.appId, page_id: query.pageId, user_ref: query.userRef, origin: query.origin };
    const ref = data.ref || query.ref;
    if (ref) body.ref = ref;
    await current.api.pluginCheckbox(body);
    $("checkbox-confirmed").hidden = false;
  } catch (error) {
    confirmed = false;
    box.disabled = false;
    showError(error.message);
  }
}

box.checked = query.prechecked;
box.addEventListener("change", () => report("checkbox"));
$("not-you").addEventListener("click", async () => {
  if (!current) return;
  const signOut = current.signOut;
  current = null;
  report("not_you");
  await signOut();
});
onParentMessage(confirm);

startPlugin(["checkbox-view"], (api, access, signOut) => {
  current = { api, signOut };
  $("person-name").textContent = access.person?.name || "you";
  report("rendered");
}, () => report("hidden"));
