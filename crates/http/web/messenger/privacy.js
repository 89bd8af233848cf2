// The web messenger: what a person controls about their data. The open thread's
// options (delete the conversation, report it, block the Page) and the privacy panel reached
// from the thread list (download my data, the blocked Pages, delete my account).
// Every confirmation is an in-page <dialog>, never window.confirm: the page stays
// scriptable and the error of a refused action shows where it was asked.
//
// The thread's state and actions stay app.js's: this module takes a `host` of
// `{ state, closeThread, loadThreads, navigate, signOut }` and never imports app.js.

import { el } from "./render.js";

const $ = (id) => document.getElementById(id);

/** What the confirm dialog runs when confirmed: `{ call, then }`, or null. */
let confirming = null;

export function wirePrivacy(host) {
  $("thread-options").addEventListener("click", toggleOptions);
  $("thread-options-menu").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      closeOptions();
      $("thread-options").focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest?.(".thread-options")) closeOptions();
  });
  $("delete-thread").addEventListener("click", () => onDeleteThread(host));
  $("report-page").addEventListener("click", () => onReport(host));
  $("block-page").addEventListener("click", () => onBlock(host));
  $("confirm-form").addEventListener("submit", onConfirm);
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close());
  $("confirm-dialog").addEventListener("close", () => { confirming = null; });

  $("privacy-open").addEventListener("click", () => openPanel(host));
  $("privacy-close").addEventListener("click", () => $("privacy-panel").close());
  $("export-data").addEventListener("click", () => onExport(host));
  $("delete-account").addEventListener("click", openDeleteAccount);
  $("delete-account-form").addEventListener("submit", (event) => onDeleteAccount(event, host));
  $("delete-cancel").addEventListener("click", () => $("delete-account-dialog").close());
}

/** Closes every dialog of this module (an open modal would leave the sign-in form inert). */
export function closePrivacy() {
  for (const id of ["confirm-dialog", "delete-account-dialog", "privacy-panel"]) $(id).close();
  closeOptions();
}

// ---- the open thread's options -------------------------------------------------------

function toggleOptions() {
  const menu = $("thread-options-menu");
  menu.hidden = !menu.hidden;
  $("thread-options").setAttribute("aria-expanded", String(!menu.hidden));
  if (!menu.hidden) menu.querySelector("button")?.focus();
}

function closeOptions() {
  $("thread-options-menu").hidden = true;
  $("thread-options").setAttribute("aria-expanded", "false");
}

function onDeleteThread(host) {
  closeOptions();
  const page = host.state.page;
  if (!page) return;
  ask(`Delete this conversation with ${page.name}?`, "Its messages are removed for you. If you or the Page write again, a new conversation starts.", "Delete", {
    call: () => host.state.api.deleteThread(page.username),
    then: () => leaveThread(host, `Your conversation with ${page.name} was deleted.`),
  });
}

function onReport(host) {
  closeOptions();
  const page = host.state.page;
  if (!page) return;
  ask(`Report your conversation with ${page.name}?`, "The report is recorded; the conversation stays. To stop its messages too, block the Page.", "Report", {
    call: () => host.state.api.report(page.username),
    then: () => { $("note").textContent = `You reported your conversation with ${page.name}.`; },
  });
}

function onBlock(host) {
  closeOptions();
  const page = host.state.page;
  if (!page) return;
  ask(`Block ${page.name}?`, `${page.name} won't be able to message you, and this conversation leaves your chats. You can unblock it in Privacy.`, "Block", {
    call: () => host.state.api.block(page.username),
    then: () => leaveThread(host, `You blocked ${page.name}.`),
  });
}

/** After the thread is deleted or its Page blocked: back to the list, which no longer shows it. */
function leaveThread(host, said) {
  host.navigate("/");
  host.closeThread();
  $("no-thread").textContent = said;
  host.loadThreads();
}

// ---- the confirm dialog --------------------------------------------------------------

/** Asks before `action.call()`; `action.then()` follows its success. */
function ask(title, text, button, action) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = button;
  $("confirm-error").textContent = "";
  $("confirm-dialog").showModal();
  confirming = action;
  // The harmless choice has the focus: Enter alone does not destroy anything.
  $("confirm-cancel").focus();
}

async function onConfirm(event) {
  event.preventDefault();
  const action = confirming;
  if (!action) return;
  const ok = $("confirm-ok");
  ok.disabled = true;
  try {
    await action.call();
  } catch (e) {
    $("confirm-error").textContent = `That did not work: ${e.message}`;
    return;
  } finally {
    ok.disabled = false;
  }
  $("confirm-dialog").close();
  action.then();
}

// ---- the privacy panel ---------------------------------------------------------------

function openPanel(host) {
  $("export-status").textContent = "";
  $("privacy-panel").showModal();
  loadBlocks(host);
}

async function loadBlocks(host) {
  const error = $("blocks-error");
  let answer;
  try {
    answer = await host.state.api.blocks();
  } catch (e) {
    error.textContent = `Cannot show the blocked Pages: ${e.message}`;
    return;
  }
  error.textContent = "";
  const items = (answer?.data || []).map(({ page, blocked_at: blockedAt }) => {
    const since = blockedAt ? ` · since ${new Date(blockedAt).toLocaleDateString()}` : "";
    return el("li", { class: "blocked", "data-page": page.username },
      el("span", { class: "thread-text" },
        el("span", { class: "thread-name", text: page.name }),
        el("span", { class: "thread-preview", text: `@${page.username}${since}` })),
      el("button", { type: "button", class: "unblock", "aria-label": `Unblock ${page.name}`, text: "Unblock", onclick: () => unblock(host, page) }));
  });
  $("blocked-list").replaceChildren(...items);
  $("no-blocks").hidden = items.length > 0;
}

async function unblock(host, page) {
  try {
    await host.state.api.unblock(page.username);
  } catch (e) {
    $("blocks-error").textContent = `${page.name} is still blocked: ${e.message}`;
    return;
  }
  await loadBlocks(host);
  host.loadThreads();
}

/** Fetches the export with the session's token and hands it to the browser as a file. */
async function onExport(host) {
  const status = $("export-status");
  const button = $("export-data");
  button.disabled = true;
  status.textContent = "Preparing your data…";
  try {
    const { blob, filename } = await host.state.api.exportData();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    // The download has started by now; the object URL is no longer needed.
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    status.textContent = `Your data was downloaded as ${filename}.`;
  } catch (e) {
    status.textContent = `Cannot download your data: ${e.message}`;
  } finally {
    button.disabled = false;
  }
}

function openDeleteAccount() {
  $("delete-password").value = "";
  $("delete-error").textContent = "";
  $("delete-account-dialog").showModal();
  $("delete-password").focus();
}

async function onDeleteAccount(event, host) {
  event.preventDefault();
  const confirm = $("delete-confirm");
  confirm.disabled = true;
  try {
    await host.state.api.deleteAccount($("delete-password").value);
  } catch (e) {
    $("delete-error").textContent = e.message;
    return;
  } finally {
    confirm.disabled = false;
  }
  $("delete-password").value = "";
  // The session ended with the account: requests still under way will be refused,
  // and must not sign out again over the notice.
  host.state.api.onUnauthorized = null;
  host.signOut("Your account was deleted.");
}
