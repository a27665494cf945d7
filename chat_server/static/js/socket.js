// The realtime connection: connect, authenticate, reconnect, and catch up after each connect.
//
// Owns: the Socket.IO client (`state.socket`), the connection flags in the store, the
// `sync` after every (re)connect and the hand-over to the outbox, and session refreshes
// reaching the live socket (`authenticate`). Incoming events are bound to the handlers of
// events.js. Must not: draw anything (connection flags go to the banner view through
// `render`), or handle a chat event itself.

import { session, refreshSession, accessExpiresAt } from "./api.js";
import { SOCKET_CLIENT_URL, ACK_TIMEOUT_MS, SYNC_CHUNK } from "./config.js";
import { state, render, maxSeq, activeChat } from "./state.js";
import { loadLists } from "./history.js";
import { applySync, markRead } from "./delivery.js";
import { pump } from "./outbox.js";
import { resetTyping } from "./composer.js";
import { signOut, fatal } from "./auth.js";
import { bindEvents } from "./events.js";
import { changesForSync, applySyncChanges } from "./changes.js";

export async function connectSocket() {
  let mod;
  try {
    mod = await import(SOCKET_CLIENT_URL);
  } catch {
    fatal("The Socket.IO client could not be loaded from the server (/static/vendor/). Reload the page; if it persists, reinstall the server package.");
    return;
  }
  const socket = mod.io("/chat", {
    autoConnect: false,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    randomizationFactor: 0.5,
    timeout: 10000,
    // Authentication rides on the httpOnly access cookie; make sure it is fresh first.
    auth: (cb) => {
      ensureFresh().then((ok) => {
        if (ok) cb({});
      });
    },
  });
  state.socket = socket;
  if (localStorage.getItem("chat.debug") === "1") {
    socket.onAny((event, ...args) => console.debug("<-", event, JSON.stringify(args)));
    socket.onAnyOutgoing((event, ...args) => console.debug("->", event, JSON.stringify(args)));
    for (const name of ["connect", "disconnect", "connect_error"]) {
      socket.on(name, (arg) => console.debug("**", name, arg && (arg.message || arg)));
    }
  }

  socket.on("connect", () => {
    state.connected = true;
    state.everConnected = true;
    state.connects += 1;
    state.retries = 0;
    state.shutdownNotice = false;
    state.reconnectAfterMs = null;
    document.body.dataset.connects = String(state.connects);
    render("banner");
    onConnected();
  });
  socket.on("disconnect", (reason) => {
    onDisconnected();
    if (reason === "io server disconnect" && !state.signedOut) {
      // The server closed this socket on purpose (token expiry, shutdown): come back.
      const wait = state.reconnectAfterMs ?? 300 + Math.random() * 700;
      setTimeout(() => reconnectNow(), wait);
    }
  });
  socket.on("connect_error", (err) => {
    onDisconnected();
    if (socket.active || state.signedOut) return; // a network error: the manager retries
    // Refused by the server (token invalid or expired, service unavailable): refresh, retry.
    state.retries += 1;
    const wait = Math.min(10000, 500 * 2 ** Math.min(state.retries, 5));
    // An expired cookie is fixed by the refresh at once; anything else waits its turn.
    const now = err && err.message === "Invalid token" && state.retries === 1;
    setTimeout(() => reconnectNow(), now ? 0 : wait);
  });

  bindEvents(socket);
  socket.on("session_revoked", () => signOut("You were signed out."));
  socket.on("server_shutdown", (body) => {
    // This instance is going away: leave it at the moment it suggests (spreading the
    // reconnects of all its clients) and come back through the load balancer. Closing our
    // own transport matters: a browser's Engine.IO client ignores the server's CLOSE
    // packet and would otherwise hang on until the ping timeout.
    state.shutdownNotice = true;
    const ms = Math.max(0, Number(body && body.reconnectAfterMs) || 0);
    state.reconnectAfterMs = ms;
    render("banner");
    setTimeout(() => {
      if (socket.connected && socket.io.engine) socket.io.engine.close();
    }, ms);
  });
  socket.on("auth_error", (body) => console.info("auth_error", body));
  socket.connect();
  setTimeout(() => {
    state.connectSlow = true;
    render("banner");
  }, 1500);
}

async function ensureFresh() {
  if (accessExpiresAt() - Date.now() > 10000) return true;
  const outcome = await refreshSession();
  if (outcome === "denied") {
    signOut("Your session has ended. Please sign in again.");
    return false;
  }
  return true;
}

async function reconnectNow() {
  if (state.signedOut || !state.socket || state.socket.connected) return;
  if (await ensureFresh()) state.socket.connect();
}

/** Reconnect at once (the banner's "Retry now"). */
export function retryNow() {
  if (state.socket) state.socket.connect();
}

function onDisconnected() {
  const was = state.connected;
  state.connected = false;
  state.authed = false;
  for (const item of state.outbox) if (item.state === "sending") item.state = "queued";
  resetTyping();
  if (was) {
    for (const chat of state.chats.values()) chat.typing.clear();
    render("typing", "messages");
  }
  render("banner");
}

/** After every (re)connect: sync what was missed, then send what waited in the outbox. */
async function onConnected() {
  const socket = state.socket;
  if (state.connects > 1) {
    try {
      await loadLists();
    } catch (e) {
      console.warn("lists reload failed", e);
    }
  }
  // The server takes at most 500 rooms per sync: ask in chunks.
  const entries = [];
  for (const chat of state.chats.values()) {
    if (chat.roomId) entries.push([chat.roomId, chat.loaded ? maxSeq(chat) : chat.lastSeq]);
  }
  const results = { rooms: {}, errors: {}, changes: {} };
  for (let i = 0; i === 0 || i < entries.length; i += SYNC_CHUNK) {
    const chunk = entries.slice(i, i + SYNC_CHUNK);
    // Edits, deletions, reactions... made while away (changes.js), for loaded conversations.
    const changes = changesForSync(chunk.map(([roomId]) => roomId));
    const body = { rooms: Object.fromEntries(chunk) };
    if (Object.keys(changes).length) body.changes = changes;
    let ack;
    try {
      ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck("sync", body);
    } catch {
      return; // the connection went away again; the next connect syncs
    }
    if (!socket.connected) return;
    if (!ack.ok) {
      if (ack.error && ack.error.code === "rate_limited") {
        // Many tabs reconnecting at once can use up the sync allowance (RATE_LIMIT_SYNC):
        // sync again when the server says, unless this connection is gone by then.
        setTimeout(() => {
          if (state.socket === socket && socket.connected) onConnected();
        }, Math.max(1, ack.error.retryAfter || 1) * 1000);
      }
      if (ack.error && ack.error.code === "unauthenticated") {
        // Connected without a valid cookie: a refresh sends `authenticate` (see onRefreshed).
        const outcome = await refreshSession();
        if (outcome === "denied") signOut("Your session has ended. Please sign in again.");
      }
      return;
    }
    Object.assign(results.rooms, ack.rooms);
    Object.assign(results.errors, ack.errors);
    Object.assign(results.changes, ack.changes);
  }
  state.authed = true;
  applySync(results);
  applySyncChanges(results.changes);
  const active = activeChat();
  if (active && (active.readPending || active.lastReadSeq > (results.rooms[active.roomId] || {}).lastReadSeq)) {
    active.readPending = false;
    markRead(active, true);
  }
  pump();
}

session.onRefreshed = (token) => {
  const socket = state.socket;
  if (!socket || !socket.connected) return;
  // Extend the live socket's session (or admit a socket that connected without a cookie).
  socket.timeout(ACK_TIMEOUT_MS).emit("authenticate", { token }, (err, ack) => {
    if (!err && ack && ack.ok && !state.authed) onConnected();
  });
};
session.onSignedOut = (message) => signOut(message);
