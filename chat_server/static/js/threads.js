// Threads: the replies to one message, in a side panel (full screen on a phone).
//
// A reply is an ordinary message of the room with `threadId` (the root's id): it has its
// own seq, arrives by `new_message`, is recovered by `sync` like any other, and sits in
// the conversation's messages. The main timeline does not show replies (as Slack does):
// under a root it shows "N replies" (the root's `thread` {replyCount, lastReplyAt}, kept
// current by `message_updated`), which opens this panel. The panel shows the root and the
// replies: those fetched with `GET /api/rooms/:id/messages/:messageId/thread` plus any the
// conversation holds, so live replies appear without asking again. Replies are sent
// through the outbox (`send_message` with `threadId`), so they survive a lost connection
// like any message. Threads exist in rooms only (DMs have no thread action).
//
// Owns: `state.thread`, loading a thread, sending a reply, the panel's composer keys.
// Must not: draw (views/thread_panel.js draws the panel).

import { api } from "./api.js";
import { $, toast } from "./dom.js";
import { MAX_CONTENT, MOBILE } from "./config.js";
import { state, render } from "./state.js";
import { enqueue } from "./outbox.js";

// Replies fetched per request, and requests per thread at most when it opens.
const THREAD_PAGE_SIZE = 100;
const THREAD_PAGES_MAX = 10;

/** Open the thread of root message `m` of `chat` in the side panel. */
export async function openThread(chat, m) {
  const rootId = m.threadId || m.id; // a reply opens its root's thread
  state.thread = {
    key: chat.key, rootId, root: m.threadId ? null : m, replies: new Map(), loading: true,
    hasMore: false, error: null,
  };
  state.sheet = null;
  render("thread", "sheet");
  await loadThread(state.thread, chat);
  if (!MOBILE.matches) $("#thread-input")?.focus();
}

export function closeThread() {
  state.thread = null;
  render("thread");
}

async function loadThread(t, chat) {
  try {
    let after = 0;
    for (let page = 0; page < THREAD_PAGES_MAX; page++) {
      const body = await api("GET", `/api/rooms/${chat.roomId}/messages/${t.rootId}/thread?after=${after}&limit=${THREAD_PAGE_SIZE}`);
      if (body.root && !(t.root && t.root.changeSeq > body.root.changeSeq)) t.root = body.root;
      for (const r of body.messages || []) {
        const held = t.replies.get(r.seq);
        if (!held || !(held.changeSeq > r.changeSeq)) t.replies.set(r.seq, r);
        after = Math.max(after, r.seq);
      }
      t.hasMore = !!body.hasMore;
      if (!body.hasMore || !(body.messages || []).length) break;
    }
  } catch (e) {
    t.error = e.message;
  } finally {
    t.loading = false;
    if (state.thread === t) render("thread");
  }
}

/** The open thread's root (freshest copy) and replies in seq order, pending ones last. */
export function threadView() {
  const t = state.thread;
  // The panel belongs to its conversation: hidden while another one is open.
  if (!t || t.key !== state.activeKey) return null;
  const chat = state.chats.get(t.key);
  if (!chat) return null;
  const replies = new Map(t.replies);
  let root = t.root;
  for (const m of chat.messages) {
    if (m.threadId === t.rootId) {
      const held = replies.get(m.seq);
      if (!held || !(held.changeSeq > m.changeSeq)) replies.set(m.seq, m);
    } else if (m.id === t.rootId && !(root && root.changeSeq > m.changeSeq)) {
      root = m;
    }
  }
  const pending = state.outbox.filter((i) => i.key === chat.key && i.threadId === t.rootId);
  return {
    chat, root, loading: t.loading, error: t.error,
    replies: [...replies.values()].sort((a, b) => a.seq - b.seq),
    pending,
  };
}

/** Send the thread composer's text as a reply to the open thread. */
export function sendReply() {
  const t = state.thread;
  const input = $("#thread-input");
  const chat = t && state.chats.get(t.key);
  const text = input.value;
  if (!chat || !text.trim()) return;
  if (text.length > MAX_CONTENT) {
    toast(`Messages are limited to ${MAX_CONTENT} characters (this one has ${text.length}).`, "error");
    return;
  }
  enqueue(chat, { content: text, threadId: t.rootId });
  input.value = "";
  render("thread");
}

export function wireThreads() {
  const input = $("#thread-input");
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendReply();
    }
  });
  $("#thread-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sendReply();
  });
  $("#thread-close").addEventListener("click", closeThread);
}
