// Messages that change (docs/contract.md §12): applying edits, deletions, reactions, pins
// and thread counts to the store, live and after any disconnect.
//
// Every change to a message of a room takes the room's next `changeSeq` and arrives as
// `message_updated` {message, changeSeq} with the whole current message, which replaces
// our copy by id (only if it is newer: a copy carries the changeSeq of its latest change,
// so changes may arrive in any order and twice). Per conversation, `chat.changeSeq` says
// up to where every change has been applied; a change that skips ahead is a gap, filled
// from `GET /api/rooms/:id/changes?after=`. After every (re)connect `sync` carries
// `changes` {roomId: changeSeq} for the conversations whose history is here, and its
// answer is applied the same way. Conversations not loaded yet need nothing: their
// history arrives in its current state.
//
// Owns: `chat.changeSeq`, `chat.pendingChanges`, replacing a message by id wherever the
// store holds it (the timeline, the open thread, the pinned list), gap fills of changes.
// Must not: draw anything (it marks parts with `render`), or emit on the socket (socket.js
// sends `sync`).

import { api } from "./api.js";
import { state, render, chatForRoom } from "./state.js";

// Pages of `GET .../changes` fetched at most per gap; beyond that the history is reloaded
// page by page anyway as the user scrolls, so the newest state wins.
const CHANGE_PAGES_MAX = 20;
// Changes asked per page.
const CHANGE_PAGE_SIZE = 100;

const changeOf = (m) => (m && typeof m.changeSeq === "number" ? m.changeSeq : 0);

/** Replace the copies of `m` (by id) the store holds, if `m` is newer. True if any changed. */
export function replaceMessage(chat, m) {
  let changed = false;
  const i = chat.messages.findIndex((x) => x.id === m.id);
  if (i >= 0 && changeOf(m) >= changeOf(chat.messages[i])) {
    // The author's own clientMsgId stays with the copy (the outbox matched on it).
    chat.messages[i] = { ...m, clientMsgId: m.clientMsgId || chat.messages[i].clientMsgId };
    changed = true;
  }
  const t = state.thread;
  if (t && t.key === chat.key) {
    if (t.rootId === m.id && changeOf(m) >= changeOf(t.root)) {
      t.root = m;
      changed = true;
    }
    const reply = t.replies.get(m.seq);
    if (reply && reply.id === m.id && changeOf(m) >= changeOf(reply)) {
      t.replies.set(m.seq, m);
      changed = true;
    }
  }
  if (chat.pins) {
    const held = chat.pins.get(m.id);
    if (m.pinned && !m.deletedAt) {
      // Newest pin first, as the server lists them.
      if (!held) chat.pins = new Map([[m.id, m], ...chat.pins]);
      else if (changeOf(m) >= changeOf(held)) chat.pins.set(m.id, m);
    } else if (held && changeOf(m) >= changeOf(held)) {
      chat.pins.delete(m.id);
    }
    render("header", "pins");
  }
  if (state.editing && state.editing.id === m.id && m.deletedAt) state.editing = null;
  if (changed) {
    if (chat.key === state.activeKey) render("messages", "thread");
    if (chat.lastMessage && chat.lastMessage.id === m.id) {
      chat.lastMessage = m;
      render("sidebar");
    }
  }
  return changed;
}

/** `message_updated` {message, changeSeq}: apply it, or spot a gap and fill it. */
export function onMessageUpdated({ message, changeSeq }) {
  if (!message) return;
  const chat = chatForRoom(message.roomId);
  if (!chat) return;
  const seq = changeSeq || changeOf(message);
  if (chat.loading) {
    // The first page is on its way and may predate this change: apply it after the page.
    if (!chat.pendingChanges) chat.pendingChanges = [];
    chat.pendingChanges.push(message);
    return;
  }
  replaceMessage(chat, message);
  if (!chat.loaded) return;
  if (seq > chat.changeSeq + 1) fillChanges(chat);
  else chat.changeSeq = Math.max(chat.changeSeq, seq);
}

/**
 * The first page of a conversation arrived: where its changes stand, and what waited.
 * `before` is the room's changeSeq as a list reported it before the page was asked for.
 */
export function noteLoaded(chat, page, before = 0) {
  // A page carries every message in its current state, so any counter read before it was
  // asked for, and the newest change any of its messages shows, is a safe starting point:
  // changes after it to messages not loaded come with those messages when they load.
  let top = Math.max(before, typeof page.changeSeq === "number" ? page.changeSeq : 0);
  for (const m of chat.messages) top = Math.max(top, changeOf(m));
  chat.changeSeq = Math.max(chat.changeSeq, top);
  const waiting = chat.pendingChanges || [];
  chat.pendingChanges = null;
  for (const m of waiting) {
    replaceMessage(chat, m);
    if (changeOf(m) > chat.changeSeq + 1) fillChanges(chat);
    else chat.changeSeq = Math.max(chat.changeSeq, changeOf(m));
  }
}

/** Fetch every change after `chat.changeSeq` (a gap, or a `sync` that had more). */
export async function fillChanges(chat) {
  if (!chat.loaded || !chat.roomId || chat.fillingChanges) return;
  chat.fillingChanges = true;
  try {
    let after = chat.changeSeq;
    for (let page = 0; page < CHANGE_PAGES_MAX; page++) {
      const body = await api("GET", `/api/rooms/${chat.roomId}/changes?after=${after}&limit=${CHANGE_PAGE_SIZE}`);
      for (const m of body.messages || []) {
        replaceMessage(chat, m);
        after = Math.max(after, changeOf(m));
      }
      if (!body.hasMore || !(body.messages || []).length) {
        after = Math.max(after, body.changeSeq || 0);
        break;
      }
    }
    chat.changeSeq = Math.max(chat.changeSeq, after);
  } catch (e) {
    console.warn("changes fill failed", e);
  } finally {
    chat.fillingChanges = false;
  }
}

/** `changes` for a `sync` of these rooms: where each loaded conversation stands. */
export function changesForSync(roomIds) {
  const out = {};
  for (const roomId of roomIds) {
    const chat = chatForRoom(roomId);
    if (chat && chat.loaded) out[roomId] = chat.changeSeq;
  }
  return out;
}

/** The `changes` of a `sync` answer: {roomId: {messages, changeSeq, hasMore}}. */
export function applySyncChanges(changes) {
  for (const [roomId, c] of Object.entries(changes || {})) {
    const chat = chatForRoom(roomId);
    if (!chat || !chat.loaded) continue;
    let top = chat.changeSeq;
    for (const m of c.messages || []) {
      replaceMessage(chat, m);
      top = Math.max(top, changeOf(m));
    }
    if (c.hasMore) {
      chat.changeSeq = top;
      fillChanges(chat);
    } else {
      chat.changeSeq = Math.max(top, c.changeSeq || 0);
    }
  }
}
