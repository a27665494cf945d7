// The composer: the message box, sending on Enter, drafts per conversation, typing signals.
//
// Owns: #message-input and #composer (keys, growth up to 200 px, drafts), and announcing
// `typing_start` / `typing_stop` for the open room. Sending goes through outbox.enqueue.
// Must not: draw messages or know how a message reaches the server.

import { $, toast } from "./dom.js";
import { MAX_CONTENT, TYPING_RENEW_MS, TYPING_IDLE_MS } from "./config.js";
import { state, activeChat } from "./state.js";
import { enqueue } from "./outbox.js";
import { startUploads } from "./uploads.js";

// The composer grows with its text up to this height (px), then scrolls.
const COMPOSER_MAX_PX = 200;

function submitComposer() {
  const chat = activeChat();
  const input = $("#message-input");
  const text = input.value;
  if (!chat || !text.trim()) return;
  if (text.length > MAX_CONTENT) {
    toast(`Messages are limited to ${MAX_CONTENT} characters (this one has ${text.length}).`, "error");
    return;
  }
  stopTyping();
  enqueue(chat, { content: text });
  input.value = "";
  state.drafts.delete(chat.key);
  autosize();
}

// Typing: announce on input, renewed every couple of seconds, stopped when idle or sent.
let typingKey = null;
let typingSentAt = 0;
let typingIdle = null;

function onComposerInput() {
  autosize();
  const chat = activeChat();
  if (!chat || !chat.roomId || !state.connected) return;
  const input = $("#message-input");
  if (!input.value.trim()) {
    stopTyping();
    return;
  }
  const now = Date.now();
  if (typingKey !== chat.key || now - typingSentAt > TYPING_RENEW_MS) {
    if (typingKey && typingKey !== chat.key) stopTyping();
    typingKey = chat.key;
    typingSentAt = now;
    state.socket.emit("typing_start", { roomId: chat.roomId });
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

export function stopTyping() {
  clearTimeout(typingIdle);
  if (!typingKey) return;
  const chat = state.chats.get(typingKey);
  typingKey = null;
  typingSentAt = 0;
  if (chat && chat.roomId && state.connected) state.socket.emit("typing_stop", { roomId: chat.roomId });
}

/** The connection dropped: the server forgot our typing state with it. */
export function resetTyping() {
  typingKey = null;
}

export function autosize() {
  const input = $("#message-input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, COMPOSER_MAX_PX)}px`;
}

export function wireComposer() {
  const input = $("#message-input");
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitComposer();
    }
  });
  input.addEventListener("input", onComposerInput);
  input.addEventListener("blur", () => {
    const chat = activeChat();
    if (chat) state.drafts.set(chat.key, input.value);
  });
  input.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (files.length) {
      e.preventDefault();
      startUploads(files);
    }
  });
  $("#composer").addEventListener("submit", (e) => {
    e.preventDefault();
    submitComposer();
  });
}
