// The "X is typing…" line under the open conversation.
//
// Owns: drawing #typing from the open conversation's typing map. Must not: change it
// (events.js adds and expires entries).

import { h, $, setChildren } from "../dom.js";
import { activeChat } from "../state.js";

export function renderTyping() {
  const chat = activeChat();
  const el = $("#typing");
  const now = Date.now();
  const names = chat ? [...chat.typing.values()].filter((t) => t.until > now).map((t) => t.username) : [];
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = `${names.length} people are typing…`;
  el.classList.toggle("active", !!text);
  setChildren(el, text ? [h("span.typing-dots", null, h("span"), h("span"), h("span")), h("span.typing-text", null, text)] : []);
}
