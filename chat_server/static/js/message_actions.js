// What a user can do to a message: react, reply in a thread, edit, pin, delete.
//
// On a desktop the actions are a toolbar that shows while the pointer is over a message
// (or a key focuses it); on a touch screen a long press on a message opens an action
// sheet with quick reactions and the same actions. Which actions a message offers follows
// the server's rules (docs/contract.md §12), so the UI does not offer what would be
// refused: edit is the author's; delete is the author's or a room owner's/admin's; a
// deleted message offers nothing; threads exist in rooms (a reply has none of its own).
// Deleting asks first (`confirm`), then `DELETE /api/rooms/:id/messages/:messageId`.
//
// Owns: `state.sheet`, the permission checks the views use, deleting, the long-press
// gesture. Must not: draw (views/message_actions.js draws the toolbar and the sheet).

import { api } from "./api.js";
import { $, toast } from "./dom.js";
import { state, render } from "./state.js";
import { onMessageUpdated } from "./changes.js";
import { findMessage } from "./reactions.js";

// How long a finger rests on a message before its actions open (ms): long enough not to
// fire on a scroll or a tap, the usual long-press time of phones.
const LONG_PRESS_MS = 500;
// A finger moving further than this (px) is scrolling, not pressing.
const LONG_PRESS_SLOP_PX = 10;

const live = (m) => !!m && !m.pending && !m.deletedAt;

export const canReact = (chat, m) => live(m) && !!chat.roomId;
export const canEdit = (chat, m) => live(m) && m.userId === state.me.id && m.messageType === "text";
export const canDelete = (chat, m) =>
  live(m) && (m.userId === state.me.id || (chat.kind === "room" && ["owner", "admin"].includes(chat.role)));
export const canPin = (chat, m) => live(m) && !!chat.roomId;
export const canReply = (chat, m) => live(m) && chat.kind === "room" && !m.threadId;

/** Ask, then delete `m` (it stays in the timeline as "message deleted"). */
export async function deleteMessage(chat, m) {
  state.sheet = null;
  render("sheet");
  if (!confirm("Delete this message? Everyone in the conversation will see it was deleted.")) return;
  try {
    const body = await api("DELETE", `/api/rooms/${chat.roomId}/messages/${m.id}`);
    if (body && body.message) onMessageUpdated({ message: body.message, changeSeq: body.message.changeSeq });
  } catch (e) {
    toast(`Could not delete: ${e.message}`, "error");
  }
}

/** The action sheet of `m`, long-pressed in the "timeline" or the "thread" panel. */
export function openSheet(chat, m, where = "timeline") {
  if (!live(m)) return;
  state.sheet = { key: chat.key, id: m.id, where };
  render("sheet");
}

export function closeSheet() {
  if (!state.sheet) return;
  state.sheet = null;
  render("sheet");
}

/** The message and conversation the sheet is open for, or null. */
export function sheetTarget() {
  const s = state.sheet;
  const chat = s && state.chats.get(s.key);
  const m = chat && findMessage(chat, s.id);
  return m ? { chat, m, where: s.where } : null;
}

/** A long press (touch) on a message of `root` opens its action sheet. */
function wireLongPress(root) {
  let timer = null;
  let start = null;
  const cancel = () => {
    clearTimeout(timer);
    timer = null;
  };
  root.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse") return;
    const el = e.target.closest(".msg[data-id]");
    if (!el || e.target.closest("button, a, textarea, input")) return;
    start = { x: e.clientX, y: e.clientY };
    cancel();
    timer = setTimeout(() => {
      timer = null;
      const chat = state.chats.get(el.dataset.key || state.activeKey);
      const m = chat && findMessage(chat, el.dataset.id);
      if (m) openSheet(chat, m, root.id === "thread-list" ? "thread" : "timeline");
    }, LONG_PRESS_MS);
  });
  root.addEventListener("pointermove", (e) => {
    if (timer && start && Math.hypot(e.clientX - start.x, e.clientY - start.y) > LONG_PRESS_SLOP_PX) cancel();
  });
  for (const name of ["pointerup", "pointercancel", "pointerleave"]) root.addEventListener(name, cancel);
  root.addEventListener("scroll", cancel, { passive: true });
  // A phone's own long-press menu (copy / select) would cover ours on a message.
  root.addEventListener("contextmenu", (e) => {
    if (state.sheet || (e.target.closest(".msg[data-id]") && matchMedia("(hover: none)").matches)) e.preventDefault();
  });
}

export function wireMessageActions() {
  wireLongPress($("#messages"));
  wireLongPress($("#thread-list"));
  $("#action-sheet").addEventListener("click", (e) => {
    if (e.target === e.currentTarget) closeSheet(); // the backdrop
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") closeSheet();
  });
}
