// The store: everything the client knows, and the only functions that change it.
//
// Owns: the `state` object (the signed-in user, conversations keyed "<roomId>" or
// "dm:<userId>", users, invitations, the outbox queue, connection flags), the small update
// functions every loader and event handler goes through, and the render scheduler: views
// subscribe to a part ("sidebar", "messages", ...) and `render(part)` re-draws it once per
// burst of changes. Data flows one way: socket / REST -> these updates -> render -> views.
// Must not: touch the DOM, talk to the network or the socket, or import a view.

import { READ_RECEIPT_MAX_MEMBERS } from "./config.js";

export const state = {
  me: null,
  chats: new Map(), // key ("<roomId>" or "dm:<userId>") -> chat
  byRoom: new Map(), // roomId -> chat key
  invites: new Map(), // roomId -> {room, invitedBy}
  users: new Map(), // userId -> {id, username, online, lastSeen}
  activeKey: null,
  // Whether the open conversation is on screen: always on a desktop; on a phone only
  // after one was picked from the list (its first screen is the list itself).
  showChat: true,
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
  // Messages that change (docs/web-client.md, "Messages that change"): what the user is
  // doing to one message right now. Each is owned by its module (edit.js, threads.js,
  // reactions.js, message_actions.js) and drawn by its view.
  editing: null, // {key, id}: the message edited in place
  editHistory: null, // {key, id, loading, versions, error}: the "(edited)" popover
  thread: null, // {key, rootId, root, replies: Map(seq -> message), loading, hasMore, error}
  picker: null, // {key, id, query, x, y}: the emoji picker, for a message
  sheet: null, // {key, id}: the action sheet a long press opened (phones)
  pinsOpen: false, // the pinned-messages list of the room header
};

// ---- the render scheduler --------------------------------------------------------------------

const views = new Map(); // part -> [render functions], in subscription order
const dirty = new Set();
let renderQueued = false;

/** A view (or a persister) asks to be called when `part` changed. */
export function subscribe(part, fn) {
  if (!views.has(part)) views.set(part, []);
  views.get(part).push(fn);
}

/** Mark parts of the UI as changed ("all" for every part); bursts of changes render once. */
export function render(...parts) {
  for (const p of parts) dirty.add(p);
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    const todo = new Set(dirty);
    dirty.clear();
    if (!state.me) return;
    for (const [part, fns] of views) {
      if (todo.has("all") || todo.has(part)) for (const fn of fns) fn();
    }
  });
}

// ---- conversations ---------------------------------------------------------------------------

function newChat(key, kind) {
  return {
    key, kind, roomId: null, userId: null, name: "", description: "", isPrivate: false,
    role: null, memberCount: 0, lastSeq: 0, lastReadSeq: 0, messages: [], loaded: false,
    loading: false, loadError: null, hasMore: true, loadingOlder: false, filling: false,
    typing: new Map(), reads: new Map(), delivered: new Map(), members: null, lastActivity: 0, els: new Map(),
    // Lines of the timeline seen live, not stored ("bob joined the room"): {id, text, afterSeq}.
    events: [],
    // Who joined since memberCount was last fetched (a join is counted once, whatever told us).
    counted: new Set(),
    // The first unread message when the conversation was opened: the "New messages" line.
    newFromSeq: null,
    // Changes (docs/contract.md §12): every change up to `changeSeq` is applied here;
    // changes that arrive while the first page loads wait in `pendingChanges`.
    changeSeq: 0, pendingChanges: null, listedChangeSeq: 0,
    // The pinned messages (id -> message) once fetched; null before.
    pins: null,
  };
}

export const unread = (chat) => Math.max(0, chat.lastSeq - chat.lastReadSeq);
export const maxSeq = (chat) => (chat.messages.length ? chat.messages[chat.messages.length - 1].seq : 0);
export const activeChat = () => (state.activeKey ? state.chats.get(state.activeKey) : null);

export function chatForRoom(roomId) {
  const key = state.byRoom.get(roomId);
  return key ? state.chats.get(key) : null;
}

/** Create or update a room's conversation from a room object of the API. */
export function roomChat(room) {
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
  if (typeof room.memberCount === "number" && room.memberCount !== chat.memberCount) {
    chat.memberCount = room.memberCount;
    chat.counted.clear();
  }
  // Where the room's changes stood when a list said so (a starting point for changes.js).
  if (typeof room.changeSeq === "number") chat.listedChangeSeq = Math.max(chat.listedChangeSeq, room.changeSeq);
  if (typeof room.lastSeq === "number") {
    if (typeof room.unreadCount === "number") {
      chat.lastReadSeq = Math.max(chat.lastReadSeq, room.lastSeq - room.unreadCount);
    }
    chat.lastSeq = Math.max(chat.lastSeq, room.lastSeq);
  }
  return chat;
}

export function noteUser(user) {
  if (!user || !user.id) return null;
  const known = state.users.get(user.id) || { id: user.id, username: "", online: false, lastSeen: null };
  if (user.username) known.username = user.username;
  if (typeof user.online === "boolean") known.online = user.online;
  if (user.lastSeen !== undefined && user.lastSeen !== null) known.lastSeen = user.lastSeen;
  state.users.set(user.id, known);
  return known;
}

/** Create or update the direct conversation with `user`. */
export function dmChat(user) {
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

export function setDmRoom(chat, roomId) {
  if (!roomId || chat.roomId === roomId) return;
  chat.roomId = roomId;
  state.byRoom.set(roomId, chat.key);
}

/** Forget a conversation; true when it was the open one (the caller picks another). */
export function forgetChat(key) {
  const chat = state.chats.get(key);
  if (!chat) return false;
  state.chats.delete(key);
  if (chat.roomId) state.byRoom.delete(chat.roomId);
  if (state.activeKey !== key) return false;
  state.activeKey = null;
  return true;
}

/** Add messages (from history, sync or live) by seq: duplicates collapse. */
export function mergeMessages(chat, messages) {
  if (!messages.length) return;
  const bySeq = new Map(chat.messages.map((m) => [m.seq, m]));
  for (const m of messages) {
    // A page fetched before a change we already applied must not bring the old text back.
    const held = bySeq.get(m.seq);
    if (!held || !(held.changeSeq > (m.changeSeq || 0))) bySeq.set(m.seq, m);
    if (m.userId === state.me.id && m.clientMsgId) dropOutbox(m.clientMsgId);
  }
  chat.messages = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const last = chat.messages[chat.messages.length - 1];
  chat.lastSeq = Math.max(chat.lastSeq, last.seq);
  chat.lastActivity = Math.max(chat.lastActivity, Date.parse(last.createdAt) || 0);
}

/** Someone joined or left while we watched: the member count, the list, a timeline line. */
export function noteMembership(chat, user, joined) {
  if (joined) {
    if (chat.counted.has(user.id) || (chat.members && chat.members.has(user.id))) return;
    chat.counted.add(user.id);
    chat.memberCount += 1;
    noteUser({ ...user, online: true });
    if (chat.members) chat.members.set(user.id, { ...user, role: "member", online: true, lastReadSeq: 0 });
  } else {
    chat.counted.delete(user.id);
    chat.memberCount = Math.max(0, chat.memberCount - 1);
    if (chat.members) chat.members.delete(user.id);
    chat.typing.delete(user.id);
  }
  const name = user.username || state.users.get(user.id)?.username;
  // Shown where it happened, so only in a conversation whose history is here already.
  if (name && chat.loaded) {
    chat.events.push({
      id: `${user.id}:${chat.events.length}`,
      text: `${name} ${joined ? "joined" : "left"} the room`,
      afterSeq: maxSeq(chat),
    });
  }
}

// ---- receipts --------------------------------------------------------------------------------

export function bumpRead(chat, userId, seq) {
  if ((chat.reads.get(userId) || 0) < seq) chat.reads.set(userId, seq);
  bumpDelivered(chat, userId, seq);
}

export function bumpDelivered(chat, userId, seq) {
  if ((chat.delivered.get(userId) || 0) < seq) chat.delivered.set(userId, seq);
}

export function receiptsApply(chat) {
  return chat.kind === "dm" || chat.memberCount <= READ_RECEIPT_MAX_MEMBERS;
}

// ---- the outbox queue (persisted by outbox.js, which subscribes to "outbox") ---------------

export function dropOutbox(clientMsgId) {
  const before = state.outbox.length;
  state.outbox = state.outbox.filter((i) => i.clientMsgId !== clientMsgId);
  if (state.outbox.length !== before) render("messages", "banner", "outbox");
}
