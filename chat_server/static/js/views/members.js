// The member panel of a room: who is in it, online first, with a "Message" button each.
//
// Owns: drawing #members-panel's title and list from the store, and the panel's toggle.
// Must not: change the store beyond asking history.js for the members when opened.

import { h, $, setChildren, icon, avatar } from "../dom.js";
import { state, activeChat, render } from "../state.js";
import { loadDetails } from "../history.js";
import { openDm } from "../navigation.js";
import { openInvite } from "../dialogs.js";
import { presenceText } from "./people.js";

export function renderMembers() {
  const panel = $("#members-panel");
  const chat = activeChat();
  if (panel.hidden || !chat || chat.kind !== "room") return;
  const members = chat.members ? [...chat.members.values()] : [];
  members.sort((a, b) => {
    const ua = state.users.get(a.id) || a;
    const ub = state.users.get(b.id) || b;
    return (ub.online - ua.online) || a.username.localeCompare(b.username);
  });
  const canInvite = chat.isPrivate && ["owner", "admin"].includes(chat.role);
  setChildren($("#members-title"), `Members · ${chat.memberCount}`);
  setChildren($("#member-list"),
    canInvite ? h("li.member-invite", null, h("button.secondary.wide", { type: "button", onclick: () => openInvite(chat) }, icon("invite"), "Invite people")) : null,
    chat.members ? members.map((m) => memberItem(m)) : h("li.empty-hint", null, "Loading…"));
}

function memberItem(m) {
  const user = state.users.get(m.id) || m;
  const me = m.id === state.me.id;
  return h("li.member", { dataset: { userId: m.id, username: m.username } },
    avatar(m.username, { online: !!user.online, size: "sm" }),
    h("span.member-text", null,
      h("span.member-name", null, m.username, me ? h("span.you", null, " (you)") : null,
        m.role && m.role !== "member" ? h("span.role", null, m.role) : null),
      h("span.member-sub", null, presenceText(user))),
    me ? null : h("button.small.secondary", {
      type: "button", title: `Message ${m.username}`, onclick: () => openDm({ id: m.id, username: m.username }),
    }, "Message"));
}

export function wireMembers() {
  $("#members-btn").addEventListener("click", () => {
    const panel = $("#members-panel");
    panel.hidden = !panel.hidden;
    $("#members-btn").setAttribute("aria-pressed", String(!panel.hidden));
    render("members");
    const chat = activeChat();
    if (!panel.hidden && chat) loadDetails(chat);
  });
  $("#members-close").addEventListener("click", () => {
    $("#members-panel").hidden = true;
    $("#members-btn").setAttribute("aria-pressed", "false");
  });
}
