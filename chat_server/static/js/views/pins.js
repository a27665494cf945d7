// The room header's pinned messages: a pin button with the count, and the list it opens
// (#pins-panel, under the header). A pinned message in the list jumps to it in the
// timeline when it is loaded there.
//
// Owns: drawing #pins-btn and #pins-panel from `chat.pins` and `state.pinsOpen`; asking
// pins.js for the list the first time a conversation shows. Must not: change the store
// (buttons call pins.js).

import { h, $, setChildren, formatFull } from "../dom.js";
import { state, activeChat } from "../state.js";
import { loadPins, pinnedList, togglePinsList, togglePin } from "../pins.js";
import { messageText } from "../render.js";
import { canPin } from "../message_actions.js";

// How much of a pinned message the list shows (characters of its text).
const PREVIEW_CHARS = 160;

export function renderPins() {
  const chat = activeChat();
  const btn = $("#pins-btn");
  const panel = $("#pins-panel");
  if (!chat || !chat.roomId) {
    btn.hidden = true;
    panel.hidden = true;
    return;
  }
  if (!chat.pins) loadPins(chat);
  const list = pinnedList(chat);
  btn.hidden = false;
  setChildren($("#pins-count"), list.length ? String(list.length) : "");
  btn.setAttribute("aria-label", `Pinned messages (${list.length})`);
  btn.title = `Pinned messages (${list.length})`;
  const open = state.pinsOpen;
  panel.hidden = !open;
  btn.setAttribute("aria-pressed", String(open));
  if (!open) return;
  setChildren(panel,
    h("div.pins-head", null, h("strong", null, "Pinned messages"),
      h("button.link", { type: "button", onclick: () => togglePinsList(false) }, "Close")),
    list.length ? h("ul.pins-list", null, list.map((m) => h("li.pin-item", { dataset: { id: m.id } },
      h("button.pin-jump", { type: "button", title: "Show in the conversation", onclick: () => jumpTo(m) },
        h("span.pin-author", null, m.username || "unknown"),
        h("span.pin-time", null, formatFull(new Date(m.createdAt))),
        h("span.pin-text", null, preview(m))),
      canPin(chat, m) ? h("button.link.pin-remove", { type: "button", onclick: () => togglePin(chat, m) }, "Unpin") : null)))
      : h("p.empty-hint", null, chat.pinsLoading ? "Loading…" : "Nothing is pinned yet. Pin a message from its actions."));
}

function preview(m) {
  const text = (m.content || (m.file && m.file.name) || "").trim();
  if (text) return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  return messageText(m).textContent;
}

function jumpTo(m) {
  const el = document.getElementById(`m-${m.id}`);
  if (!el) return;
  el.scrollIntoView({ block: "center", behavior: "smooth" });
  el.classList.add("flash");
  setTimeout(() => el.classList.remove("flash"), 1600);
}

export function wirePins() {
  $("#pins-btn").addEventListener("click", () => togglePinsList());
}
