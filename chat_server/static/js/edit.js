// Editing a message in place, and its edit history.
//
// The author's message turns into a text box holding its text (`content`, the markdown as
// written): Enter saves (`PATCH /api/rooms/:id/messages/:messageId`), Shift+Enter is a new
// line, Escape (or Cancel) leaves it as it was. A saved edit comes back as the whole
// current message and replaces ours through changes.js, like anyone's `message_updated`.
// "(edited)" under a message opens its earlier versions
// (`GET /api/rooms/:id/messages/:messageId/edits`).
//
// Owns: `state.editing` and `state.editHistory`, saving an edit, fetching the history.
// Must not: draw (views/message_parts.js draws the box, views/edit_history.js the list),
// or decide who may edit (message_actions.js asks `canEdit`).

import { api } from "./api.js";
import { toast } from "./dom.js";
import { MAX_CONTENT } from "./config.js";
import { state, render } from "./state.js";
import { onMessageUpdated } from "./changes.js";

/**
 * Start editing `m` of `chat` in place (one message at a time), where it was asked for:
 * "timeline" or "thread" (a thread's root shows in both).
 */
export function startEdit(chat, m, where = "timeline") {
  state.editing = { key: chat.key, id: m.id, where, saving: false };
  state.sheet = null;
  render("messages", "thread", "sheet");
}

export function cancelEdit() {
  if (!state.editing) return;
  state.editing = null;
  render("messages", "thread");
}

export const isEditing = (chat, m, where) => {
  const e = state.editing;
  return !!(e && e.key === chat.key && e.id === m.id && e.where === where);
};

/** Save the text of the message being edited. */
export async function saveEdit(chat, m, text) {
  const editing = state.editing;
  if (!editing || editing.saving) return;
  if (!text.trim()) {
    toast("A message cannot be empty: delete it instead.", "error");
    return;
  }
  if (text.length > MAX_CONTENT) {
    toast(`Messages are limited to ${MAX_CONTENT} characters (this one has ${text.length}).`, "error");
    return;
  }
  if (text === m.content) {
    cancelEdit();
    return;
  }
  editing.saving = true;
  try {
    const body = await api("PATCH", `/api/rooms/${chat.roomId}/messages/${m.id}`, { content: text });
    if (state.editing === editing) state.editing = null;
    if (body && body.message) onMessageUpdated({ message: body.message, changeSeq: body.message.changeSeq });
    render("messages", "thread");
  } catch (e) {
    editing.saving = false;
    toast(`Could not save the edit: ${e.message}`, "error");
  }
}

/** Open the list of earlier versions of `m`. */
export async function showEditHistory(chat, m) {
  const view = { key: chat.key, id: m.id, message: m, loading: true, versions: [], error: null };
  state.editHistory = view;
  render("editHistory");
  try {
    const body = await api("GET", `/api/rooms/${chat.roomId}/messages/${m.id}/edits`);
    view.versions = body.edits || body.versions || [];
  } catch (e) {
    view.error = e.message;
  } finally {
    view.loading = false;
    if (state.editHistory === view) render("editHistory");
  }
}

export function closeEditHistory() {
  state.editHistory = null;
  render("editHistory");
}
