// The emoji picker (#emoji-picker): a search box and a grid of emoji. A popover next to
// the button that opened it on a desktop; a bottom sheet on a phone (CSS).
//
// Owns: drawing #emoji-picker from `state.picker` (reactions.js `pickerChoices`), its
// placement, closing on a click outside or Escape. Must not: change the store (it calls
// reactions.js).

import { h, $, setChildren } from "../dom.js";
import { MOBILE } from "../config.js";
import { state } from "../state.js";
import { pickerChoices, pick, closePicker, setPickerQuery } from "../reactions.js";

// The popover's size on a desktop (px), to keep it inside the window.
const PICKER_W = 320;
const PICKER_H = 300;

export function renderPicker() {
  const box = $("#emoji-picker");
  const p = state.picker;
  const wasOpen = !box.hidden;
  box.hidden = !p;
  if (!p) return;
  const search = $("#emoji-search");
  if (!wasOpen) {
    search.value = p.query;
    if (!MOBILE.matches && p.x !== null) {
      box.style.left = `${Math.max(8, Math.min(p.x, innerWidth - PICKER_W - 8))}px`;
      box.style.top = `${Math.max(8, p.y + PICKER_H > innerHeight ? p.y - PICKER_H - 40 : p.y + 4)}px`;
    } else {
      box.style.left = "";
      box.style.top = "";
    }
    requestAnimationFrame(() => search.focus());
  }
  const { emoji, loading } = pickerChoices();
  setChildren($("#emoji-grid"),
    emoji.map((e) => h("button.emoji-choice", {
      type: "button", title: e.name, "aria-label": e.name, dataset: { emoji: e.emoji },
      onclick: () => pick(e.emoji),
    }, e.emoji)),
    loading ? h("div.list-note", null, h("span.spinner"), "Loading emoji…") : null,
    !loading && !emoji.length ? h("div.list-note", null, "No emoji found") : null);
}

export function wirePicker() {
  const search = $("#emoji-search");
  search.addEventListener("input", () => setPickerQuery(search.value));
  search.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      closePicker();
    } else if (e.key === "Enter") {
      // Enter picks the first emoji shown.
      e.preventDefault();
      const first = pickerChoices().emoji[0];
      if (first) pick(first.emoji);
    }
  });
  document.addEventListener("pointerdown", (e) => {
    if (!state.picker) return;
    if (e.target.closest("#emoji-picker, .msg-action[data-action=react], .reaction-add, .sheet-item")) return;
    closePicker();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") closePicker();
  });
}
