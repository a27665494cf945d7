// The parts a message shows since messages can change, shared by the timeline
// (views/messages.js) and the thread panel (views/thread_panel.js): the in-place editor,
// "(edited)", the pin mark, the tombstone of a deleted message and the "N replies" link.
//
// Owns: drawing these parts of one message. Must not: change the store (the editor's keys
// and buttons call edit.js; the replies link calls threads.js).

import { h, icon, formatAgo } from "../dom.js";
import { state } from "../state.js";
import { saveEdit, cancelEdit, isEditing, showEditHistory } from "../edit.js";
import { openThread } from "../threads.js";

// The editor grows with its text up to this height (px), then scrolls.
const EDITOR_MAX_PX = 240;

function grow(box) {
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight, EDITOR_MAX_PX)}px`;
}

// The editor of the edit in progress: one element for the whole edit, so that a message
// drawn again meanwhile (its ticks changed, say) keeps what is being typed.
let current = null; // {editing, el}

/** The text box that replaces a message's text while its author edits it. */
export function editor(chat, m) {
  if (current && current.editing === state.editing) return current.el;
  const box = h("textarea.edit-input", { rows: "1", maxlength: "5000", "aria-label": "Edit message" });
  box.value = m.content || "";
  const save = () => saveEdit(chat, m, box.value);
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      save();
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      cancelEdit();
    }
  });
  box.addEventListener("input", () => grow(box));
  // Focused (cursor at the end) once it is in the page.
  requestAnimationFrame(() => {
    if (!box.isConnected) return;
    grow(box);
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  });
  const el = h("div.editor", null, box,
    h("div.edit-actions", null,
      h("span.edit-hint", null, "Enter to save · Esc to cancel"),
      h("button.secondary.small", { type: "button", onclick: cancelEdit }, "Cancel"),
      h("button.primary.small", { type: "button", onclick: save }, "Save")));
  current = { editing: state.editing, el };
  return el;
}

/** Whether `m` is being edited in this place ("timeline" or "thread"). */
export const editingNow = (chat, m, where) => isEditing(chat, m, where);

/** "(edited)", which opens the earlier versions. */
export function editedMark(chat, m) {
  if (!m.editedAt || m.deletedAt) return null;
  return h("button.edited", {
    type: "button", title: `Edited ${formatAgo(m.editedAt)}: show the edit history`,
    onclick: () => showEditHistory(chat, m),
  }, "(edited)");
}

export function pinMark(m) {
  return m.pinned && !m.deletedAt ? h("span.pin-mark", { title: "Pinned", "aria-label": "Pinned" }, icon("pin")) : null;
}

/** What a deleted message shows in place of its text. */
export function tombstone() {
  return h("div.text.tombstone", null, h("p", null, icon("trash"), "message deleted"));
}

/** "3 replies · last 5 min ago" under a thread's root (null when it has none). */
export function threadLink(chat, m) {
  const t = m.thread;
  if (!t || !t.replyCount) return null;
  return h("button.thread-link", { type: "button", onclick: () => openThread(chat, m), dataset: { replies: String(t.replyCount) } },
    icon("thread"),
    h("span.thread-count", null, `${t.replyCount} ${t.replyCount === 1 ? "reply" : "replies"}`),
    t.lastReplyAt ? h("span.thread-last", null, `last ${formatAgo(t.lastReplyAt)}`) : null);
}
