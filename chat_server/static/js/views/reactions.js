// Reaction chips under a message: each emoji with its count, pressed when the user is
// among those who reacted; a click toggles the user's reaction. A small "+" chip opens
// the picker. The tooltip names who reacted (the server lists up to 50 of them).
//
// Owns: drawing the chips of one message. Must not: change the store (clicks call
// reactions.js).

import { h, icon } from "../dom.js";
import { state } from "../state.js";
import { toggleReaction, openPicker, reacted } from "../reactions.js";
import { canReact } from "../message_actions.js";

function whoReacted(r) {
  const names = (r.userIds || []).map((id) => (id === state.me.id ? "you" : state.users.get(id)?.username || "someone"));
  const more = r.count - names.length;
  return `${names.join(", ")}${more > 0 ? ` and ${more} more` : ""} reacted with ${r.emoji}`;
}

/** The chips of `m` (null when nobody reacted). */
export function reactionChips(chat, m) {
  const list = (m.reactions || []).filter((r) => r.count > 0);
  if (!list.length || m.deletedAt) return null;
  const can = canReact(chat, m);
  return h("div.reactions", { role: "group", "aria-label": "Reactions" },
    list.map((r) => {
      const mine = reacted(m, r.emoji);
      return h(`button.reaction${mine ? ".mine" : ""}`, {
        type: "button", title: whoReacted(r), "aria-pressed": String(mine), disabled: !can,
        dataset: { emoji: r.emoji, count: String(r.count) },
        onclick: () => toggleReaction(chat, m, r.emoji),
      }, h("span.reaction-emoji", null, r.emoji), h("span.reaction-count", null, String(r.count)));
    }),
    can ? h("button.reaction.reaction-add", {
      type: "button", title: "Add reaction", "aria-label": "Add reaction",
      onclick: (e) => {
        const b = e.currentTarget.getBoundingClientRect();
        openPicker(chat, m, b.left, b.bottom);
      },
    }, icon("smile")) : null);
}
