// The login dialog (`/dialog/oauth?client_id&redirect_uri&scope&state`), as Meta's:
// the person signs in (sharing the web messenger's session in this tab), sees the
// app and the permissions it asks for, chooses which of their Pages it may use, and
// is sent back to the app's redirect URI with a code (or with access_denied). The
// server checks everything again; this page only asks.

import { login } from "/web/messenger/api.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "switchboard.messenger.token";
const PERSON_KEY = "switchboard.messenger.person";
const query = new URLSearchParams(location.search);
const request = {
  client_id: query.get("client_id") || "",
  redirect_uri: query.get("redirect_uri") || "",
  scope: query.get("scope") || "",
  state: query.get("state"),
};

function showError(message) {
  $("error").textContent = message;
}

async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/person/v1${path}`, init);
  const answer = await response.json().catch(() => null);
  if (response.status === 401 || answer?.error?.code === 190) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new Error("signed-out");
  }
  if (!response.ok) throw new Error(answer?.error?.message || `HTTP ${response.status}`);
  return answer;
}

function item(id, name, text, detail, checked, disabled) {
  const li = document.createElement("li");
  const label = document.createElement("label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.name = name;
  box.value = id;
  box.id = `${name}-${id}`;
  box.checked = checked;
  box.disabled = disabled;
  const words = document.createElement("span");
  words.textContent = text;
  if (detail) {
    const small = document.createElement("span");
    small.className = "detail";
    small.textContent = detail;
    words.append(small);
  }
  if (disabled) li.className = "unavailable";
  label.append(box, words);
  li.append(label);
  return li;
}

function checked(name) {
  return [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
}

async function answer(allow) {
  const body = { ...request, allow, permissions: checked("permission"), pages: checked("page") };
  try {
    const { redirect } = await call("POST", "/login-dialog", body);
    location.assign(redirect);
  } catch (error) {
    showError(error.message);
  }
}

async function showConsent() {
  const search = new URLSearchParams({ client_id: request.client_id, redirect_uri: request.redirect_uri, scope: request.scope });
  let dialog;
  try {
    dialog = await call("GET", `/login-dialog?${search}`);
  } catch (error) {
    if (error.message === "signed-out") return showSignIn();
    $("loading").hidden = true;
    return showError(error.message);
  }
  const person = JSON.parse(sessionStorage.getItem(PERSON_KEY) || "null");
  $("app-name").textContent = `${dialog.app.name} would like to use your account`;
  $("signed-in-as").textContent = person ? `Signed in as ${person.name}.` : "";
  $("permissions").replaceChildren(
    ...dialog.permissions.map((p) =>
      item(p.permission, "permission", p.description, p.available ? p.permission : `${p.permission}: not available until App Review approves it`, p.available, !p.available || p.permission === "public_profile"),
    ),
  );
  $("pages").replaceChildren(...dialog.pages.map((page) => item(page.id, "page", page.name, page.granted ? "already connected" : "", page.granted, false)));
  $("no-pages").hidden = dialog.pages.length > 0;
  $("loading").hidden = true;
  $("sign-in-form").hidden = true;
  $("consent-form").hidden = false;
}

function showSignIn() {
  $("loading").hidden = true;
  $("consent-form").hidden = true;
  $("sign-in-form").hidden = false;
  $("login").focus();
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  let body;
  try {
    body = await login($("login").value, $("password").value);
  } catch (error) {
    return showError(error.message || "Could not sign in");
  }
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  sessionStorage.setItem(PERSON_KEY, JSON.stringify(body.person));
  await showConsent();
});

$("consent-form").addEventListener("submit", (event) => {
  event.preventDefault();
  answer(true);
});
$("cancel").addEventListener("click", () => answer(false));

if (sessionStorage.getItem(TOKEN_KEY)) showConsent();
else showSignIn();
