// The outbox: messages waiting for the server's ack, kept across reloads.
//
// Every send gets a `clientMsgId` and sits here (in localStorage) until the server acks
// it; items go one at a time, in order, only while connected. An ack timeout or a
// transient error keeps the item queued and it is re-sent with the same clientMsgId, which
// the server deduplicates; a validation error marks it failed (Retry / Delete).
// The outbox is kept per tab (a tab id in sessionStorage survives reloads), so that two
// tabs never overwrite each other's queue. A tab holds a Web Lock named after its id while
// it lives; a queue whose tab is gone (closed while offline) is adopted by the next tab.
//
// Owns: `state.outbox` and its persistence, sending items. Must not: draw anything (the
// messages view shows pending items from `state.outbox`), or apply what the server
// stored other than through delivery.applyIncoming.

import { ACK_TIMEOUT_MS } from "./config.js";
import { uuid } from "./dom.js";
import { state, render, dropOutbox, setDmRoom } from "./state.js";
import { applyIncoming } from "./delivery.js";

let tabId = null;
export const outboxPrefix = () => `chat.outbox.${state.me.id}.`;
const outboxKey = () => outboxPrefix() + tabId;

/** Take this tab's id (and its Web Lock) before reading the outbox. */
export async function claimTab() {
  let id = sessionStorage.getItem("chat.tabId") || uuid();
  if (navigator.locks) {
    for (let i = 0; i < 3; i++) {
      const got = await new Promise((resolve) => {
        navigator.locks.request(`chat-tab-${id}`, { ifAvailable: true }, (lock) => {
          resolve(!!lock);
          return lock ? new Promise(() => {}) : undefined; // held for the tab's life
        });
      });
      if (got) break;
      id = uuid(); // a duplicated tab copied our sessionStorage: take a new id
    }
  }
  sessionStorage.setItem("chat.tabId", id);
  tabId = id;
}

/** This tab's queue plus the queues of tabs that are gone. */
export async function loadOutbox() {
  const read = (key) => {
    try {
      return JSON.parse(localStorage.getItem(key) || "[]");
    } catch {
      return [];
    }
  };
  const items = read(outboxKey());
  if (navigator.locks) {
    const held = new Set(((await navigator.locks.query()).held || []).map((l) => l.name));
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith(outboxPrefix()) || key === outboxKey()) continue;
      if (held.has(`chat-tab-${key.slice(outboxPrefix().length)}`)) continue;
      items.push(...read(key));
      localStorage.removeItem(key);
      i -= 1;
    }
  }
  const seen = new Set();
  state.outbox = items
    .filter((i) => i && i.clientMsgId && !seen.has(i.clientMsgId) && seen.add(i.clientMsgId))
    .sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)))
    .map((i) => ({ ...i, state: i.state === "failed" ? "failed" : "queued" }));
  saveOutbox();
}

/** Persist the queue (subscribed to the "outbox" part, and called after local changes). */
export function saveOutbox() {
  if (!tabId || !state.me) return;
  const keep = state.outbox.map(({ attempt, ...rest }) => rest);
  if (keep.length) localStorage.setItem(outboxKey(), JSON.stringify(keep));
  else localStorage.removeItem(outboxKey());
}

/** Queue a message for `chat` and start sending. */
export function enqueue(chat, fields) {
  const item = {
    clientMsgId: uuid(),
    key: chat.key,
    roomId: chat.kind === "room" ? chat.roomId : null,
    recipientId: chat.kind === "dm" ? chat.userId : null,
    content: fields.content || "",
    messageType: fields.messageType || "text",
    fileId: fields.fileId || null,
    // A reply in a thread (threads.js): the root message's id.
    threadId: fields.threadId || null,
    file: fields.file || null,
    createdAt: new Date().toISOString(),
    state: "queued",
    error: null,
  };
  state.outbox.push(item);
  saveOutbox();
  if (!item.threadId) state.stick = true;
  render("messages", "banner", "thread");
  pump();
}

/** A failed item, queued again by the user. */
export function retryItem(item) {
  item.state = "queued";
  item.error = null;
  saveOutbox();
  render("messages");
  pump();
}

let pumpTimer = null;
/** Send queued items one at a time, in order, while connected. */
export async function pump() {
  if (state.pumping) return;
  state.pumping = true;
  try {
    while (state.connected && state.authed) {
      const item = state.outbox.find((i) => i.state === "queued");
      if (!item) break;
      const outcome = await sendItem(item);
      if (outcome !== "next") {
        clearTimeout(pumpTimer);
        pumpTimer = setTimeout(pump, outcome === "slow" ? 5000 : 1500);
        break;
      }
    }
  } finally {
    state.pumping = false;
  }
}

async function sendItem(item) {
  item.state = "sending";
  item.attempt = (item.attempt || 0) + 1;
  const attempt = item.attempt;
  render("messages");
  const payload = { content: item.content, clientMsgId: item.clientMsgId, messageType: item.messageType };
  if (item.fileId) payload.fileId = item.fileId;
  if (item.threadId) payload.threadId = item.threadId;
  let event = "send_message";
  if (item.recipientId) {
    event = "send_dm";
    payload.recipientId = item.recipientId;
  } else {
    payload.roomId = item.roomId;
  }
  let ack;
  try {
    ack = await state.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
  } catch {
    // No ack in time (connection died?): it stays queued and is re-sent with the same
    // clientMsgId, which the server deduplicates.
    if (item.state === "sending" && item.attempt === attempt) item.state = "queued";
    render("messages");
    return "retry";
  }
  if (ack && ack.ok) {
    const chat = state.chats.get(item.key);
    dropOutbox(item.clientMsgId);
    if (chat) {
      if (chat.kind === "dm") setDmRoom(chat, ack.message.roomId);
      applyIncoming(chat, ack.message);
    }
    return "next";
  }
  const error = (ack && ack.error) || { code: "internal_error", message: "Could not send" };
  if (["rate_limited", "unavailable", "internal_error", "unauthenticated"].includes(error.code)) {
    item.state = "queued";
    item.error = error.message;
    render("messages");
    return error.code === "rate_limited" ? "slow" : "retry";
  }
  item.state = "failed";
  item.error = error.message;
  saveOutbox();
  render("messages");
  return "next";
}
