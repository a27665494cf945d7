// The message list of the open conversation: day separators, sender groups, ticks.
//
// Ticks on your own messages (honest about what the server can know):
//   sent      - the server acked it: it is stored;
//   delivered - another member's client confirmed receiving it (`delivered` ->
//               delivery_receipt / GET .../reads); in rooms too big for receipts, some
//               other member has had a live connection since it was stored;
//   read      - some other member's read pointer (read_receipt / GET .../reads) is at or
//               past it. Rooms over 100 members get no read receipts: sent/delivered only.
//
// Owns: drawing #messages from the store (history, pending outbox items, live-only lines,
// the "New messages" line), each own message's tick, keeping the list pinned to the
// newest message, and asking history.js for older pages when the list is scrolled up or
// cannot scroll yet. Must not: change messages in the store or talk to the socket.

import { h, $, setChildren, icon, avatar, formatTime, formatFull, formatDay, dayKey } from "../dom.js";
import { messageText, attachment, hasCaption } from "../render.js";
import { GROUP_GAP_MS } from "../config.js";
import { state, activeChat, receiptsApply, dropOutbox } from "../state.js";
import { loadInitial, loadOlder } from "../history.js";
import { retryItem } from "../outbox.js";
import { openLightbox } from "../dialogs.js";
import { editor, editingNow, editedMark, pinMark, tombstone, threadLink } from "./message_parts.js";
import { reactionChips } from "./reactions.js";
import { actionBar } from "./message_actions.js";

// How close to the bottom (px) still counts as "at the newest message".
const STICK_SLACK_PX = 60;
// Older pages are fetched when the list is scrolled this close to its top.
const LOAD_OLDER_PX = 200;

function pendingFor(chat) {
  // Replies wait in the thread panel, not here (threads.js).
  return state.outbox.filter((i) => i.key === chat.key && !i.threadId).map((i) => ({
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

function pendingEl(m) {
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
      h("button.link", { type: "button", onclick: () => retryItem(i) }, "Retry"),
      h("button.link", { type: "button", onclick: () => dropOutbox(i.clientMsgId) }, "Delete")) : null);
}

function messageEl(chat, m) {
  if (m.pending) return pendingEl(m);
  const mine = m.userId === state.me.id;
  const status = mine ? tickStatus(chat, m) : null;
  const editing = editingNow(chat, m, "timeline");
  // A message is drawn again when its ticks, its state (changeSeq) or its editor change.
  const cacheKey = `${m.id}|${status}|${m.changeSeq || 0}|${editing}|${chat.role}`;
  const cached = chat.els.get(m.id);
  if (cached && cached.key === cacheKey) return cached.el;
  const d = new Date(m.createdAt);
  const deleted = !!m.deletedAt;
  const att = deleted ? null : attachment(m, openLightbox);
  const showText = !att || hasCaption(m);
  let text = null;
  if (deleted) text = tombstone();
  else if (editing) text = editor(chat, m);
  else if (showText) text = h("div.text", null, messageText(m));
  let title = "";
  if (status === "read") title = `Read by ${readersOf(chat, m).join(", ")}`;
  else if (status === "delivered") title = "Delivered";
  else if (status === "sent") title = "Sent";
  const el = h(`div.msg${mine ? ".mine" : ""}${att ? ".has-file" : ""}${deleted ? ".deleted" : ""}${editing ? ".editing" : ""}`, {
    id: `m-${m.id}`, dataset: { seq: String(m.seq), id: m.id, key: chat.key, status: status || "" },
  }, h("div.bubble", null, att, text,
    h("span.meta", null, pinMark(m), editedMark(chat, m),
      h("time", { datetime: m.createdAt, title: formatFull(d) }, formatTime(d)),
      mine && !deleted ? ticks(status, title) : null)),
  reactionChips(chat, m), threadLink(chat, m), editing ? null : actionBar(chat, m));
  chat.els.set(m.id, { key: cacheKey, el });
  return el;
}

function messageGroup(m, d) {
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

function listNote(chat) {
  if (chat.loadError && !chat.loaded) {
    return h("div.list-note.error", null, `Could not load messages: ${chat.loadError}`,
      h("button.link", { type: "button", onclick: () => loadInitial(chat) }, "Retry"));
  }
  if (!chat.loaded) return h("div.list-note", null, h("span.spinner"), "Loading messages…");
  if (chat.loadingOlder) return h("div.list-note", null, h("span.spinner"), "Loading older messages…");
  if (chat.hasMore) return null;
  return h("div.history-start", null,
    h("div.history-icon", null, chat.kind === "room" ? icon(chat.isPrivate ? "lock" : "hash") : avatar(chat.name)),
    h("div.history-title", null, chat.kind === "room" ? `Welcome to #${chat.name}` : chat.name),
    h("div.history-sub", null, chat.kind === "room"
      ? "This is the very beginning of the room."
      : `This is the beginning of your conversation with ${chat.name}.`));
}

export function renderMessages() {
  const box = $("#messages");
  const chat = activeChat();
  if (!chat) {
    setChildren(box);
    return;
  }
  // Redrawing moves the nodes (before they are built, as building moves a reused editor):
  // a text box being typed in keeps its focus and caret.
  const focused = box.contains(document.activeElement) ? document.activeElement : null;
  const caret = focused && "selectionStart" in focused ? [focused.selectionStart, focused.selectionEnd] : null;
  // After an older page was prepended, keep what the user looked at where it was.
  const fromBottom = chat.keepBottomOffset ? box.scrollHeight - box.scrollTop : null;
  chat.keepBottomOffset = false;
  const nodes = [listNote(chat)];
  // Replies live in their thread (threads.js): the timeline shows roots and their counts.
  const all = chat.loaded ? [...chat.messages.filter((m) => !m.threadId), ...pendingFor(chat)] : [];
  // Live-only lines ("bob joined the room") go after the message they followed.
  const events = [...chat.events];
  let day = null;
  let group = null;
  let prev = null;
  let divided = false;
  const flushEvents = (beforeSeq) => {
    while (events.length && events[0].afterSeq < beforeSeq) {
      const ev = events.shift();
      nodes.push(h("div.sys-line", { role: "status", dataset: { id: ev.id } }, h("span", null, ev.text)));
      group = null;
    }
  };
  for (const m of all) {
    flushEvents(m.pending ? Infinity : m.seq);
    const d = new Date(m.createdAt);
    const dk = dayKey(d);
    if (dk !== day) {
      nodes.push(h("div.day-sep", { role: "separator" }, h("span", null, formatDay(d))));
      day = dk;
      group = null;
    }
    if (!divided && chat.newFromSeq && !m.pending && m.seq >= chat.newFromSeq) {
      divided = true;
      nodes.push(h("div.new-divider", { role: "separator", "aria-label": "New messages" }, h("span", null, "New messages")));
      group = null;
    }
    if (!group || prev.userId !== m.userId || d - new Date(prev.createdAt) > GROUP_GAP_MS) {
      group = messageGroup(m, d);
      nodes.push(group.el);
    }
    group.list.appendChild(messageEl(chat, m));
    prev = m;
  }
  flushEvents(Infinity);
  setChildren(box, nodes);
  if (focused && focused.isConnected && document.activeElement !== focused) {
    focused.focus({ preventScroll: true });
    if (caret) focused.setSelectionRange(caret[0], caret[1]);
  }
  if (fromBottom !== null) box.scrollTop = box.scrollHeight - fromBottom;
  else if (state.stick) box.scrollTop = box.scrollHeight;
  $("#jump-btn").hidden = state.stick;
  fillViewport(chat, box);
}

/** Until the list can scroll (or the history's start is reached), load older pages. */
function fillViewport(chat, box) {
  if (!chat.loaded || !chat.hasMore || chat.loadingOlder || chat.olderFailed) return;
  if (box.scrollHeight > box.clientHeight + 40) return;
  loadOlder(chat);
}

export function wireMessages() {
  const box = $("#messages");
  box.addEventListener("scroll", () => {
    state.stick = box.scrollHeight - box.scrollTop - box.clientHeight < STICK_SLACK_PX;
    $("#jump-btn").hidden = state.stick;
    const chat = activeChat();
    if (chat && box.scrollTop < LOAD_OLDER_PX) loadOlder(chat);
  }, { passive: true });
  // Images load after layout: keep the view pinned to the newest message.
  box.addEventListener("load", () => {
    if (state.stick) box.scrollTop = box.scrollHeight;
  }, true);
  // Whatever shrinks the list (upload errors, the typing line, a growing composer, a
  // phone's keyboard) must not push the newest message out of sight.
  new ResizeObserver(() => {
    if (state.stick) box.scrollTop = box.scrollHeight;
  }).observe(box);
  $("#jump-btn").addEventListener("click", () => {
    state.stick = true;
    box.scrollTop = box.scrollHeight;
    $("#jump-btn").hidden = true;
  });
}
