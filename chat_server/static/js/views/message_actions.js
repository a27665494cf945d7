// The actions of a message: the hover toolbar (desktop) and the action sheet (touch).
//
// The toolbar is part of each message's element (shown by CSS on hover or keyboard focus,
// hidden on touch screens); the sheet (#action-sheet) opens on a long press and adds
// quick reactions. Both offer only what message_actions.js says the user may do.
//
// Owns: drawing the toolbar of a message and #action-sheet from `state.sheet`.
// Must not: change the store itself (its buttons call the actions of the feature modules).

import { h, $, setChildren, icon } from "../dom.js";
import {
  canReact, canEdit, canDelete, canPin, canReply, deleteMessage, closeSheet, sheetTarget,
} from "../message_actions.js";
import { openPicker, toggleReaction, reacted, QUICK_EMOJI } from "../reactions.js";
import { startEdit } from "../edit.js";
import { openThread } from "../threads.js";
import { togglePin } from "../pins.js";

function actionButton(name, label, onclick, extra = "") {
  return h(`button.msg-action${extra}`, { type: "button", title: label, "aria-label": label, dataset: { action: name }, onclick }, icon(name === "react" ? "smile" : name));
}

/** The actions `m` offers to this user: [{name, label, run(event)}]. */
function actionsFor(chat, m, { inThread = false, where = "timeline" } = {}) {
  const out = [];
  if (canReact(chat, m)) {
    out.push({ name: "react", label: "Add reaction", run: (e) => {
      const r = e.currentTarget.getBoundingClientRect();
      openPicker(chat, m, r.left, r.bottom);
    } });
  }
  if (!inThread && canReply(chat, m)) out.push({ name: "thread", label: "Reply in thread", run: () => openThread(chat, m) });
  if (canEdit(chat, m)) out.push({ name: "edit", label: "Edit", run: () => startEdit(chat, m, where) });
  if (canPin(chat, m)) out.push({ name: "pin", label: m.pinned ? "Unpin" : "Pin", run: () => togglePin(chat, m) });
  if (canDelete(chat, m)) out.push({ name: "trash", label: "Delete", run: () => deleteMessage(chat, m), danger: true });
  return out;
}

/** The hover toolbar of one message (null when it offers nothing). */
export function actionBar(chat, m, opts) {
  const actions = actionsFor(chat, m, opts);
  if (!actions.length) return null;
  return h("div.msg-actions", { role: "toolbar", "aria-label": "Message actions" },
    actions.map((a) => actionButton(a.name, a.label, a.run, a.danger ? ".danger" : "")));
}

/** #action-sheet: quick reactions and the actions of the long-pressed message. */
export function renderSheet() {
  const box = $("#action-sheet");
  const target = sheetTarget();
  box.hidden = !target;
  if (!target) {
    setChildren(box);
    return;
  }
  const { chat, m, where } = target;
  const actions = actionsFor(chat, m, { inThread: where === "thread", where });
  setChildren(box, h("div.sheet", { role: "menu", "aria-label": "Message actions" },
    canReact(chat, m) ? h("div.sheet-reactions", null,
      QUICK_EMOJI.map((emoji) => h(`button.quick-emoji${reacted(m, emoji) ? ".mine" : ""}`, {
        type: "button", "aria-label": `React ${emoji}`, dataset: { emoji },
        onclick: () => {
          closeSheet();
          toggleReaction(chat, m, emoji);
        },
      }, emoji))) : null,
    actions.map((a) => h(`button.sheet-item${a.danger ? ".danger" : ""}`, {
      type: "button", role: "menuitem", dataset: { action: a.name },
      onclick: (e) => {
        closeSheet();
        a.run(e);
      },
    }, icon(a.name === "react" ? "smile" : a.name), a.name === "react" ? "More reactions…" : a.label)),
    h("button.sheet-item.sheet-cancel", { type: "button", onclick: closeSheet }, "Cancel")));
}
