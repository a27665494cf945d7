// Signing in and out: the sign-in / sign-up forms, logout, and the screens before the app.
//
// Owns: #auth-view and its forms, logout (and what a user leaves behind on a shared
// computer), `signOut` (any tab of the session returns to the sign-in form), and the boot
// screen's fatal message. Must not: start the app itself (main.js passes `onSignedIn`),
// or keep any token (the session is in httpOnly cookies, see api.js).

import { api, noteSession, endSession } from "./api.js";
import { h, $, setChildren, icon } from "./dom.js";
import { state } from "./state.js";
import { outboxPrefix } from "./outbox.js";
import { fieldErrors } from "./dialogs.js";

let onSignedIn = async () => {};

export function showAuth(message) {
  $("#boot").hidden = true;
  $("#app").hidden = true;
  $("#auth-view").hidden = false;
  $("#auth-error").textContent = message || "";
  setAuthTab(location.hash === "#register" ? "register" : "login");
}

function setAuthTab(which) {
  const login = which === "login";
  $("#login-form").hidden = !login;
  $("#register-form").hidden = login;
  $("#tab-login").setAttribute("aria-selected", String(login));
  $("#tab-register").setAttribute("aria-selected", String(!login));
  $("#auth-error").textContent = "";
  const first = login ? $("#login-id") : $("#register-email");
  first.focus();
}

async function submitAuth(event, kind) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button[type=submit]");
  const err = $("#auth-error");
  err.textContent = "";
  let body;
  if (kind === "login") {
    const id = form.elements.identifier.value.trim();
    body = id.includes("@") ? { email: id } : { username: id };
    body.password = form.elements.password.value;
  } else {
    body = {
      email: form.elements.email.value.trim(),
      username: form.elements.username.value.trim(),
      password: form.elements.password.value,
    };
  }
  button.disabled = true;
  try {
    const pair = await api("POST", `/api/auth/${kind}`, body, { retry: false });
    noteSession(pair);
    form.reset();
    if (location.hash === "#register") history.replaceState(null, "", location.pathname);
    await onSignedIn(pair.user);
  } catch (e) {
    err.textContent = e.status === 429 ? "Too many attempts. Please wait a while and try again." : fieldErrors(e);
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  try {
    await api("POST", "/api/auth/logout", undefined, { retry: false });
  } catch (e) {
    console.warn("logout", e);
  }
  // Nothing of this user's stays behind on a shared computer.
  for (const key of Object.keys(localStorage)) {
    if (key.startsWith(outboxPrefix()) || key.startsWith(`chat.lastChat.${state.me.id}`)) localStorage.removeItem(key);
  }
  signOut("");
}

export function signOut(message) {
  // Before the app started (first visit, expired session) the caller shows the login form.
  if (state.signedOut || !state.me) return;
  state.signedOut = true;
  endSession();
  if (state.socket) {
    state.socket.disconnect();
  }
  // Start from a clean page: no state of the previous user survives.
  sessionStorage.setItem("chat.signedOutMessage", message || "");
  location.replace(location.pathname);
}

export function fatal(message) {
  $("#boot").hidden = false;
  setChildren($("#boot"), h("div.fatal", null, icon("alert"), h("p", null, message)));
}

export function wireAuth(signedIn) {
  onSignedIn = signedIn;
  $("#tab-login").addEventListener("click", () => setAuthTab("login"));
  $("#tab-register").addEventListener("click", () => setAuthTab("register"));
  $("#login-form").addEventListener("submit", (e) => submitAuth(e, "login"));
  $("#register-form").addEventListener("submit", (e) => submitAuth(e, "register"));
  $("#logout-btn").addEventListener("click", logout);
}
