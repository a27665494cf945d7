// The chat web client's entry point: wire the page, find the session, start the app.
//
// The client is plain ES modules, no build step. Data flows one way:
//   socket.js / events.js (realtime) and history.js (REST) -> state.js (the store)
//   -> render(part) -> views/*.js (draw from the store).
// User actions (navigation.js, composer.js, uploads.js, dialogs.js, auth.js) change the
// store or call the server; they never draw. docs/web-client.md describes every module.
//
// Owns: the order things start in and which view draws which part. Must not: grow
// features; a feature is a module of its own plus a line here.

import {
  api, accessExpiresAt, refreshSession, startSessionKeeper, mayHaveSession, endSession,
} from "./api.js";
import { h, $, setChildren, avatar, hydrateIcons, toast } from "./dom.js";
import { LOBBY_ID, MOBILE } from "./config.js";
import { state, subscribe, render, activeChat, noteUser, dmChat } from "./state.js";
import { loadLists, refreshListsSoon } from "./history.js";
import { markReadSoon } from "./delivery.js";
import { claimTab, loadOutbox, saveOutbox } from "./outbox.js";
import { connectSocket } from "./socket.js";
import { openChat, leaveActive, followHash, showConversation } from "./navigation.js";
import { wireComposer, stopTyping } from "./composer.js";
import { wireUploads, renderUploads } from "./uploads.js";
import { wireDialogs, openInvite } from "./dialogs.js";
import { wireAuth, showAuth } from "./auth.js";
import { renderSidebar } from "./views/sidebar.js";
import { renderHeader } from "./views/header.js";
import { renderMessages, wireMessages } from "./views/messages.js";
import { renderTyping } from "./views/typing.js";
import { renderMembers, wireMembers } from "./views/members.js";
import { renderBanner } from "./views/banner.js";
import { wireMessageActions } from "./message_actions.js";
import { renderSheet } from "./views/message_actions.js";
import { wireThreads } from "./threads.js";
import { renderThreadPanel } from "./views/thread_panel.js";
import { renderPicker, wirePicker } from "./views/emoji_picker.js";
import { renderPins, wirePins } from "./views/pins.js";
import { renderEditHistory, wireEditHistory } from "./views/edit_history.js";

// Presence wording ("5 min ago") goes stale: redraw it this often.
const REFRESH_AGO_MS = 60000;

subscribe("sidebar", renderSidebar);
subscribe("header", renderHeader);
subscribe("messages", renderMessages);
subscribe("typing", renderTyping);
subscribe("members", renderMembers);
subscribe("banner", renderBanner);
subscribe("uploads", renderUploads);
subscribe("outbox", saveOutbox);
// Messages that change (docs/web-client.md): threads follow the messages they hold.
subscribe("messages", renderThreadPanel);
subscribe("thread", renderThreadPanel);
subscribe("sheet", renderSheet);
subscribe("picker", renderPicker);
subscribe("header", renderPins);
subscribe("pins", renderPins);
subscribe("editHistory", renderEditHistory);

async function startApp(me) {
  state.me = me;
  state.signedOut = false;
  noteUser({ id: me.id, username: me.username, online: true });
  $("#auth-view").hidden = true;
  $("#boot").hidden = true;
  $("#app").hidden = false;
  setChildren($("#me"), avatar(me.username, { online: true, size: "sm" }), h("span.me-name", null, me.username));
  await claimTab();
  await loadOutbox();
  startSessionKeeper();
  try {
    await loadLists();
  } catch (e) {
    toast(`Could not load your rooms: ${e.message}`, "error");
  }
  const fromUrl = location.hash;
  const route = fromUrl || localStorage.getItem(`chat.lastChat.${me.id}`) || "";
  let key = LOBBY_ID;
  const roomMatch = route.match(/^#room\/([0-9a-f-]{36})$/);
  const dmMatch = route.match(/^#dm\/([0-9a-f-]{36})$/);
  if (roomMatch && state.chats.has(roomMatch[1])) key = roomMatch[1];
  else if (dmMatch && dmMatch[1] !== me.id) key = dmChat({ id: dmMatch[1] }).key;
  if (!state.chats.has(key)) key = [...state.chats.keys()][0];
  connectSocket();
  if (key) {
    const opening = openChat(key);
    // On a phone the first screen is the list of conversations, unless the URL named one.
    if (MOBILE.matches && !fromUrl) showConversation(false);
    await opening;
  }
  if (dmMatch && key.startsWith("dm:") && !state.users.get(dmMatch[1])?.username) refreshListsSoon();
  setInterval(() => render("sidebar", "header", "members"), REFRESH_AGO_MS);
}

function wire() {
  hydrateIcons();
  wireAuth(startApp);
  wireDialogs();
  wireComposer();
  wireUploads();
  wireMessages();
  wireMembers();
  wireMessageActions();
  wireThreads();
  wirePicker();
  wirePins();
  wireEditHistory();
  $("#back-btn").addEventListener("click", () => {
    showConversation(false);
    stopTyping();
  });
  $("#invite-btn").addEventListener("click", () => {
    const chat = activeChat();
    if (chat) openInvite(chat);
  });
  $("#leave-btn").addEventListener("click", leaveActive);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") markReadSoon(activeChat());
    else stopTyping();
  });
  window.addEventListener("hashchange", followHash);
}

async function boot() {
  wire();
  const notice = sessionStorage.getItem("chat.signedOutMessage");
  sessionStorage.removeItem("chat.signedOutMessage");
  if (!mayHaveSession()) {
    // Never signed in here, or signed out: no request that could only answer 401.
    showAuth(notice || "");
    return;
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const me = await api("GET", "/api/users/me");
      if (!accessExpiresAt() || accessExpiresAt() < Date.now()) {
        // Signed in by a cookie from an earlier visit: learn when it expires.
        await refreshSession();
      }
      await startApp(me);
      return;
    } catch (e) {
      if (e.status === 401 || state.signedOut) {
        endSession(); // the session is gone: the next visit asks nothing
        showAuth(notice || "");
        return;
      }
      setChildren($("#boot"), h("span.spinner"), `Cannot reach the server (${e.message}). Retrying…`);
      await new Promise((r) => setTimeout(r, Math.min(10000, 1000 * 2 ** attempt)));
    }
  }
}

boot();
