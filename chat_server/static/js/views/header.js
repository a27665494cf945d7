// The conversation header: title, member count or presence, and the room's actions.
//
// Owns: drawing #conv-title, #conv-sub, which header buttons show, and the composer's
// placeholder. Must not: change the store or fetch anything.

import { h, $, setChildren, icon, avatar } from "../dom.js";
import { LOBBY_ID } from "../config.js";
import { state, activeChat } from "../state.js";
import { presenceText } from "./people.js";

export function renderHeader() {
  const chat = activeChat();
  const title = $("#conv-title");
  const sub = $("#conv-sub");
  $("#conversation").classList.toggle("is-empty", !chat);
  if (!chat) {
    setChildren(title, "");
    setChildren(sub, "");
    return;
  }
  if (chat.kind === "room") {
    setChildren(title, h("span.chat-icon", null, icon(chat.isPrivate ? "lock" : "hash")), h("span.title-text", null, chat.name));
    const count = `${chat.memberCount} member${chat.memberCount === 1 ? "" : "s"}`;
    setChildren(sub, chat.description ? `${chat.description} · ${count}` : count);
  } else {
    const user = state.users.get(chat.userId);
    setChildren(title, avatar(chat.name, { online: !!(user && user.online), size: "sm" }), h("span.title-text", null, chat.name));
    setChildren(sub, presenceText(user));
  }
  $("#invite-btn").hidden = !(chat.kind === "room" && chat.isPrivate && ["owner", "admin"].includes(chat.role));
  $("#members-btn").hidden = chat.kind !== "room";
  $("#leave-btn").hidden = !(chat.kind === "room" && chat.roomId !== LOBBY_ID);
  $("#message-input").placeholder = chat.kind === "room" ? `Message #${chat.name}` : `Message ${chat.name}`;
}
