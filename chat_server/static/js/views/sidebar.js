// The sidebar: rooms, invitations and direct messages, with unread badges and presence.
//
// Owns: drawing #room-list, #invite-list and #dm-list from the store, and the tab title's
// unread total. Must not: change the store or fetch anything; clicks call navigation.js.

import { h, $, setChildren, icon, avatar } from "../dom.js";
import { LOBBY_ID, MOBILE } from "../config.js";
import { state, unread, chatForRoom } from "../state.js";
import { openChat, joinRoom } from "../navigation.js";
import { openNewDm } from "../dialogs.js";
import { presenceText } from "./people.js";

export function renderSidebar() {
  const rooms = [...state.chats.values()].filter((c) => c.kind === "room").sort((a, b) => {
    if (a.roomId === LOBBY_ID) return -1;
    if (b.roomId === LOBBY_ID) return 1;
    return a.name.localeCompare(b.name);
  });
  setChildren($("#room-list"), rooms.length ? rooms.map(roomItem) : h("li.empty-hint", null, "No rooms yet"));

  const invites = [...state.invites.values()].filter((i) => !chatForRoom(i.room.id));
  $("#invites-section").hidden = invites.length === 0;
  setChildren($("#invite-list"), invites.map(inviteItem));

  const dms = [...state.chats.values()].filter((c) => c.kind === "dm")
    .sort((a, b) => b.lastActivity - a.lastActivity || a.name.localeCompare(b.name));
  setChildren($("#dm-list"), dms.length ? dms.map(dmItem) : h("li.empty-hint", null, "No direct messages yet. ",
    h("button.link", { type: "button", onclick: openNewDm }, "Message someone")));

  let total = 0;
  for (const c of state.chats.values()) total += unread(c);
  document.title = total ? `(${total}) Chat` : "Chat";
}

// The open conversation is highlighted only while it is on screen (a phone shows the
// list instead of it).
const isActive = (chat) => chat.key === state.activeKey && (state.showChat || !MOBILE.matches);

function badge(n) {
  return n ? h("span.badge", { "aria-label": `${n} unread` }, n > 99 ? "99+" : String(n)) : null;
}

function roomItem(chat) {
  const n = unread(chat);
  const active = isActive(chat);
  return h("li", null, h(`button.chat-item${active ? ".active" : ""}${n ? ".unread" : ""}`, {
    type: "button", dataset: { key: chat.key, name: chat.name }, "aria-current": active ? "page" : null,
    onclick: () => openChat(chat.key),
  }, h("span.chat-icon", null, icon(chat.isPrivate ? "lock" : "hash")), h("span.chat-name", null, chat.name), badge(n)));
}

function dmItem(chat) {
  const n = unread(chat);
  const user = state.users.get(chat.userId);
  const active = isActive(chat);
  return h("li", null, h(`button.chat-item.dm-item${active ? ".active" : ""}${n ? ".unread" : ""}`, {
    type: "button", dataset: { key: chat.key, name: chat.name }, "aria-current": active ? "page" : null,
    onclick: () => openChat(chat.key),
  }, avatar(chat.name, { online: !!(user && user.online), size: "sm" }),
  h("span.dm-text", null, h("span.chat-name", null, chat.name), h("span.dm-sub", null, presenceText(user))),
  badge(n)));
}

function inviteItem(invite) {
  return h("li.invite", { dataset: { roomId: invite.room.id } },
    h("div.invite-text", null, h("span.chat-icon", null, icon("lock")), h("strong", { title: invite.room.name }, invite.room.name),
      h("span.invite-by", null, invite.invitedBy?.username ? `from ${invite.invitedBy.username}` : "")),
    h("button.small.primary", { type: "button", onclick: () => joinRoom(invite.room.id) }, "Join"));
}
