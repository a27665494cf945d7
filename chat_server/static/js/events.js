// Realtime events: what the server tells this client, applied to the store.
//
// Owns: one handler per server event (new_message, new_dm, unread, typing, presence,
// receipts, joins and leaves, invitations). Each handler only updates the store (through
// state.js and delivery.js) and marks what changed with `render`.
// Must not: touch the DOM (beyond a toast) or emit on the socket (delivery.js sends
// receipts). A new event (edits, reactions, ...) is a new handler plus its state update.

import { api } from "./api.js";
import { toast } from "./dom.js";
import { TYPING_SHOW_MS } from "./config.js";
import {
  state, render, chatForRoom, dmChat, setDmRoom, noteUser, roomChat, bumpRead, bumpDelivered,
  noteMembership,
} from "./state.js";
import { applyIncoming } from "./delivery.js";
import { refreshListsSoon, refreshLobbySoon } from "./history.js";
import { removeChat } from "./navigation.js";
import { onMessageUpdated } from "./changes.js";

export function bindEvents(socket) {
  socket.on("new_message", onNewMessage);
  socket.on("new_dm", onNewDm);
  socket.on("unread", onUnread);
  socket.on("user_typing", onTyping);
  socket.on("user_stopped_typing", onStoppedTyping);
  socket.on("presence", onPresence);
  socket.on("read_receipt", onReadReceipt);
  socket.on("delivery_receipt", onDeliveryReceipt);
  socket.on("user_joined", onUserJoined);
  socket.on("user_left", onUserLeft);
  socket.on("room_invite", onRoomInvite);
  // Edits, deletions, reactions, pins, thread counts (changes.js applies them).
  socket.on("message_updated", onMessageUpdated);
}

function onNewMessage({ message }) {
  const chat = chatForRoom(message.roomId);
  if (!chat) {
    refreshListsSoon();
    return;
  }
  applyIncoming(chat, message);
}

function onNewDm({ message }) {
  const meId = state.me.id;
  const senderId = message.senderId || message.userId;
  const otherId = senderId === meId ? message.recipientId : senderId;
  if (!otherId) return;
  let chat = state.chats.get(`dm:${otherId}`);
  if (!chat) {
    chat = dmChat({ id: otherId, username: senderId === otherId ? message.senderUsername || message.username : "" });
    if (!chat.name || chat.name === "…") refreshListsSoon();
  }
  setDmRoom(chat, message.roomId);
  applyIncoming(chat, message);
}

function onUnread(body) {
  for (const [roomId, s] of Object.entries((body && body.rooms) || {})) {
    const chat = chatForRoom(roomId);
    if (!chat) {
      if (s.unread > 0 || s.kind === "direct") refreshListsSoon();
      continue;
    }
    chat.lastSeq = Math.max(chat.lastSeq, s.lastSeq || 0);
    chat.lastReadSeq = Math.max(chat.lastReadSeq, s.lastReadSeq || 0);
  }
  render("sidebar");
}

function onTyping({ roomId, userId, username }) {
  const chat = chatForRoom(roomId);
  if (!chat || userId === state.me.id) return;
  chat.typing.set(userId, { username, until: Date.now() + TYPING_SHOW_MS });
  if (chat.key === state.activeKey) render("typing");
  setTimeout(() => {
    const t = chat.typing.get(userId);
    if (t && t.until <= Date.now()) {
      chat.typing.delete(userId);
      if (chat.key === state.activeKey) render("typing");
    }
  }, TYPING_SHOW_MS + 50);
}

function onStoppedTyping({ roomId, userId }) {
  const chat = chatForRoom(roomId);
  if (!chat) return;
  chat.typing.delete(userId);
  if (chat.key === state.activeKey) render("typing");
}

function onPresence({ userId, username, status, lastSeen }) {
  // Signing up puts a person in the lobby without a `user_joined`: someone this tab has
  // never heard of coming online is most likely new there, so recount the lobby.
  if (status === "online" && !state.users.has(userId)) refreshLobbySoon(userId);
  noteUser({ id: userId, username, online: status === "online", lastSeen });
  render("sidebar", "header", "members", "messages");
}

function onReadReceipt({ roomId, userId, lastReadSeq }) {
  const chat = chatForRoom(roomId);
  if (!chat) return;
  bumpRead(chat, userId, lastReadSeq);
  if (chat.key === state.activeKey) render("messages", "members");
}

function onDeliveryReceipt({ roomId, userId, lastDeliveredSeq }) {
  const chat = chatForRoom(roomId);
  if (!chat) return;
  bumpDelivered(chat, userId, lastDeliveredSeq);
  if (chat.key === state.activeKey) render("messages");
}

async function onUserJoined({ roomId, user }) {
  if (user && user.id === state.me.id) {
    // Joined from another tab or device.
    state.invites.delete(roomId);
    if (!chatForRoom(roomId)) {
      try {
        roomChat(await api("GET", `/api/rooms/${roomId}`));
      } catch (e) {
        console.warn(e);
      }
    }
    render("sidebar");
    return;
  }
  const chat = chatForRoom(roomId);
  if (!chat || !user) return;
  noteMembership(chat, user, true);
  if (chat.key === state.activeKey) render("header", "members", "messages");
}

function onUserLeft({ roomId, userId }) {
  const chat = chatForRoom(roomId);
  if (!chat) return;
  if (userId === state.me.id) {
    removeChat(chat.key);
    render("sidebar");
    return;
  }
  noteMembership(chat, { id: userId }, false);
  if (chat.key === state.activeKey) render("header", "members", "typing", "messages");
}

function onRoomInvite(invite) {
  state.invites.set(invite.room.id, invite);
  toast(`${invite.invitedBy?.username || "Someone"} invited you to #${invite.room.name}`);
  render("sidebar");
}
