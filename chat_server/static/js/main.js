// The chat web client: state, views and the realtime connection (docs/contract.md §6-§7).
//
// Delivery model, as the server defines it:
// - every message has a per-room `seq`; the client remembers the highest seq it has per
//   conversation, spots gaps (got 7 after 5) and fills them from history (`after=`);
// - after every (re)connect it calls `sync` with its last seq per room;
// - every message it sends carries a `clientMsgId` and sits in an outbox (kept in
//   localStorage) until the server acks it; unacked messages are re-sent after a
//   reconnect and the server deduplicates them by clientMsgId.
//
// Ticks on your own messages (honest about what the server can know):
//   sent      - the server acked it: it is stored;
//   delivered - another member's client confirmed receiving it (`delivered` ->
//               delivery_receipt / GET .../reads); in rooms too big for receipts, some
//               other member has had a live connection since it was stored;
//   read      - some other member's read pointer (read_receipt / GET .../reads) is at or
//               past it. Rooms over 100 members get no read receipts: sent/delivered only.

import {
  api, ApiError, session, noteSession, endSession, startSessionKeeper, refreshSession,
  accessExpiresAt, upload,
} from "./api.js";
import {
  h, $, setChildren, icon, hydrateIcons, avatar, formatTime, formatFull, formatDay, dayKey,
  formatAgo, formatSize, toast, uuid,
} from "./dom.js";
import { messageText, attachment, hasCaption } from "./render.js";

const SOCKET_CLIENT_URL = "/static/vendor/socket.io.esm.min.js";
const LOBBY_ID = "00000000-0000-4000-8000-000000000001";
const PAGE_SIZE = 50;
const MAX_CONTENT = 5000;
// The server's upload rules (docs/contract.md §9), checked here so errors show before sending.
const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
const UPLOAD_TYPES = {
  jpg: ["image/jpeg"], jpeg: ["image/jpeg"], png: ["image/png"], gif: ["image/gif"],
  pdf: ["application/pdf"], txt: ["text/plain"],
};
const GROUP_GAP_MS = 5 * 60 * 1000;
const TYPING_RENEW_MS = 2000;
const TYPING_IDLE_MS = 3000;
const TYPING_SHOW_MS = 8000;
const ACK_TIMEOUT_MS = 10000;
const READ_RECEIPT_MAX_MEMBERS = 100;
const MEMBERS_PAGE = 200;
const SYNC_CHUNK = 400;
const MOBILE = window.matchMedia("(max-width: 760px)");

const state = {
  me: null,
  chats: new Map(), // key ("<roomId>" or "dm:<userId>") -> chat
  byRoom: new Map(), // roomId -> chat key
  invites: new Map(), // roomId -> {room, invitedBy}
  users: new Map(), // userId -> {id, username, online, lastSeen}
  activeKey: null,
  drafts: new Map(),
  socket: null,
  connected: false,
  authed: false,
  everConnected: false,
  connects: 0,
  retries: 0,
  reconnectAfterMs: null,
  shutdownNotice: false,
  outbox: [],
  pumping: false,
  stick: true,
  signedOut: false,
  uploads: [],
};

// ---- chats ---------------------------------------------------------------------------------

function newChat(key, kind) {
  return {
    key, kind, roomId: null, userId: null, name: "", description: "", isPrivate: false,
    role: null, memberCount: 0, lastSeq: 0, lastReadSeq: 0, messages: [], loaded: false,
    loading: false, loadError: null, hasMore: true, loadingOlder: false, filling: false,
    typing: new Map(), reads: new Map(), delivered: new Map(), members: null, lastActivity: 0, els: new Map(),
  };
}

const unread = (chat) => Math.max(0, chat.lastSeq - chat.lastReadSeq);
const maxSeq = (chat) => (chat.messages.length ? chat.messages[chat.messages.length - 1].seq : 0);
const activeChat = () => (state.activeKey ? state.chats.get(state.activeKey) : null);

function roomChat(room) {
  let chat = state.chats.get(room.id);
  if (!chat) {
    chat = newChat(room.id, "room");
    chat.roomId = room.id;
    state.chats.set(chat.key, chat);
    state.byRoom.set(room.id, chat.key);
  }
  chat.name = room.name;
  chat.description = room.description || "";
  chat.isPrivate = !!room.isPrivate;
  if (room.role !== undefined && room.role !== null) chat.role = room.role;
  chat.memberCount = room.memberCount ?? chat.memberCount;
  if (typeof room.lastSeq === "number") {
    if (typeof room.unreadCount === "number") {
      chat.lastReadSeq = Math.max(chat.lastReadSeq, room.lastSeq - room.unreadCount);
    }
    chat.lastSeq = Math.max(chat.lastSeq, room.lastSeq);
  }
  return chat;
}

function noteUser(user) {
  if (!user || !user.id) return null;
  const known = state.users.get(user.id) || { id: user.id, username: "", online: false, lastSeen: null };
  if (user.username) known.username = user.username;
  if (typeof user.online === "boolean") known.online = user.online;
  if (user.lastSeen !== undefined && user.lastSeen !== null) known.lastSeen = user.lastSeen;
  state.users.set(user.id, known);
  return known;
}

function dmChat(user) {
  const key = `dm:${user.id}`;
  let chat = state.chats.get(key);
  if (!chat) {
    chat = newChat(key, "dm");
    chat.userId = user.id;
    state.chats.set(key, chat);
  }
  const known = noteUser(user);
  chat.name = known.username || chat.name || "…";
  return chat;
}

function setDmRoom(chat, roomId) {
  if (!roomId || chat.roomId === roomId) return;
  chat.roomId = roomId;
  state.byRoom.set(roomId, chat.key);
}

function removeChat(key) {
  const chat = state.chats.get(key);
  if (!chat) return;
  state.chats.delete(key);
  if (chat.roomId) state.byRoom.delete(chat.roomId);
  if (state.activeKey === key) {
    state.activeKey = null;
    if (state.chats.has(LOBBY_ID)) openChat(LOBBY_ID);
    else render("all");
  }
}

// ---- loading -------------------------------------------------------------------------------

async function loadRooms() {
  const rooms = [];
  let cursor = null;
  for (let page = 0; page < 10; page++) {
    const q = new URLSearchParams({ limit: "200" });
    if (cursor) q.set("cursor", cursor);
    const body = await api("GET", `/api/rooms?${q}`);
    rooms.push(...body.rooms);
    if (!body.hasMore) break;
    cursor = body.nextCursor;
  }
  const member = new Set();
  for (const room of rooms) {
    if (room.isMember && room.kind !== "direct") {
      roomChat(room);
      member.add(room.id);
    }
  }
  for (const [key, chat] of [...state.chats]) {
    if (chat.kind === "room" && !member.has(chat.roomId)) removeChat(key);
  }
}

async function loadInvites() {
  const { invites } = await api("GET", "/api/invites");
  state.invites = new Map(invites.map((i) => [i.room.id, i]));
}

async function loadDms() {
  const { conversations } = await api("GET", "/api/direct-messages");
  for (const c of conversations) {
    const chat = dmChat(c.user);
    setDmRoom(chat, c.roomId);
    chat.lastSeq = Math.max(chat.lastSeq, c.lastSeq || 0);
    chat.lastReadSeq = Math.max(chat.lastReadSeq, c.lastReadSeq || 0);
    if (c.lastMessage) {
      chat.lastMessage = c.lastMessage;
      chat.lastActivity = Math.max(chat.lastActivity, Date.parse(c.lastMessage.createdAt) || 0);
    }
  }
}

async function loadLists() {
  await Promise.all([loadRooms(), loadInvites(), loadDms()]);
  render("sidebar", "header");
}

function historyUrl(chat, params) {
  const q = new URLSearchParams(params);
  return chat.kind === "dm"
    ? `/api/direct-messages/${chat.userId}?${q}`
    : `/api/rooms/${chat.roomId}/messages?${q}`;
}

function mergeMessages(chat, messages) {
  if (!messages.length) return;
  const bySeq = new Map(chat.messages.map((m) => [m.seq, m]));
  for (const m of messages) {
    bySeq.set(m.seq, m);
    if (m.userId === state.me.id && m.clientMsgId) dropOutbox(m.clientMsgId);
  }
  chat.messages = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const last = chat.messages[chat.messages.length - 1];
  chat.lastSeq = Math.max(chat.lastSeq, last.seq);
  chat.lastActivity = Math.max(chat.lastActivity, Date.parse(last.createdAt) || 0);
}

async function loadInitial(chat) {
  if (chat.loading || chat.loaded) return;
  chat.loading = true;
  chat.loadError = null;
  render("messages");
  try {
    const page = await api("GET", historyUrl(chat, { limit: PAGE_SIZE }));
    if (chat.kind === "dm") setDmRoom(chat, page.roomId);
    mergeMessages(chat, page.messages);
    chat.hasMore = page.hasMore;
    chat.lastSeq = Math.max(chat.lastSeq, page.lastSeq || 0);
    chat.loaded = true;
  } catch (e) {
    chat.loadError = e.message;
  } finally {
    chat.loading = false;
  }
  // Something arrived while the first page was on its way: fetch what it missed.
  if (chat.loaded && chat.lastSeq > maxSeq(chat)) fillAfter(chat);
  if (chat.key === state.activeKey) {
    state.stick = true;
    render("messages");
    await loadDetails(chat);
    markReadSoon(chat);
    fillViewport(chat);
  }
}

async function loadOlder(chat) {
  if (!chat.loaded || !chat.hasMore || chat.loadingOlder || !chat.messages.length) return;
  chat.loadingOlder = true;
  render("messages");
  try {
    const page = await api("GET", historyUrl(chat, { before: chat.messages[0].seq, limit: PAGE_SIZE }));
    const box = $("#messages");
    const fromBottom = box.scrollHeight - box.scrollTop;
    mergeMessages(chat, page.messages);
    chat.hasMore = page.hasMore;
    chat.loadingOlder = false;
    if (chat.key === state.activeKey) {
      renderMessagesNow();
      box.scrollTop = box.scrollHeight - fromBottom;
    }
  } catch (e) {
    chat.loadingOlder = false;
    toast(`Could not load older messages: ${e.message}`, "error");
    render("messages");
  }
}

/** Load older pages until the list can scroll (or the history's start is reached). */
async function fillViewport(chat) {
  const box = $("#messages");
  for (let i = 0; i < 10; i++) {
    if (chat.key !== state.activeKey || !chat.hasMore || box.scrollHeight > box.clientHeight + 40) return;
    await loadOlder(chat);
  }
}

/** Fetch everything after the newest message we have (a gap, or after a reconnect). */
async function fillAfter(chat) {
  if (!chat.loaded || chat.filling) return;
  chat.filling = true;
  try {
    for (let i = 0; i < 20; i++) {
      const page = await api("GET", historyUrl(chat, { after: maxSeq(chat), limit: 100 }));
      mergeMessages(chat, page.messages);
      if (!page.hasMore || !page.messages.length) break;
    }
  } catch (e) {
    console.warn("fill failed", e);
  } finally {
    chat.filling = false;
  }
  if (chat.key === state.activeKey) {
    render("messages");
    markReadSoon(chat);
  }
  render("sidebar");
}

/** Members (online dots, last seen, who can be DMed) and read positions of a conversation. */
async function loadDetails(chat) {
  try {
    if (chat.kind === "room") {
      const body = await api("GET", `/api/rooms/${chat.roomId}/members?limit=${MEMBERS_PAGE}`);
      chat.members = new Map();
      for (const m of body.members) {
        noteUser(m);
        chat.members.set(m.id, m);
        if (typeof m.lastReadSeq === "number") bumpRead(chat, m.id, m.lastReadSeq);
      }
    }
    if (chat.roomId && (chat.kind === "dm" || chat.memberCount <= READ_RECEIPT_MAX_MEMBERS)) {
      const body = await api("GET", `/api/rooms/${chat.roomId}/reads`);
      for (const [userId, seq] of Object.entries(body.reads || {})) bumpRead(chat, userId, seq);
      for (const [userId, seq] of Object.entries(body.delivered || {})) bumpDelivered(chat, userId, seq);
    }
  } catch (e) {
    console.warn("details failed", e);
  }
  if (chat.key === state.activeKey) render("messages", "members", "header");
}

function bumpRead(chat, userId, seq) {
  if ((chat.reads.get(userId) || 0) < seq) chat.reads.set(userId, seq);
  bumpDelivered(chat, userId, seq);
}

function bumpDelivered(chat, userId, seq) {
  if ((chat.delivered.get(userId) || 0) < seq) chat.delivered.set(userId, seq);
}

function receiptsApply(chat) {
  return chat.kind === "dm" || chat.memberCount <= READ_RECEIPT_MAX_MEMBERS;
}

// Delivery receipts for what this tab received, batched per conversation.
const deliveredPending = new Map();
let deliveredTimer = null;
function deliveredSoon(chat, seq) {
  if (!chat.roomId || !receiptsApply(chat)) return;
  deliveredPending.set(chat.roomId, Math.max(seq, deliveredPending.get(chat.roomId) || 0));
  if (deliveredTimer) return;
  deliveredTimer = setTimeout(() => {
    deliveredTimer = null;
    if (!state.connected || !state.authed) return;
    for (const [roomId, top] of deliveredPending) state.socket.emit("delivered", { roomId, seq: top });
    deliveredPending.clear();
  }, 250);
}

// ---- incoming messages -----------------------------------------------------------------------

function chatForRoom(roomId) {
  const key = state.byRoom.get(roomId);
  return key ? state.chats.get(key) : null;
}

let listsRefresh = null;
function refreshListsSoon() {
  if (listsRefresh) return;
  listsRefresh = setTimeout(async () => {
    listsRefresh = null;
    try {
      await loadLists();
    } catch (e) {
      console.warn("lists refresh failed", e);
    }
  }, 200);
}

function applyIncoming(chat, m) {
  const mine = m.userId === state.me.id;
  if (chat.loaded) {
    const top = maxSeq(chat);
    if (top > 0 && m.seq > top + 1) {
      // A gap: something between our newest and this one never reached us. Fetch it all.
      fillAfter(chat);
    } else {
      mergeMessages(chat, [m]);
    }
  }
  chat.lastSeq = Math.max(chat.lastSeq, m.seq);
  chat.lastMessage = m;
  chat.lastActivity = Math.max(chat.lastActivity, Date.parse(m.createdAt) || Date.now());
  if (mine) {
    chat.lastReadSeq = Math.max(chat.lastReadSeq, m.seq);
    if (m.clientMsgId) dropOutbox(m.clientMsgId);
  } else {
    chat.typing.delete(m.userId);
    // Posting moves the sender's read pointer to their message (the server does the same).
    if (m.userId) bumpRead(chat, m.userId, m.seq);
    deliveredSoon(chat, m.seq);
  }
  if (chat.key === state.activeKey) {
    render("messages", "typing");
    markReadSoon(chat);
  }
  render("sidebar");
}

function onNewMessage({ message }) {
  const chat = chatForRoom(message.roomId);
  if (!chat) {
    refreshListsSoon();
    return;
  }
  applyIncoming(chat, message);
}

function onNewDm({ message }) {
  const meId = state.me.id;
  const senderId = message.senderId || message.userId;
  const otherId = senderId === meId ? message.recipientId : senderId;
  if (!otherId) return;
  let chat = state.chats.get(`dm:${otherId}`);
  if (!chat) {
    chat = dmChat({ id: otherId, username: senderId === otherId ? message.senderUsername || message.username : "" });
    if (!chat.name || chat.name === "…") refreshListsSoon();
  }
  setDmRoom(chat, message.roomId);
  applyIncoming(chat, message);
}

function onUnread(body) {
  for (const [roomId, s] of Object.entries((body && body.rooms) || {})) {
    const chat = chatForRoom(roomId);
    if (!chat) {
      if (s.unread > 0 || s.kind === "direct") refreshListsSoon();
      continue;
    }
    chat.lastSeq = Math.max(chat.lastSeq, s.lastSeq || 0);
    chat.lastReadSeq = Math.max(chat.lastReadSeq, s.lastReadSeq || 0);
  }
  render("sidebar");
}

// ---- read state --------------------------------------------------------------------------------

let markTimer = null;
function markReadSoon(chat) {
  clearTimeout(markTimer);
  markTimer = setTimeout(() => markRead(chat), 150);
}

function markRead(chat, force = false) {
  if (!chat || chat.key !== state.activeKey || !chat.roomId || !chat.loaded) return;
  if (document.visibilityState !== "visible") return;
  const seq = maxSeq(chat);
  if (!seq || (!force && seq <= chat.lastReadSeq)) return;
  chat.lastReadSeq = Math.max(chat.lastReadSeq, seq);
  render("sidebar");
  if (state.connected && state.authed) {
    state.socket.emit("mark_read", { roomId: chat.roomId, seq });
  } else {
    chat.readPending = true;
  }
}

// ---- the outbox ----------------------------------------------------------------------------------

// The outbox is kept per tab (a tab id in sessionStorage survives reloads), so that two
// tabs never overwrite each other's queue. A tab holds a Web Lock named after its id while
// it lives; a queue whose tab is gone (closed while offline) is adopted by the next tab.
let tabId = null;
const outboxPrefix = () => `chat.outbox.${state.me.id}.`;
const outboxKey = () => outboxPrefix() + tabId;

async function claimTab() {
  let id = sessionStorage.getItem("chat.tabId") || uuid();
  if (navigator.locks) {
    for (let i = 0; i < 3; i++) {
      const got = await new Promise((resolve) => {
        navigator.locks.request(`chat-tab-${id}`, { ifAvailable: true }, (lock) => {
          resolve(!!lock);
          return lock ? new Promise(() => {}) : undefined; // held for the tab's life
        });
      });
      if (got) break;
      id = uuid(); // a duplicated tab copied our sessionStorage: take a new id
    }
  }
  sessionStorage.setItem("chat.tabId", id);
  tabId = id;
}

async function loadOutbox() {
  const read = (key) => {
    try {
      return JSON.parse(localStorage.getItem(key) || "[]");
    } catch {
      return [];
    }
  };
  const items = read(outboxKey());
  if (navigator.locks) {
    const held = new Set(((await navigator.locks.query()).held || []).map((l) => l.name));
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith(outboxPrefix()) || key === outboxKey()) continue;
      if (held.has(`chat-tab-${key.slice(outboxPrefix().length)}`)) continue;
      items.push(...read(key));
      localStorage.removeItem(key);
      i -= 1;
    }
  }
  const seen = new Set();
  state.outbox = items
    .filter((i) => i && i.clientMsgId && !seen.has(i.clientMsgId) && seen.add(i.clientMsgId))
    .sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)))
    .map((i) => ({ ...i, state: i.state === "failed" ? "failed" : "queued" }));
  saveOutbox();
}

function saveOutbox() {
  const keep = state.outbox.map(({ attempt, ...rest }) => rest);
  if (keep.length) localStorage.setItem(outboxKey(), JSON.stringify(keep));
  else localStorage.removeItem(outboxKey());
}

function dropOutbox(clientMsgId) {
  const before = state.outbox.length;
  state.outbox = state.outbox.filter((i) => i.clientMsgId !== clientMsgId);
  if (state.outbox.length !== before) {
    saveOutbox();
    render("messages", "banner");
  }
}

function enqueue(chat, fields) {
  const item = {
    clientMsgId: uuid(),
    key: chat.key,
    roomId: chat.kind === "room" ? chat.roomId : null,
    recipientId: chat.kind === "dm" ? chat.userId : null,
    content: fields.content || "",
    messageType: fields.messageType || "text",
    fileId: fields.fileId || null,
    file: fields.file || null,
    createdAt: new Date().toISOString(),
    state: "queued",
    error: null,
  };
  state.outbox.push(item);
  saveOutbox();
  state.stick = true;
  render("messages", "banner");
  pump();
}

let pumpTimer = null;
async function pump() {
  if (state.pumping) return;
  state.pumping = true;
  try {
    while (state.connected && state.authed) {
      const item = state.outbox.find((i) => i.state === "queued");
      if (!item) break;
      const outcome = await sendItem(item);
      if (outcome !== "next") {
        clearTimeout(pumpTimer);
        pumpTimer = setTimeout(pump, outcome === "slow" ? 5000 : 1500);
        break;
      }
    }
  } finally {
    state.pumping = false;
  }
}

async function sendItem(item) {
  item.state = "sending";
  item.attempt = (item.attempt || 0) + 1;
  const attempt = item.attempt;
  render("messages");
  const payload = { content: item.content, clientMsgId: item.clientMsgId, messageType: item.messageType };
  if (item.fileId) payload.fileId = item.fileId;
  let event = "send_message";
  if (item.recipientId) {
    event = "send_dm";
    payload.recipientId = item.recipientId;
  } else {
    payload.roomId = item.roomId;
  }
  let ack;
  try {
    ack = await state.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
  } catch {
    // No ack in time (connection died?): it stays queued and is re-sent with the same
    // clientMsgId, which the server deduplicates.
    if (item.state === "sending" && item.attempt === attempt) item.state = "queued";
    render("messages");
    return "retry";
  }
  if (ack && ack.ok) {
    const chat = state.chats.get(item.key);
    dropOutbox(item.clientMsgId);
    if (chat) {
      if (chat.kind === "dm") setDmRoom(chat, ack.message.roomId);
      applyIncoming(chat, ack.message);
    }
    return "next";
  }
  const error = (ack && ack.error) || { code: "internal_error", message: "Could not send" };
  if (["rate_limited", "unavailable", "internal_error", "unauthenticated"].includes(error.code)) {
    item.state = "queued";
    item.error = error.message;
    render("messages");
    return error.code === "rate_limited" ? "slow" : "retry";
  }
  item.state = "failed";
  item.error = error.message;
  saveOutbox();
  render("messages");
  return "next";
}

// ---- the connection ---------------------------------------------------------------------------

async function connectSocket() {
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

  socket.on("new_message", onNewMessage);
  socket.on("new_dm", onNewDm);
  socket.on("unread", onUnread);
  socket.on("user_typing", onTyping);
  socket.on("user_stopped_typing", onStoppedTyping);
  socket.on("presence", onPresence);
  socket.on("read_receipt", onReadReceipt);
  socket.on("delivery_receipt", onDeliveryReceipt);
  socket.on("user_joined", onUserJoined);
  socket.on("user_left", onUserLeft);
  socket.on("room_invite", onRoomInvite);
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

function onDisconnected() {
  const was = state.connected;
  state.connected = false;
  state.authed = false;
  for (const item of state.outbox) if (item.state === "sending") item.state = "queued";
  typingKey = null;
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
  const results = { rooms: {}, errors: {} };
  for (let i = 0; i === 0 || i < entries.length; i += SYNC_CHUNK) {
    let ack;
    try {
      ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck("sync", { rooms: Object.fromEntries(entries.slice(i, i + SYNC_CHUNK)) });
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
  }
  state.authed = true;
  applySync(results);
  const active = activeChat();
  if (active && (active.readPending || active.lastReadSeq > (results.rooms[active.roomId] || {}).lastReadSeq)) {
    active.readPending = false;
    markRead(active, true);
  }
  pump();
}

function applySync(ack) {
  for (const [roomId, r] of Object.entries(ack.rooms || {})) {
    const chat = chatForRoom(roomId);
    if (!chat) continue;
    chat.lastSeq = Math.max(chat.lastSeq, r.lastSeq || 0);
    chat.lastReadSeq = Math.max(chat.lastReadSeq, r.lastReadSeq || 0);
    if (chat.loaded) {
      mergeMessages(chat, r.messages || []);
      if (r.hasMore) fillAfter(chat);
    } else if (r.messages && r.messages.length) {
      const last = r.messages[r.messages.length - 1];
      chat.lastMessage = last;
      chat.lastActivity = Math.max(chat.lastActivity, Date.parse(last.createdAt) || 0);
    }
  }
  for (const roomId of Object.keys(ack.errors || {})) {
    const chat = chatForRoom(roomId);
    if (chat && chat.kind === "room") removeChat(chat.key);
  }
  render("sidebar", "messages");
  const active = activeChat();
  if (active) markReadSoon(active);
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

// ---- realtime events ----------------------------------------------------------------------------

function onTyping({ roomId, userId, username }) {
  const chat = chatForRoom(roomId);
  if (!chat || userId === state.me.id) return;
  chat.typing.set(userId, { username, until: Date.now() + TYPING_SHOW_MS });
  if (chat.key === state.activeKey) render("typing");
  setTimeout(() => {
    const t = chat.typing.get(userId);
    if (t && t.until <= Date.now()) {
      chat.typing.delete(userId);
      if (chat.key === state.activeKey) render("typing");
    }
  }, TYPING_SHOW_MS + 50);
}

function onStoppedTyping({ roomId, userId }) {
  const chat = chatForRoom(roomId);
  if (!chat) return;
  chat.typing.delete(userId);
  if (chat.key === state.activeKey) render("typing");
}

function onPresence({ userId, username, status, lastSeen }) {
  noteUser({ id: userId, username, online: status === "online", lastSeen });
  render("sidebar", "header", "members", "messages");
}

function onReadReceipt({ roomId, userId, lastReadSeq }) {
  const chat = chatForRoom(roomId);
  if (!chat) return;
  bumpRead(chat, userId, lastReadSeq);
  if (chat.key === state.activeKey) render("messages", "members");
}

function onDeliveryReceipt({ roomId, userId, lastDeliveredSeq }) {
  const chat = chatForRoom(roomId);
  if (!chat) return;
  bumpDelivered(chat, userId, lastDeliveredSeq);
  if (chat.key === state.activeKey) render("messages");
}

async function onUserJoined({ roomId, user }) {
  if (user && user.id === state.me.id) {
    // Joined from another tab or device.
    state.invites.delete(roomId);
    if (!chatForRoom(roomId)) {
      try {
        roomChat(await api("GET", `/api/rooms/${roomId}`));
      } catch (e) {
        console.warn(e);
      }
    }
    render("sidebar");
    return;
  }
  const chat = chatForRoom(roomId);
  if (!chat) return;
  chat.memberCount += 1;
  if (chat.members && user) {
    noteUser({ ...user, online: true });
    chat.members.set(user.id, { ...user, role: "member", online: true, lastReadSeq: 0 });
  }
  if (chat.key === state.activeKey) render("header", "members");
}

function onUserLeft({ roomId, userId }) {
  const chat = chatForRoom(roomId);
  if (!chat) return;
  if (userId === state.me.id) {
    removeChat(chat.key);
    render("sidebar");
    return;
  }
  chat.memberCount = Math.max(0, chat.memberCount - 1);
  if (chat.members) chat.members.delete(userId);
  chat.typing.delete(userId);
  if (chat.key === state.activeKey) render("header", "members", "typing");
}

function onRoomInvite(invite) {
  state.invites.set(invite.room.id, invite);
  toast(`${invite.invitedBy?.username || "Someone"} invited you to #${invite.room.name}`);
  render("sidebar");
}

// ---- rendering ------------------------------------------------------------------------------------

const dirty = new Set();
let renderQueued = false;

/** Mark parts of the UI for re-rendering; bursts of events render once. */
function render(...parts) {
  for (const p of parts) dirty.add(p);
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    const todo = new Set(dirty);
    dirty.clear();
    const has = (p) => todo.has("all") || todo.has(p);
    if (!state.me) return;
    if (has("sidebar")) renderSidebar();
    if (has("header")) renderHeader();
    if (has("messages")) renderMessagesNow();
    if (has("typing")) renderTyping();
    if (has("members")) renderMembers();
    if (has("banner")) renderBanner();
  });
}

function renderSidebar() {
  const rooms = [...state.chats.values()].filter((c) => c.kind === "room").sort((a, b) => {
    if (a.roomId === LOBBY_ID) return -1;
    if (b.roomId === LOBBY_ID) return 1;
    return a.name.localeCompare(b.name);
  });
  setChildren($("#room-list"), rooms.length ? rooms.map(roomItem) : h("li.empty-hint", null, "No rooms yet"));

  const invites = [...state.invites.values()].filter((i) => !chatForRoom(i.room.id));
  $("#invites-section").hidden = invites.length === 0;
  setChildren($("#invite-list"), invites.map(inviteItem));

  const dms = [...state.chats.values()].filter((c) => c.kind === "dm")
    .sort((a, b) => b.lastActivity - a.lastActivity || a.name.localeCompare(b.name));
  setChildren($("#dm-list"), dms.length ? dms.map(dmItem) : h("li.empty-hint", null, "Start one from a member list"));

  let total = 0;
  for (const c of state.chats.values()) total += unread(c);
  document.title = total ? `(${total}) Chat` : "Chat";
}

function badge(n) {
  return n ? h("span.badge", { "aria-label": `${n} unread` }, n > 99 ? "99+" : String(n)) : null;
}

function roomItem(chat) {
  const n = unread(chat);
  const active = chat.key === state.activeKey;
  return h("li", null, h(`button.chat-item${active ? ".active" : ""}${n ? ".unread" : ""}`, {
    type: "button", dataset: { key: chat.key, name: chat.name }, "aria-current": active ? "page" : null,
    onclick: () => openChat(chat.key),
  }, h("span.chat-icon", null, icon(chat.isPrivate ? "lock" : "hash")), h("span.chat-name", null, chat.name), badge(n)));
}

function presenceText(user) {
  if (!user) return "";
  if (user.online) return "online";
  return user.lastSeen ? `last seen ${formatAgo(user.lastSeen)}` : "offline";
}

function dmItem(chat) {
  const n = unread(chat);
  const user = state.users.get(chat.userId);
  const active = chat.key === state.activeKey;
  return h("li", null, h(`button.chat-item.dm-item${active ? ".active" : ""}${n ? ".unread" : ""}`, {
    type: "button", dataset: { key: chat.key, name: chat.name }, "aria-current": active ? "page" : null,
    onclick: () => openChat(chat.key),
  }, avatar(chat.name, { online: !!(user && user.online), size: "sm" }),
  h("span.dm-text", null, h("span.chat-name", null, chat.name), h("span.dm-sub", null, presenceText(user))),
  badge(n)));
}

function inviteItem(invite) {
  return h("li.invite", { dataset: { roomId: invite.room.id } },
    h("div.invite-text", null, h("span.chat-icon", null, icon("lock")), h("strong", null, invite.room.name),
      h("span.invite-by", null, invite.invitedBy?.username ? `from ${invite.invitedBy.username}` : "")),
    h("button.small.primary", { type: "button", onclick: () => joinRoom(invite.room.id) }, "Join"));
}

function renderHeader() {
  const chat = activeChat();
  const title = $("#conv-title");
  const sub = $("#conv-sub");
  $("#conversation").classList.toggle("is-empty", !chat);
  if (!chat) {
    setChildren(title, "");
    setChildren(sub, "");
    return;
  }
  if (chat.kind === "room") {
    setChildren(title, h("span.chat-icon", null, icon(chat.isPrivate ? "lock" : "hash")), h("span.title-text", null, chat.name));
    const count = `${chat.memberCount} member${chat.memberCount === 1 ? "" : "s"}`;
    setChildren(sub, chat.description ? `${chat.description} · ${count}` : count);
  } else {
    const user = state.users.get(chat.userId);
    setChildren(title, avatar(chat.name, { online: !!(user && user.online), size: "sm" }), h("span.title-text", null, chat.name));
    setChildren(sub, presenceText(user));
  }
  $("#invite-btn").hidden = !(chat.kind === "room" && chat.isPrivate && ["owner", "admin"].includes(chat.role));
  $("#members-btn").hidden = chat.kind !== "room";
  $("#leave-btn").hidden = !(chat.kind === "room" && chat.roomId !== LOBBY_ID);
  $("#message-input").placeholder = chat.kind === "room" ? `Message #${chat.name}` : `Message ${chat.name}`;
}

function pendingFor(chat) {
  return state.outbox.filter((i) => i.key === chat.key).map((i) => ({
    pending: true, item: i, userId: state.me.id, username: state.me.username, content: i.content,
    messageType: i.messageType, file: i.file, createdAt: i.createdAt, clientMsgId: i.clientMsgId,
  }));
}

function isDelivered(chat, m) {
  for (const [userId, seq] of chat.delivered) {
    if (userId !== state.me.id && seq >= m.seq) return true;
  }
  if (receiptsApply(chat)) return false;
  const at = Date.parse(m.createdAt) || 0;
  const others = chat.kind === "dm"
    ? [state.users.get(chat.userId)]
    : chat.members ? [...chat.members.keys()].filter((id) => id !== state.me.id).map((id) => state.users.get(id)) : [];
  return others.some((u) => u && (u.online || (u.lastSeen && Date.parse(u.lastSeen) >= at)));
}

function tickStatus(chat, m) {
  for (const [userId, seq] of chat.reads) {
    if (userId !== state.me.id && seq >= m.seq) return "read";
  }
  return isDelivered(chat, m) ? "delivered" : "sent";
}

function readersOf(chat, m) {
  const names = [];
  for (const [userId, seq] of chat.reads) {
    if (userId !== state.me.id && seq >= m.seq) names.push(state.users.get(userId)?.username || "someone");
  }
  return names;
}

function ticks(status, title) {
  return h(`span.ticks.${status}`, { title, "aria-label": title }, icon(status === "sent" ? "check" : "checks"));
}

function messageEl(chat, m) {
  const mine = m.userId === state.me.id;
  if (m.pending) {
    const i = m.item;
    const failed = i.state === "failed";
    const label = failed ? `Not sent: ${i.error || "error"}`
      : state.connected ? "Sending…" : "Waiting for connection…";
    return h(`div.msg.mine.pending${failed ? ".failed" : ""}`, { dataset: { clientMsgId: i.clientMsgId, status: failed ? "failed" : "pending" } },
      h("div.bubble", null,
        i.file ? h("div.file-chip.pending-file", null, icon("file"), h("span.file-name", null, i.file.name || "file")) : null,
        i.content ? h("div.text", null, h("p.plain", null, i.content)) : null,
        h("span.meta", null, h("span.status-text", null, label), icon(failed ? "alert" : "clock"))),
      failed ? h("div.failed-actions", null,
        h("button.link", { type: "button", onclick: () => { i.state = "queued"; i.error = null; saveOutbox(); render("messages"); pump(); } }, "Retry"),
        h("button.link", { type: "button", onclick: () => dropOutbox(i.clientMsgId) }, "Delete")) : null);
  }
  const status = mine ? tickStatus(chat, m) : null;
  const cacheKey = `${m.id}|${status}`;
  const cached = chat.els.get(m.id);
  if (cached && cached.key === cacheKey) return cached.el;
  const d = new Date(m.createdAt);
  const att = attachment(m, openLightbox);
  const showText = !att || hasCaption(m);
  const text = showText ? h("div.text", null, messageText(m)) : null;
  let title = "";
  if (status === "read") title = `Read by ${readersOf(chat, m).join(", ")}`;
  else if (status === "delivered") title = "Delivered";
  else if (status === "sent") title = "Sent";
  const el = h(`div.msg${mine ? ".mine" : ""}${att ? ".has-file" : ""}`, {
    id: `m-${m.id}`, dataset: { seq: String(m.seq), id: m.id, status: status || "" },
  }, h("div.bubble", null, att, text,
    h("span.meta", null, h("time", { datetime: m.createdAt, title: formatFull(d) }, formatTime(d)),
      mine ? ticks(status, title) : null)));
  chat.els.set(m.id, { key: cacheKey, el });
  return el;
}

function renderMessagesNow() {
  const box = $("#messages");
  const chat = activeChat();
  if (!chat) {
    setChildren(box);
    return;
  }
  const nodes = [];
  if (chat.loadError && !chat.loaded) {
    nodes.push(h("div.list-note.error", null, `Could not load messages: ${chat.loadError}`,
      h("button.link", { type: "button", onclick: () => loadInitial(chat) }, "Retry")));
  } else if (!chat.loaded) {
    nodes.push(h("div.list-note", null, h("span.spinner"), "Loading messages…"));
  } else if (chat.loadingOlder) {
    nodes.push(h("div.list-note", null, h("span.spinner"), "Loading older messages…"));
  } else if (!chat.hasMore) {
    nodes.push(h("div.history-start", null,
      h("div.history-icon", null, chat.kind === "room" ? icon(chat.isPrivate ? "lock" : "hash") : avatar(chat.name)),
      h("div.history-title", null, chat.kind === "room" ? `Welcome to #${chat.name}` : chat.name),
      h("div.history-sub", null, chat.kind === "room"
        ? "This is the very beginning of the room."
        : `This is the beginning of your conversation with ${chat.name}.`)));
  }
  const all = chat.loaded ? [...chat.messages, ...pendingFor(chat)] : [];
  let day = null;
  let group = null;
  let prev = null;
  for (const m of all) {
    const d = new Date(m.createdAt);
    const dk = dayKey(d);
    if (dk !== day) {
      nodes.push(h("div.day-sep", { role: "separator" }, h("span", null, formatDay(d))));
      day = dk;
      group = null;
    }
    if (!group || prev.userId !== m.userId || d - new Date(prev.createdAt) > GROUP_GAP_MS) {
      group = messageGroup(chat, m, d);
      nodes.push(group.el);
    }
    group.list.appendChild(messageEl(chat, m));
    prev = m;
  }
  setChildren(box, nodes);
  if (state.stick) box.scrollTop = box.scrollHeight;
  $("#jump-btn").hidden = state.stick;
}

function messageGroup(chat, m, d) {
  const mine = m.userId === state.me.id;
  const list = h("div.group-msgs");
  const name = m.username || state.users.get(m.userId)?.username || "unknown";
  const el = h(`div.group${mine ? ".mine" : ""}`, { dataset: { userId: m.userId || "" } },
    mine ? null : avatar(name),
    h("div.group-body", null,
      mine ? null : h("div.group-head", null, h("span.author", null, name),
        h("time", { datetime: m.createdAt, title: formatFull(d) }, formatTime(d))),
      list));
  return { el, list };
}

function renderTyping() {
  const chat = activeChat();
  const el = $("#typing");
  const now = Date.now();
  const names = chat ? [...chat.typing.values()].filter((t) => t.until > now).map((t) => t.username) : [];
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = `${names.length} people are typing…`;
  el.classList.toggle("active", !!text);
  setChildren(el, text ? [h("span.typing-dots", null, h("span"), h("span"), h("span")), h("span.typing-text", null, text)] : []);
}

// A blip shorter than this (a quick reconnect) does not flash the banner.
const BANNER_DELAY_MS = 700;
let bannerTimer = null;

function renderBanner() {
  const banner = $("#banner");
  const down = !!state.me && !state.connected && (state.everConnected || state.retries > 0 || state.connectSlow);
  if (!down) state.downSince = null;
  else if (!state.downSince) state.downSince = Date.now();
  const waited = down ? Date.now() - state.downSince : 0;
  if (down && waited < BANNER_DELAY_MS) {
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => render("banner"), BANNER_DELAY_MS - waited + 10);
  }
  const show = down && waited >= BANNER_DELAY_MS;
  document.body.dataset.connection = state.connected ? "online" : "offline";
  banner.hidden = !show;
  if (!show) return;
  const waiting = state.outbox.filter((i) => i.state !== "failed").length;
  const text = state.shutdownNotice ? "The server is restarting. Reconnecting…"
    : state.everConnected ? "Connection lost. Reconnecting…" : "Connecting…";
  setChildren(banner, h("span.spinner"), h("span", null, text),
    waiting ? h("span.banner-sub", null, `${waiting} message${waiting === 1 ? "" : "s"} will be sent when you're back online.`) : null,
    h("button.link", { type: "button", onclick: () => { state.socket && state.socket.connect(); } }, "Retry now"));
}

function renderMembers() {
  const panel = $("#members-panel");
  const chat = activeChat();
  if (panel.hidden || !chat || chat.kind !== "room") return;
  const members = chat.members ? [...chat.members.values()] : [];
  members.sort((a, b) => {
    const ua = state.users.get(a.id) || a;
    const ub = state.users.get(b.id) || b;
    return (ub.online - ua.online) || a.username.localeCompare(b.username);
  });
  const canInvite = chat.isPrivate && ["owner", "admin"].includes(chat.role);
  setChildren($("#members-title"), `Members · ${chat.memberCount}`);
  setChildren($("#member-list"),
    canInvite ? h("li.member-invite", null, h("button.secondary.wide", { type: "button", onclick: () => openInvite(chat) }, icon("invite"), "Invite people")) : null,
    chat.members ? members.map((m) => memberItem(m)) : h("li.empty-hint", null, "Loading…"));
}

function memberItem(m) {
  const user = state.users.get(m.id) || m;
  const me = m.id === state.me.id;
  return h("li.member", { dataset: { userId: m.id, username: m.username } },
    avatar(m.username, { online: !!user.online, size: "sm" }),
    h("span.member-text", null,
      h("span.member-name", null, m.username, me ? h("span.you", null, " (you)") : null,
        m.role && m.role !== "member" ? h("span.role", null, m.role) : null),
      h("span.member-sub", null, presenceText(user))),
    me ? null : h("button.small.secondary", {
      type: "button", title: `Message ${m.username}`, onclick: () => openDm({ id: m.id, username: m.username }),
    }, "Message"));
}

// ---- actions ------------------------------------------------------------------------------------

function routeFor(chat) {
  return chat.kind === "room" ? `#room/${chat.roomId}` : `#dm/${chat.userId}`;
}

async function openChat(key) {
  const chat = state.chats.get(key);
  if (!chat) return;
  const previous = activeChat();
  if (previous && previous.key !== key) {
    stopTyping();
    state.drafts.set(previous.key, $("#message-input").value);
  }
  const switching = !previous || previous.key !== key;
  state.activeKey = key;
  if (location.hash !== routeFor(chat)) history.replaceState(null, "", routeFor(chat));
  localStorage.setItem(`chat.lastChat.${state.me.id}`, routeFor(chat));
  document.body.classList.add("show-chat");
  if (switching) {
    const input = $("#message-input");
    input.value = state.drafts.get(key) || "";
    autosize();
    state.stick = true;
    if (chat.kind !== "room") $("#members-panel").hidden = true;
  }
  render("sidebar", "header", "messages", "typing", "members");
  if (!MOBILE.matches) $("#message-input").focus();
  if (!chat.loaded) await loadInitial(chat);
  else {
    markReadSoon(chat);
    loadDetails(chat);
  }
}

function openDm(user) {
  const chat = dmChat(user);
  closeDialogs();
  if (MOBILE.matches) $("#members-panel").hidden = true;
  openChat(chat.key);
}

async function joinRoom(roomId) {
  try {
    const room = await api("POST", `/api/rooms/${roomId}/join`);
    state.invites.delete(roomId);
    const chat = roomChat(room);
    closeDialogs();
    await openChat(chat.key);
  } catch (e) {
    toast(`Could not join: ${e.message}`, "error");
  }
}

async function leaveActive() {
  const chat = activeChat();
  if (!chat || chat.kind !== "room" || chat.roomId === LOBBY_ID) return;
  if (!confirm(`Leave #${chat.name}?`)) return;
  try {
    await api("DELETE", `/api/rooms/${chat.roomId}/leave`);
    removeChat(chat.key);
    toast(`You left #${chat.name}`);
  } catch (e) {
    toast(`Could not leave: ${e.message}`, "error");
  }
}

function submitComposer() {
  const chat = activeChat();
  const input = $("#message-input");
  const text = input.value;
  if (!chat || !text.trim()) return;
  if (text.length > MAX_CONTENT) {
    toast(`Messages are limited to ${MAX_CONTENT} characters (this one has ${text.length}).`, "error");
    return;
  }
  stopTyping();
  enqueue(chat, { content: text });
  input.value = "";
  state.drafts.delete(chat.key);
  autosize();
}

// Typing: announce on input, renewed every couple of seconds, stopped when idle or sent.
let typingKey = null;
let typingSentAt = 0;
let typingIdle = null;

function onComposerInput() {
  autosize();
  const chat = activeChat();
  if (!chat || !chat.roomId || !state.connected) return;
  const input = $("#message-input");
  if (!input.value.trim()) {
    stopTyping();
    return;
  }
  const now = Date.now();
  if (typingKey !== chat.key || now - typingSentAt > TYPING_RENEW_MS) {
    if (typingKey && typingKey !== chat.key) stopTyping();
    typingKey = chat.key;
    typingSentAt = now;
    state.socket.emit("typing_start", { roomId: chat.roomId });
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(typingIdle);
  if (!typingKey) return;
  const chat = state.chats.get(typingKey);
  typingKey = null;
  typingSentAt = 0;
  if (chat && chat.roomId && state.connected) state.socket.emit("typing_stop", { roomId: chat.roomId });
}

function autosize() {
  const input = $("#message-input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
}

// ---- uploads --------------------------------------------------------------------------------------

function checkFile(file) {
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  const types = UPLOAD_TYPES[ext];
  if (!types || (file.type && !types.includes(file.type))) {
    return `${file.name}: only JPEG, PNG, GIF, PDF and plain-text files can be shared.`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.size > MAX_UPLOAD_BYTES) {
    return `${file.name} is too large (${formatSize(file.size)}); the limit is ${formatSize(MAX_UPLOAD_BYTES)}.`;
  }
  return null;
}

function startUploads(files) {
  const chat = activeChat();
  if (!chat) return;
  for (const file of files) {
    const problem = checkFile(file);
    const job = { id: uuid(), name: file.name, size: file.size, progress: 0, error: problem, chatKey: chat.key, file };
    state.uploads.push(job);
    if (!problem) runUpload(job);
  }
  renderUploads();
}

function runUpload(job) {
  job.error = null;
  job.progress = 0;
  const { promise, abort } = upload(job.file, (p) => {
    job.progress = p;
    renderUploads();
  });
  job.abort = abort;
  promise.then((file) => {
    state.uploads = state.uploads.filter((j) => j !== job);
    renderUploads();
    const chat = state.chats.get(job.chatKey);
    if (!chat) return;
    const isImage = /^image\//.test(file.mimeType || "");
    enqueue(chat, { content: "", messageType: isImage ? "image" : "file", fileId: file.id, file });
  }, (err) => {
    if (err.code === "aborted") {
      state.uploads = state.uploads.filter((j) => j !== job);
    } else {
      job.error = err.status === 0 ? `${job.name}: upload failed (no connection).` : `${job.name}: ${err.message}`;
      job.retryable = err.status === 0 || err.status >= 500 || err.status === 429;
    }
    renderUploads();
  });
}

function renderUploads() {
  const box = $("#uploads");
  const chat = activeChat();
  const jobs = state.uploads.filter((j) => chat && j.chatKey === chat.key);
  setChildren(box, jobs.map((job) => h(`div.upload${job.error ? ".error" : ""}`, { dataset: { name: job.name } },
    h("span.upload-icon", null, icon(job.error ? "alert" : "file")),
    h("span.upload-text", null,
      h("span.upload-name", null, job.error ? job.error : `${job.name} · ${formatSize(job.size)}`),
      job.error ? null : h("progress", { max: "100", value: String(Math.round(job.progress * 100)) })),
    job.error && job.retryable ? h("button.link", { type: "button", onclick: () => { runUpload(job); renderUploads(); } }, "Retry") : null,
    h("button.icon-btn.small", {
      type: "button", title: job.error ? "Dismiss" : "Cancel upload",
      onclick: () => {
        if (!job.error && job.abort) job.abort();
        state.uploads = state.uploads.filter((j) => j !== job);
        renderUploads();
      },
    }, icon("x")))));
}

// ---- dialogs --------------------------------------------------------------------------------------

function closeDialogs() {
  for (const d of document.querySelectorAll("dialog[open]")) d.close();
}

function openLightbox(file) {
  const dialog = $("#lightbox");
  const img = $("#lightbox-img");
  img.src = file.url;
  img.alt = file.name || "image";
  $("#lightbox-name").textContent = file.name || "";
  $("#lightbox-open").href = file.url;
  dialog.showModal();
}

async function openBrowse() {
  const dialog = $("#browse-dialog");
  $("#browse-search").value = "";
  dialog.showModal();
  await searchRooms("");
  $("#browse-search").focus();
}

let browseSeq = 0;
async function searchRooms(term) {
  const seq = ++browseSeq;
  const list = $("#browse-list");
  const q = new URLSearchParams({ limit: "100" });
  if (term.trim()) q.set("search", term.trim());
  try {
    const body = await api("GET", `/api/rooms?${q}`);
    if (seq !== browseSeq) return;
    const rooms = body.rooms.filter((r) => r.kind !== "direct");
    setChildren(list, rooms.length ? rooms.map((r) => h("li.browse-item", { dataset: { name: r.name } },
      h("span.chat-icon", null, icon(r.isPrivate ? "lock" : "hash")),
      h("span.browse-text", null, h("span.browse-name", null, r.name),
        h("span.browse-sub", null, `${r.memberCount} member${r.memberCount === 1 ? "" : "s"}${r.description ? " · " + r.description : ""}`)),
      r.isMember
        ? h("button.small.secondary", { type: "button", onclick: () => { closeDialogs(); openChat(roomChat(r).key); } }, "Open")
        : h("button.small.primary", { type: "button", onclick: () => joinRoom(r.id) }, r.isInvited ? "Accept invite" : "Join")))
      : h("li.empty-hint", null, term ? "No rooms match." : "No rooms yet. Create one!"));
  } catch (e) {
    setChildren(list, h("li.empty-hint.error", null, e.message));
  }
}

async function createRoom(event) {
  event.preventDefault();
  const form = $("#create-form");
  const err = $("#create-error");
  err.textContent = "";
  const body = {
    name: form.elements.name.value.trim(),
    description: form.elements.description.value.trim() || null,
    isPrivate: form.elements.private.checked,
  };
  try {
    const room = await api("POST", "/api/rooms", body);
    form.reset();
    closeDialogs();
    const chat = roomChat(room);
    await openChat(chat.key);
    toast(`Created #${room.name}`);
  } catch (e) {
    err.textContent = fieldErrors(e);
  }
}

function fieldErrors(e) {
  if (e instanceof ApiError && e.fields) {
    return Object.entries(e.fields).map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`).join(" ");
  }
  return e.message;
}

/** A picker over the people this user can find (the lobby's members, everyone's room). */
let pickerConfig = null;
let pickerUsers = [];

async function openPicker(config) {
  pickerConfig = config;
  $("#picker-title").textContent = config.title;
  $("#picker-search").value = "";
  setChildren($("#picker-list"), h("li.empty-hint", null, "Loading…"));
  $("#picker-dialog").showModal();
  $("#picker-search").focus();
  try {
    const body = await api("GET", `/api/rooms/${LOBBY_ID}/members?limit=500`);
    pickerUsers = body.members.filter((m) => m.id !== state.me.id);
    for (const m of body.members) noteUser(m);
  } catch (e) {
    pickerUsers = [];
    setChildren($("#picker-list"), h("li.empty-hint.error", null, e.message));
    return;
  }
  renderPicker();
}

function renderPicker() {
  if (!pickerConfig) return;
  const term = $("#picker-search").value.trim().toLowerCase();
  const users = pickerUsers.filter((u) => !term || u.username.toLowerCase().includes(term))
    .filter((u) => !(pickerConfig.exclude && pickerConfig.exclude.has(u.id)))
    .sort((a, b) => (b.online - a.online) || a.username.localeCompare(b.username)).slice(0, 100);
  setChildren($("#picker-list"), users.length ? users.map((u) => {
    const user = state.users.get(u.id) || u;
    const button = h("button.small.primary", { type: "button" }, pickerConfig.action);
    button.addEventListener("click", () => pickerConfig.onPick(u, button));
    return h("li.member", { dataset: { userId: u.id, username: u.username } },
      avatar(u.username, { online: !!user.online, size: "sm" }),
      h("span.member-text", null, h("span.member-name", null, u.username), h("span.member-sub", null, presenceText(user))),
      button);
  }) : h("li.empty-hint", null, "Nobody found."));
}

function openInvite(chat) {
  const exclude = new Set(chat.members ? chat.members.keys() : []);
  openPicker({
    title: `Invite to #${chat.name}`,
    action: "Invite",
    exclude,
    onPick: async (user, button) => {
      button.disabled = true;
      try {
        await api("POST", `/api/rooms/${chat.roomId}/invites`, { userId: user.id });
        button.textContent = "Invited";
        toast(`Invited ${user.username} to #${chat.name}`);
      } catch (e) {
        button.disabled = false;
        toast(`Could not invite ${user.username}: ${e.message}`, "error");
      }
    },
  });
}

function openNewDm() {
  openPicker({ title: "New direct message", action: "Message", onPick: (user) => openDm(user) });
}

// ---- auth ---------------------------------------------------------------------------------------

function showAuth(message) {
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
    await startApp(pair.user);
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

function signOut(message) {
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

function fatal(message) {
  $("#boot").hidden = false;
  setChildren($("#boot"), h("div.fatal", null, icon("alert"), h("p", null, message)));
}

// ---- start ---------------------------------------------------------------------------------------

async function startApp(me) {
  state.me = me;
  state.signedOut = false;
  noteUser({ id: me.id, username: me.username, online: true });
  $("#auth-view").hidden = true;
  $("#boot").hidden = true;
  $("#app").hidden = false;
  setChildren($("#me"), avatar(me.username, { online: true, size: "sm" }), h("span.me-name", null, me.username));
  await claimTab();
  await loadOutbox();
  startSessionKeeper();
  try {
    await loadLists();
  } catch (e) {
    toast(`Could not load your rooms: ${e.message}`, "error");
  }
  const fromUrl = location.hash;
  const route = fromUrl || localStorage.getItem(`chat.lastChat.${me.id}`) || "";
  let key = LOBBY_ID;
  const roomMatch = route.match(/^#room\/([0-9a-f-]{36})$/);
  const dmMatch = route.match(/^#dm\/([0-9a-f-]{36})$/);
  if (roomMatch && state.chats.has(roomMatch[1])) key = roomMatch[1];
  else if (dmMatch && dmMatch[1] !== me.id) key = dmChat({ id: dmMatch[1] }).key;
  if (!state.chats.has(key)) key = [...state.chats.keys()][0];
  connectSocket();
  if (key) {
    const opening = openChat(key);
    // On a phone the first screen is the list of conversations, unless the URL named one.
    if (MOBILE.matches && !fromUrl) document.body.classList.remove("show-chat");
    await opening;
  }
  if (dmMatch && key.startsWith("dm:") && !state.users.get(dmMatch[1])?.username) refreshListsSoon();
  setInterval(() => render("sidebar", "header", "members"), 60000);
}

function wire() {
  hydrateIcons();
  $("#tab-login").addEventListener("click", () => setAuthTab("login"));
  $("#tab-register").addEventListener("click", () => setAuthTab("register"));
  $("#login-form").addEventListener("submit", (e) => submitAuth(e, "login"));
  $("#register-form").addEventListener("submit", (e) => submitAuth(e, "register"));
  $("#logout-btn").addEventListener("click", logout);
  $("#new-room-btn").addEventListener("click", () => {
    $("#create-error").textContent = "";
    $("#create-dialog").showModal();
    $("#create-name").focus();
  });
  $("#browse-btn").addEventListener("click", openBrowse);
  $("#new-dm-btn").addEventListener("click", openNewDm);
  $("#create-form").addEventListener("submit", createRoom);
  let browseTimer = null;
  $("#browse-search").addEventListener("input", (e) => {
    clearTimeout(browseTimer);
    browseTimer = setTimeout(() => searchRooms(e.target.value), 200);
  });
  $("#picker-search").addEventListener("input", renderPicker);
  for (const btn of document.querySelectorAll("[data-close]")) {
    btn.addEventListener("click", () => btn.closest("dialog").close());
  }
  for (const dialog of document.querySelectorAll("dialog")) {
    // A click on the backdrop (the dialog element itself) closes it.
    dialog.addEventListener("click", (e) => {
      if (e.target === dialog) dialog.close();
    });
  }
  $("#back-btn").addEventListener("click", () => {
    document.body.classList.remove("show-chat");
    stopTyping();
  });
  $("#members-btn").addEventListener("click", () => {
    const panel = $("#members-panel");
    panel.hidden = !panel.hidden;
    $("#members-btn").setAttribute("aria-pressed", String(!panel.hidden));
    render("members");
    const chat = activeChat();
    if (!panel.hidden && chat) loadDetails(chat);
  });
  $("#members-close").addEventListener("click", () => {
    $("#members-panel").hidden = true;
    $("#members-btn").setAttribute("aria-pressed", "false");
  });
  $("#invite-btn").addEventListener("click", () => {
    const chat = activeChat();
    if (chat) openInvite(chat);
  });
  $("#leave-btn").addEventListener("click", leaveActive);

  const input = $("#message-input");
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitComposer();
    }
  });
  input.addEventListener("input", onComposerInput);
  input.addEventListener("blur", () => {
    const chat = activeChat();
    if (chat) state.drafts.set(chat.key, input.value);
  });
  input.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (files.length) {
      e.preventDefault();
      startUploads(files);
    }
  });
  $("#composer").addEventListener("submit", (e) => {
    e.preventDefault();
    submitComposer();
  });
  $("#attach-btn").addEventListener("click", () => $("#file-input").click());
  $("#file-input").addEventListener("change", (e) => {
    startUploads([...e.target.files]);
    e.target.value = "";
  });

  // Drag and drop anywhere over the conversation.
  const conv = $("#conversation");
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
  conv.addEventListener("dragenter", (e) => {
    if (!hasFiles(e) || !activeChat()) return;
    e.preventDefault();
    depth += 1;
    $("#drop-overlay").hidden = false;
  });
  conv.addEventListener("dragover", (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  conv.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) $("#drop-overlay").hidden = true;
  });
  conv.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    $("#drop-overlay").hidden = true;
    startUploads([...e.dataTransfer.files]);
  });

  const box = $("#messages");
  box.addEventListener("scroll", () => {
    state.stick = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    $("#jump-btn").hidden = state.stick;
    const chat = activeChat();
    if (chat && box.scrollTop < 200) loadOlder(chat);
  }, { passive: true });
  // Images load after layout: keep the view pinned to the newest message.
  box.addEventListener("load", () => {
    if (state.stick) box.scrollTop = box.scrollHeight;
  }, true);
  $("#jump-btn").addEventListener("click", () => {
    state.stick = true;
    box.scrollTop = box.scrollHeight;
    $("#jump-btn").hidden = true;
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") markReadSoon(activeChat());
    else stopTyping();
  });
  window.addEventListener("hashchange", () => {
    const m = location.hash.match(/^#(room|dm)\/([0-9a-f-]{36})$/);
    if (!m || !state.me) return;
    const key = m[1] === "room" ? m[2] : `dm:${m[2]}`;
    if (key !== state.activeKey && state.chats.has(key)) openChat(key);
  });
}

async function boot() {
  wire();
  const notice = sessionStorage.getItem("chat.signedOutMessage");
  sessionStorage.removeItem("chat.signedOutMessage");
  for (let attempt = 0; ; attempt++) {
    try {
      const me = await api("GET", "/api/users/me");
      if (!accessExpiresAt() || accessExpiresAt() < Date.now()) {
        // Signed in by a cookie from an earlier visit: learn when it expires.
        await refreshSession();
      }
      await startApp(me);
      return;
    } catch (e) {
      if (e.status === 401 || state.signedOut) {
        showAuth(notice || "");
        return;
      }
      setChildren($("#boot"), h("span.spinner"), `Cannot reach the server (${e.message}). Retrying…`);
      await new Promise((r) => setTimeout(r, Math.min(10000, 1000 * 2 ** attempt)));
    }
  }
}

boot();
