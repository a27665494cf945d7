// The edit history of a message (#edits-dialog): its current text, then each earlier
// version, newest first, with when it was written. Opened by "(edited)".
//
// Owns: drawing #edits-dialog from `state.editHistory`. Must not: change the store
// (closing it, by dialogs.js's [data-close] or Escape, calls edit.js).

import { h, $, setChildren, formatFull } from "../dom.js";
import { messageText } from "../render.js";
import { state } from "../state.js";
import { closeEditHistory } from "../edit.js";

function version(label, when, m) {
  return h("li.edit-version", null,
    h("div.edit-when", null, h("strong", null, label), when ? ` · ${formatFull(new Date(when))}` : ""),
    h("div.text", null, messageText(m)));
}

export function renderEditHistory() {
  const dlg = $("#edits-dialog");
  const view = state.editHistory;
  if (!view) {
    if (dlg.open) dlg.close();
    return;
  }
  const chat = state.chats.get(view.key);
  // The freshest copy of the message (it may have been edited again meanwhile).
  const current = (chat && chat.messages.find((m) => m.id === view.id)) || view.message;
  // Newest first: each earlier version, with when it was written.
  const older = [...view.versions].sort((a, b) => String(b.writtenAt || "").localeCompare(String(a.writtenAt || "")));
  setChildren($("#edits-list"),
    version("Now", current.editedAt, current),
    older.map((v, i) => version(i === older.length - 1 ? "Original" : "Earlier", v.writtenAt || v.createdAt, v)),
    view.loading ? h("li.list-note", null, h("span.spinner"), "Loading…") : null,
    view.error ? h("li.list-note.error", null, `Could not load the history: ${view.error}`) : null);
  if (!dlg.open) dlg.showModal();
}

export function wireEditHistory() {
  const dlg = $("#edits-dialog");
  dlg.addEventListener("close", () => {
    if (state.editHistory) closeEditHistory();
  });
}
