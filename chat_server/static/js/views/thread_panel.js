// The thread side panel (#thread-panel): the root message, its replies, a reply box.
// Beside the conversation on a desktop; full screen on a phone (CSS), with a close button.
//
// Owns: drawing #thread-panel from `state.thread` and the conversation's messages
// (threads.js `threadView`). Must not: change the store (buttons call the feature
// modules; the reply box is wired by threads.js).

import { h, $, setChildren, avatar, formatTime, formatFull } from "../dom.js";
import { messageText, attachment, hasCaption } from "../render.js";
import { state } from "../state.js";
import { threadView } from "../threads.js";
import { openLightbox } from "../dialogs.js";
import { editor, editingNow, editedMark, pinMark, tombstone } from "./message_parts.js";
import { reactionChips } from "./reactions.js";
import { actionBar } from "./message_actions.js";

// Drawn messages by id, reused while nothing they show changed (an edit box keeps its text).
const els = new Map();

function item(chat, m, { root = false } = {}) {
  const editing = editingNow(chat, m, "thread");
  const cacheKey = `${root}|${m.changeSeq || 0}|${editing}|${chat.role}`;
  const cached = els.get(m.id);
  if (cached && cached.key === cacheKey) return cached.el;
  const d = new Date(m.createdAt);
  const name = m.username || state.users.get(m.userId)?.username || "unknown";
  const deleted = !!m.deletedAt;
  const att = deleted ? null : attachment(m, openLightbox);
  let text = null;
  if (deleted) text = tombstone();
  else if (editing) text = editor(chat, m);
  else if (!att || hasCaption(m)) text = h("div.text", null, messageText(m));
  const el = h(`div.msg.thread-msg${root ? ".thread-root" : ""}${deleted ? ".deleted" : ""}${editing ? ".editing" : ""}`, {
    dataset: { id: m.id, seq: String(m.seq), key: chat.key },
  },
  h("div.thread-head", null, avatar(name, { size: "sm" }), h("span.author", null, name),
    h("time", { datetime: m.createdAt, title: formatFull(d) }, formatTime(d))),
  h("div.bubble", null, att, text, h("span.meta", null, pinMark(m), editedMark(chat, m))),
  reactionChips(chat, m), editing ? null : actionBar(chat, m, { inThread: !root, where: "thread" }));
  els.set(m.id, { key: cacheKey, el });
  return el;
}

function pendingItem(i) {
  const failed = i.state === "failed";
  return h(`div.msg.thread-msg.pending${failed ? ".failed" : ""}`, { dataset: { clientMsgId: i.clientMsgId } },
    h("div.bubble", null, h("div.text", null, h("p.plain", null, i.content)),
      h("span.meta", null, failed ? `Not sent: ${i.error || "error"}` : "Sending…")));
}

export function renderThreadPanel() {
  const panel = $("#thread-panel");
  const view = threadView();
  const open = !!view;
  panel.hidden = !open;
  const list = $("#thread-list");
  if (!open) {
    els.clear();
    setChildren(list);
    return;
  }
  // Building moves a reused editor: note the focus (and caret) first, give it back after.
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const caret = focused && "selectionStart" in focused ? [focused.selectionStart, focused.selectionEnd] : null;
  const { chat, root, replies, pending, loading, error } = view;
  setChildren($("#thread-title"), "Thread", chat.kind === "room" ? h("span.thread-room", null, ` · #${chat.name}`) : null);
  const count = root && root.thread ? root.thread.replyCount : replies.length;
  const nodes = [
    root ? item(chat, root, { root: true }) : null,
    h("div.thread-sep", { role: "separator" }, h("span", null, `${count} ${count === 1 ? "reply" : "replies"}`)),
    ...replies.map((m) => item(chat, m)),
    ...pending.map(pendingItem),
    loading ? h("div.list-note", null, h("span.spinner"), "Loading the thread…") : null,
    error ? h("div.list-note.error", null, `Could not load the thread: ${error}`) : null,
  ];
  const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  setChildren(list, nodes);
  if (focused && focused.isConnected && document.activeElement !== focused) {
    focused.focus({ preventScroll: true });
    if (caret) focused.setSelectionRange(caret[0], caret[1]);
  }
  if (stick) list.scrollTop = list.scrollHeight;
  const input = $("#thread-input");
  input.placeholder = "Reply…";
  $("#thread-form").hidden = !root || !!root.deletedAt;
}
