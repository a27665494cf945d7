// The delivery model (docs/contract.md §7): seqs, gaps, read pointers and delivery receipts.
//
// - every message has a per-room `seq`; the client remembers the highest seq it has per
//   conversation, spots gaps (got 7 after 5) and fills them from history (`after=`);
// - after every (re)connect it calls `sync` with its last seq per room (socket.js) and the
//   answer is merged here (`applySync`);
// - the open conversation is marked read (`mark_read`) while the tab is visible, and every
//   received message is confirmed with `delivered` (batched).
//
// Owns: applying one incoming message or a sync answer to the store, and the read /
// delivered emits. Must not: draw anything (it calls `render`), or know how messages are
// sent (outbox.js).

import {
  state, render, maxSeq, mergeMessages, bumpRead, chatForRoom, receiptsApply,
  dropOutbox,
} from "./state.js";
import { MOBILE } from "./config.js";
import { fillAfter } from "./history.js";
import { removeChat } from "./navigation.js";

let markTimer = null;
export function markReadSoon(chat) {
  clearTimeout(markTimer);
  markTimer = setTimeout(() => markRead(chat), 150);
}

export function markRead(chat, force = false) {
  if (!chat || chat.key !== state.activeKey || !chat.roomId || !chat.loaded) return;
  if (document.visibilityState !== "visible") return;
  // A phone showing the list of conversations has none open for reading.
  if (MOBILE.matches && !state.showChat) return;
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

/** A message that arrived live (or the ack of our own): merge it, or fill a gap first. */
export function applyIncoming(chat, m) {
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

/** The answer of `sync`: what each conversation missed, and rooms we are no longer in. */
export function applySync(ack) {
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
  const active = state.activeKey ? state.chats.get(state.activeKey) : null;
  if (active) markReadSoon(active);
}
