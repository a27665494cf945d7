// Reactions: toggling an emoji on a message, and the emoji the picker offers.
//
// A reaction chip toggles the caller's reaction (`PUT` / `DELETE
// /api/rooms/:id/messages/:messageId/reactions/:emoji`, both idempotent); the server
// answers with the whole current message, which replaces ours through changes.js (as
// anyone's `message_updated` does). The picker offers a grid of common emoji and searches
// every emoji by name: the names come once from `GET /api/emoji` (cached by the browser).
//
// Owns: `state.picker` (which message it is open for, where, the search text), the emoji
// list, toggling. Must not: draw (views/reactions.js draws chips, views/emoji_picker.js
// the picker).

import { api } from "./api.js";
import { toast } from "./dom.js";
import { state, render } from "./state.js";
import { onMessageUpdated } from "./changes.js";

// What the picker shows before any search: the reactions people use most.
export const COMMON_EMOJI = [
  "👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "🔥", "✅", "👏", "🚀",
  "😄", "🤔", "💯", "👎", "😍", "🙌", "😅", "🤝", "💡", "⭐", "☕", "🍕",
];
// Search results shown at most (the grid stays small enough to scan).
const SEARCH_RESULTS_MAX = 48;
// The quick reactions of the phone's action sheet.
export const QUICK_EMOJI = COMMON_EMOJI.slice(0, 6);

let emojiList = null; // [{emoji, name}] once fetched
let emojiLoading = null;

/** Whether the caller has reacted to `m` with `emoji`. */
export function reacted(m, emoji) {
  const r = (m.reactions || []).find((x) => x.emoji === emoji);
  return !!(r && (r.userIds || []).includes(state.me.id));
}

/** Add the caller's reaction, or take it back if it is there. */
export async function toggleReaction(chat, m, emoji) {
  const method = reacted(m, emoji) ? "DELETE" : "PUT";
  try {
    const body = await api(method, `/api/rooms/${chat.roomId}/messages/${m.id}/reactions/${encodeURIComponent(emoji)}`);
    if (body && body.message) onMessageUpdated({ message: body.message, changeSeq: body.message.changeSeq });
  } catch (e) {
    toast(`Could not react: ${e.message}`, "error");
  }
}

/** Open the picker for `m`, near the point (x, y) of the page that opened it. */
export function openPicker(chat, m, x = null, y = null) {
  state.picker = { key: chat.key, id: m.id, query: "", x, y };
  state.sheet = null;
  render("picker", "sheet");
  loadEmoji();
}

export function closePicker() {
  if (!state.picker) return;
  state.picker = null;
  render("picker");
}

export function setPickerQuery(query) {
  if (!state.picker) return;
  state.picker.query = query;
  render("picker");
}

/** Pick `emoji` in the picker: toggle it on the message, close the picker. */
export function pick(emoji) {
  const p = state.picker;
  if (!p) return;
  closePicker();
  const chat = state.chats.get(p.key);
  const m = chat && findMessage(chat, p.id);
  if (m) toggleReaction(chat, m, emoji);
}

/** A message of `chat` by id, wherever the store holds it (timeline or open thread). */
export function findMessage(chat, id) {
  const inTimeline = chat.messages.find((m) => m.id === id);
  if (inTimeline) return inTimeline;
  const t = state.thread;
  if (t && t.key === chat.key) {
    if (t.root && t.root.id === id) return t.root;
    for (const r of t.replies.values()) if (r.id === id) return r;
  }
  if (chat.pins && chat.pins.has(id)) return chat.pins.get(id);
  return null;
}

/** The emoji the picker shows now: common ones, or those whose name matches the search. */
export function pickerChoices() {
  const q = ((state.picker && state.picker.query) || "").trim().toLowerCase();
  if (!q) return { emoji: COMMON_EMOJI.map((e) => ({ emoji: e, name: nameOf(e) })), loading: false };
  if (!emojiList) return { emoji: [], loading: true };
  const words = q.split(/\s+/);
  const hits = [];
  for (const e of emojiList) {
    if (words.every((w) => e.name.includes(w))) {
      hits.push(e);
      if (hits.length >= SEARCH_RESULTS_MAX) break;
    }
  }
  // Names that start with the search come first ("cat" before "bobcat").
  hits.sort((a, b) => Number(!a.name.startsWith(words[0])) - Number(!b.name.startsWith(words[0])));
  return { emoji: hits, loading: false };
}

function nameOf(emoji) {
  const e = emojiList && emojiList.find((x) => x.emoji === emoji);
  return e ? e.name : emoji;
}

function loadEmoji() {
  if (emojiList || emojiLoading) return;
  emojiLoading = api("GET", "/api/emoji")
    .then((body) => {
      emojiList = (body.emoji || []).map((e) => ({ emoji: e.emoji, name: e.name.toLowerCase() }));
    })
    .catch((e) => console.warn("emoji list failed", e))
    .finally(() => {
      emojiLoading = null;
      render("picker");
    });
}
