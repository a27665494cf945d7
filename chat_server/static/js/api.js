// HTTP: the REST API and the login session.
//
// The session lives in two httpOnly cookies set by the server (chat_access on "/",
// chat_refresh on "/api/auth"); this code never stores a token. It only remembers when the
// access token expires (a timestamp in localStorage, shared by the tabs) so it can refresh
// shortly before, and on any 401.
//
// Refresh tokens rotate and a reused one revokes the whole session, so two tabs must never
// refresh at the same moment with the same cookie: refreshes are serialised across tabs
// with the Web Locks API (each tab then sends the cookie the previous refresh set).

const EXP_KEY = "chat.accessExpiresAt";
// Set while this browser has a session (from sign-in to sign-out). The session cookies are
// httpOnly, so without it a page could only learn "signed out" from two 401s - which the
// browser logs as errors on every visit to the sign-in page.
const SESSION_HINT_KEY = "chat.hasSession";
const LOCK_NAME = "chat-session-refresh";

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || (status ? `HTTP ${status}` : "Cannot reach the server"));
    this.status = status;
    this.code = err.code || (status ? "http_error" : "network_error");
    this.fields = err.fields || null;
  }
}

/** Hooks the app sets: signed out for good, and a fresh access token (for the socket). */
export const session = {
  onSignedOut: () => {},
  onRefreshed: () => {},
};

let expiresAt = Number(localStorage.getItem(EXP_KEY)) || 0;
let ttlMs = 15 * 60 * 1000;
let timer = null;
let inflight = null;
let stopped = true;

/** Whether a session may exist (false: show the sign-in form without asking the server). */
export function mayHaveSession() {
  return localStorage.getItem(SESSION_HINT_KEY) === "1";
}

export function accessExpiresAt() {
  return Math.max(expiresAt, Number(localStorage.getItem(EXP_KEY)) || 0);
}

/** A login, registration or refresh answered with a token pair. */
export function noteSession(pair) {
  ttlMs = Math.max(1000, (pair.expiresIn || 900) * 1000);
  expiresAt = Date.now() + ttlMs;
  localStorage.setItem(EXP_KEY, String(expiresAt));
  localStorage.setItem(SESSION_HINT_KEY, "1");
  stopped = false;
  schedule();
}

export function endSession() {
  stopped = true;
  clearTimeout(timer);
  localStorage.removeItem(EXP_KEY);
  localStorage.removeItem(SESSION_HINT_KEY);
  expiresAt = 0;
}

/** Keep the session alive: refresh a little before the access token expires. */
export function startSessionKeeper() {
  stopped = false;
  schedule();
}

function schedule() {
  clearTimeout(timer);
  if (stopped) return;
  // 60 s before expiry for the usual 15 min tokens; proportionally less for short ones.
  const margin = Math.min(60000, Math.max(1000, ttlMs * 0.25));
  const delay = Math.max(0, accessExpiresAt() - margin - Date.now());
  timer = setTimeout(async () => {
    const outcome = await refreshSession();
    if (outcome === "error") {
      // Server unreachable: try again soon, the cookie may still be good for a while.
      clearTimeout(timer);
      timer = setTimeout(schedule, 5000);
    }
  }, delay);
}

/** Refresh the session: "ok", "denied" (signed out for good) or "error" (try later). */
export function refreshSession() {
  if (!inflight) {
    const run = () => doRefresh();
    const locked = navigator.locks ? navigator.locks.request(LOCK_NAME, run) : run();
    inflight = locked.finally(() => {
      inflight = null;
    });
  }
  return inflight;
}

async function doRefresh() {
  let resp;
  try {
    resp = await fetch("/api/auth/refresh", { method: "POST", credentials: "same-origin" });
  } catch {
    return "error";
  }
  if (resp.status === 401 || resp.status === 400) {
    return "denied";
  }
  if (!resp.ok) return "error";
  const pair = await resp.json();
  noteSession(pair);
  try {
    session.onRefreshed(pair.accessToken);
  } catch (e) {
    console.error(e);
  }
  return "ok";
}

/** Call the REST API; a 401 refreshes the session once and retries. */
export async function api(method, path, body, { retry = true } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, null);
  }
  if (resp.status === 401 && retry && !path.startsWith("/api/auth/")) {
    const outcome = await refreshSession();
    if (outcome === "ok") return api(method, path, body, { retry: false });
    if (outcome === "denied") session.onSignedOut("Your session has ended. Please sign in again.");
  }
  if (resp.status === 204) return null;
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

/**
 * Upload one file (multipart field `file`) with progress: returns {promise, abort}.
 * XMLHttpRequest because fetch() cannot report upload progress.
 */
export function upload(file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const send = (retry) => {
      xhr.open("POST", "/api/upload");
      xhr.responseType = "json";
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      };
      xhr.onload = async () => {
        if (xhr.status === 401 && retry && (await refreshSession()) === "ok") {
          send(false);
          return;
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
        else reject(new ApiError(xhr.status, xhr.response));
      };
      xhr.onerror = () => reject(new ApiError(0, null));
      xhr.onabort = () => reject(new ApiError(0, { error: { code: "aborted", message: "Upload cancelled" } }));
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    };
    send(true);
  });
  return { promise, abort: () => xhr.abort() };
}
