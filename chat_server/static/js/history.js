// REST loaders: the conversation lists, message history and a conversation's details.
//
// Owns: fetching rooms, invitations and DMs (`loadLists`), the first page of a
// conversation, older pages as the user scrolls up, everything after the newest message
// held (gap fill), and members / read positions. Everything fetched goes into the store
// through state.js and is drawn by the views after `render`.
// Must not: draw anything (beyond an error toast) or read the page's layout (the messages view decides when more
// history is needed), nor emit on the socket.

import { api } from "./api.js";
import { toast } from "./dom.js";
import { LOBBY_ID, PAGE_SIZE, MEMBERS_PAGE, READ_RECEIPT_MAX_MEMBERS } from "./config.js";
import {
  state, render, roomChat, dmChat, setDmRoom, noteUser, mergeMessages, maxSeq, bumpRead,
  bumpDelivered,
} from "./state.js";
import { markReadSoon } from "./delivery.js";
import { noteLoaded } from "./changes.js";
import { removeChat } from "./navigation.js";

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

export async function loadLists() {
  await Promise.all([loadRooms(), loadInvites(), loadDms()]);
  render("sidebar", "header");
}

let listsRefresh = null;
/** Reload the lists shortly (an event named a conversation this tab does not know). */
export function refreshListsSoon() {
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

// Recounts of the lobby are batched: a burst of sign-ups costs one request.
const LOBBY_RECOUNT_MS = 500;
let lobbyRecount = null;
const lobbyNewcomers = new Set();
/** Fetch the lobby's member count again; `userId` is in it (counted, whatever comes next). */
export function refreshLobbySoon(userId) {
  lobbyNewcomers.add(userId);
  if (lobbyRecount) return;
  lobbyRecount = setTimeout(async () => {
    lobbyRecount = null;
    const ids = [...lobbyNewcomers];
    lobbyNewcomers.clear();
    const chat = state.chats.get(LOBBY_ID);
    if (!chat) return;
    try {
      roomChat(await api("GET", `/api/rooms/${LOBBY_ID}`));
      for (const id of ids) chat.counted.add(id);
      if (chat.key === state.activeKey) render("header", "members");
    } catch (e) {
      console.warn("lobby recount failed", e);
    }
  }, LOBBY_RECOUNT_MS);
}

function historyUrl(chat, params) {
  const q = new URLSearchParams(params);
  return chat.kind === "dm"
    ? `/api/direct-messages/${chat.userId}?${q}`
    : `/api/rooms/${chat.roomId}/messages?${q}`;
}

/** The newest page of a conversation, the first time it is opened. */
export async function loadInitial(chat) {
  if (chat.loading || chat.loaded) return;
  chat.loading = true;
  chat.loadError = null;
  render("messages");
  // Changes the room had when a list answered before this page was asked for are in it.
  const changesBefore = chat.listedChangeSeq;
  try {
    const page = await api("GET", historyUrl(chat, { limit: PAGE_SIZE }));
    if (chat.kind === "dm") setDmRoom(chat, page.roomId);
    mergeMessages(chat, page.messages);
    chat.hasMore = page.hasMore;
    chat.lastSeq = Math.max(chat.lastSeq, page.lastSeq || 0);
    chat.loaded = true;
    noteLoaded(chat, page, changesBefore);
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
  }
}

/** One page older than the oldest message held (the view keeps its scroll position). */
export async function loadOlder(chat) {
  if (!chat.loaded || !chat.hasMore || chat.loadingOlder || !chat.messages.length) return;
  chat.loadingOlder = true;
  render("messages");
  try {
    const page = await api("GET", historyUrl(chat, { before: chat.messages[0].seq, limit: PAGE_SIZE }));
    mergeMessages(chat, page.messages);
    chat.hasMore = page.hasMore;
    chat.olderFailed = false;
    chat.keepBottomOffset = true;
  } catch (e) {
    chat.olderFailed = true;
    toast(`Could not load older messages: ${e.message}`, "error");
  } finally {
    chat.loadingOlder = false;
    render("messages");
  }
}

/** Fetch everything after the newest message we have (a gap, or after a reconnect). */
export async function fillAfter(chat) {
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
export async function loadDetails(chat) {
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
