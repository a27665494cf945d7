// Which conversation is open, and the user's moves between conversations.
//
// Owns: opening a conversation (route in the URL, remembered per user, draft swap),
// opening a DM with someone, joining and leaving rooms, and dropping a conversation the
// user is no longer in. Must not: draw anything (it marks parts with `render`).

import { api } from "./api.js";
import { $, toast } from "./dom.js";
import { LOBBY_ID, MOBILE } from "./config.js";
import { state, render, activeChat, roomChat, dmChat, forgetChat, unread } from "./state.js";
import { loadInitial, loadDetails } from "./history.js";
import { markReadSoon } from "./delivery.js";
import { stopTyping, autosize } from "./composer.js";
import { closeDialogs } from "./dialogs.js";

function routeFor(chat) {
  return chat.kind === "room" ? `#room/${chat.roomId}` : `#dm/${chat.userId}`;
}

export async function openChat(key) {
  const chat = state.chats.get(key);
  if (!chat) return;
  const previous = activeChat();
  if (previous && previous.key !== key) {
    stopTyping();
    state.drafts.set(previous.key, $("#message-input").value);
  }
  const switching = !previous || previous.key !== key;
  state.activeKey = key;
  if (location.hash !== routeFor(chat)) history.replaceState(null, "", routeFor(chat));
  localStorage.setItem(`chat.lastChat.${state.me.id}`, routeFor(chat));
  const wasShown = state.showChat;
  showConversation(true);
  // Opened (or brought back on a phone) with unread messages: a "New messages" line
  // above the first of them.
  if (switching || !wasShown) chat.newFromSeq = unread(chat) > 0 ? chat.lastReadSeq + 1 : null;
  if (switching) {
    const input = $("#message-input");
    input.value = state.drafts.get(key) || "";
    autosize();
    state.stick = true;
    if (chat.kind !== "room") $("#members-panel").hidden = true;
  }
  render("sidebar", "header", "messages", "typing", "members", "uploads");
  if (!MOBILE.matches) $("#message-input").focus();
  if (!chat.loaded) await loadInitial(chat);
  else {
    markReadSoon(chat);
    loadDetails(chat);
  }
}

/** On a phone: the open conversation (true) or the list of conversations (false). */
export function showConversation(on) {
  state.showChat = on;
  document.body.classList.toggle("show-chat", on);
  render("sidebar");
}

/** Forget a conversation; if it was open, open the lobby instead. */
export function removeChat(key) {
  if (!forgetChat(key)) return;
  if (state.chats.has(LOBBY_ID)) openChat(LOBBY_ID);
  else render("all");
}

export function openDm(user) {
  const chat = dmChat(user);
  closeDialogs();
  if (MOBILE.matches) $("#members-panel").hidden = true;
  openChat(chat.key);
}

export async function joinRoom(roomId) {
  try {
    const room = await api("POST", `/api/rooms/${roomId}/join`);
    state.invites.delete(roomId);
    const chat = roomChat(room);
    closeDialogs();
    await openChat(chat.key);
  } catch (e) {
    toast(`Could not join: ${e.message}`, "error");
  }
}

export async function leaveActive() {
  const chat = activeChat();
  if (!chat || chat.kind !== "room" || chat.roomId === LOBBY_ID) return;
  if (!confirm(`Leave #${chat.name}?`)) return;
  try {
    await api("DELETE", `/api/rooms/${chat.roomId}/leave`);
    removeChat(chat.key);
    toast(`You left #${chat.name}`);
  } catch (e) {
    toast(`Could not leave: ${e.message}`, "error");
  }
}

/** The URL names another conversation (back/forward, a pasted link). */
export function followHash() {
  const m = location.hash.match(/^#(room|dm)\/([0-9a-f-]{36})$/);
  if (!m || !state.me) return;
  const key = m[1] === "room" ? m[2] : `dm:${m[2]}`;
  if (key !== state.activeKey && state.chats.has(key)) openChat(key);
}
