// Dialogs: create a room, browse rooms, pick a person (invite / new DM), the image lightbox.
//
// Owns: the <dialog> elements, their forms and lists, and closing them (Escape, backdrop,
// [data-close]). What a dialog decides goes through navigation.js or the REST API.
// Must not: draw anything outside its dialog.

import { api, ApiError } from "./api.js";
import { h, $, setChildren, icon, avatar, toast } from "./dom.js";
import { LOBBY_ID } from "./config.js";
import { state, roomChat, noteUser } from "./state.js";
import { openChat, openDm, joinRoom } from "./navigation.js";
import { presenceText } from "./views/people.js";

// The people picker searches this many lobby members (everyone is in the lobby).
const PICKER_POOL = 500;
// ...and shows at most this many matches.
const PICKER_SHOWN = 100;

export function closeDialogs() {
  for (const d of document.querySelectorAll("dialog[open]")) d.close();
}

export function openLightbox(file) {
  const dialog = $("#lightbox");
  const img = $("#lightbox-img");
  img.src = file.url;
  img.alt = file.name || "image";
  $("#lightbox-name").textContent = file.name || "";
  $("#lightbox-open").href = file.url;
  dialog.showModal();
}

async function openBrowse() {
  const dialog = $("#browse-dialog");
  $("#browse-search").value = "";
  dialog.showModal();
  await searchRooms("");
  $("#browse-search").focus();
}

let browseSeq = 0;
async function searchRooms(term) {
  const seq = ++browseSeq;
  const list = $("#browse-list");
  const q = new URLSearchParams({ limit: "100" });
  if (term.trim()) q.set("search", term.trim());
  try {
    const body = await api("GET", `/api/rooms?${q}`);
    if (seq !== browseSeq) return;
    const rooms = body.rooms.filter((r) => r.kind !== "direct");
    setChildren(list, rooms.length ? rooms.map((r) => h("li.browse-item", { dataset: { name: r.name } },
      h("span.chat-icon", null, icon(r.isPrivate ? "lock" : "hash")),
      h("span.browse-text", null, h("span.browse-name", null, r.name),
        h("span.browse-sub", null, `${r.memberCount} member${r.memberCount === 1 ? "" : "s"}${r.description ? " · " + r.description : ""}`)),
      r.isMember
        ? h("button.small.secondary", { type: "button", onclick: () => { closeDialogs(); openChat(roomChat(r).key); } }, "Open")
        : h("button.small.primary", { type: "button", onclick: () => joinRoom(r.id) }, r.isInvited ? "Accept invite" : "Join")))
      : h("li.empty-hint", null, term ? "No rooms match." : "No rooms yet. Create one!"));
  } catch (e) {
    setChildren(list, h("li.empty-hint.error", null, e.message));
  }
}

async function createRoom(event) {
  event.preventDefault();
  const form = $("#create-form");
  const err = $("#create-error");
  err.textContent = "";
  const body = {
    name: form.elements.name.value.trim(),
    description: form.elements.description.value.trim() || null,
    isPrivate: form.elements.private.checked,
  };
  try {
    const room = await api("POST", "/api/rooms", body);
    form.reset();
    closeDialogs();
    const chat = roomChat(room);
    await openChat(chat.key);
    toast(`Created #${room.name}`);
  } catch (e) {
    err.textContent = fieldErrors(e);
  }
}

/** An API error as one line, naming the fields it is about. */
export function fieldErrors(e) {
  if (e instanceof ApiError && e.fields) {
    return Object.entries(e.fields).map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`).join(" ");
  }
  return e.message;
}

/** A picker over the people this user can find (the lobby's members, everyone's room). */
let pickerConfig = null;
let pickerUsers = [];

async function openPicker(config) {
  pickerConfig = config;
  $("#picker-title").textContent = config.title;
  $("#picker-search").value = "";
  setChildren($("#picker-list"), h("li.empty-hint", null, "Loading…"));
  $("#picker-dialog").showModal();
  $("#picker-search").focus();
  try {
    const body = await api("GET", `/api/rooms/${LOBBY_ID}/members?limit=${PICKER_POOL}`);
    pickerUsers = body.members.filter((m) => m.id !== state.me.id);
    for (const m of body.members) noteUser(m);
  } catch (e) {
    pickerUsers = [];
    setChildren($("#picker-list"), h("li.empty-hint.error", null, e.message));
    return;
  }
  renderPicker();
}

function renderPicker() {
  if (!pickerConfig) return;
  const term = $("#picker-search").value.trim().toLowerCase();
  const users = pickerUsers.filter((u) => !term || u.username.toLowerCase().includes(term))
    .filter((u) => !(pickerConfig.exclude && pickerConfig.exclude.has(u.id)))
    .sort((a, b) => (b.online - a.online) || a.username.localeCompare(b.username)).slice(0, PICKER_SHOWN);
  setChildren($("#picker-list"), users.length ? users.map((u) => {
    const user = state.users.get(u.id) || u;
    const button = h("button.small.primary", { type: "button" }, pickerConfig.action);
    button.addEventListener("click", () => pickerConfig.onPick(u, button));
    return h("li.member", { dataset: { userId: u.id, username: u.username } },
      avatar(u.username, { online: !!user.online, size: "sm" }),
      h("span.member-text", null, h("span.member-name", null, u.username), h("span.member-sub", null, presenceText(user))),
      button);
  }) : h("li.empty-hint", null, "Nobody found."));
}

export function openInvite(chat) {
  const exclude = new Set(chat.members ? chat.members.keys() : []);
  openPicker({
    title: `Invite to #${chat.name}`,
    action: "Invite",
    exclude,
    onPick: async (user, button) => {
      button.disabled = true;
      try {
        await api("POST", `/api/rooms/${chat.roomId}/invites`, { userId: user.id });
        button.textContent = "Invited";
        toast(`Invited ${user.username} to #${chat.name}`);
      } catch (e) {
        button.disabled = false;
        toast(`Could not invite ${user.username}: ${e.message}`, "error");
      }
    },
  });
}

export function openNewDm() {
  openPicker({ title: "New direct message", action: "Message", onPick: (user) => openDm(user) });
}

export function wireDialogs() {
  $("#new-room-btn").addEventListener("click", () => {
    $("#create-error").textContent = "";
    $("#create-dialog").showModal();
    $("#create-name").focus();
  });
  $("#browse-btn").addEventListener("click", openBrowse);
  $("#new-dm-btn").addEventListener("click", openNewDm);
  $("#create-form").addEventListener("submit", createRoom);
  let browseTimer = null;
  $("#browse-search").addEventListener("input", (e) => {
    clearTimeout(browseTimer);
    browseTimer = setTimeout(() => searchRooms(e.target.value), 200);
  });
  $("#picker-search").addEventListener("input", renderPicker);
  for (const btn of document.querySelectorAll("[data-close]")) {
    btn.addEventListener("click", () => btn.closest("dialog").close());
  }
  for (const dialog of document.querySelectorAll("dialog")) {
    // A click on the backdrop (the dialog element itself) closes it.
    dialog.addEventListener("click", (e) => {
      if (e.target === dialog) dialog.close();
    });
  }
}
