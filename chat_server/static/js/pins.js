// Pins: the messages a room keeps in sight, listed from the room header.
//
// `GET /api/rooms/:id/pins` fills `chat.pins` (id -> message) the first time a
// conversation's header is drawn; afterwards every change keeps it current (changes.js
// adds a message whose `pinned` turned true and drops one that was unpinned or deleted),
// live and after a reconnect. Pinning is `PUT` / `DELETE /api/rooms/:id/pins/:messageId`;
// the answer (or the `message_updated` that follows) replaces the message by id.
//
// Owns: `chat.pins`, `state.pinsOpen`, loading the list, pinning and unpinning.
// Must not: draw (views/pins.js draws the header button and the list).

import { api } from "./api.js";
import { toast } from "./dom.js";
import { state, render } from "./state.js";
import { onMessageUpdated } from "./changes.js";

/** Fetch the pinned messages of `chat` once (the view asks when it first needs them). */
export async function loadPins(chat) {
  if (!chat.roomId || chat.pins || chat.pinsLoading) return;
  chat.pinsLoading = true;
  try {
    const body = await api("GET", `/api/rooms/${chat.roomId}/pins`);
    const list = body.messages || body.pins || [];
    chat.pins = new Map(list.map((m) => [m.id, m]));
  } catch (e) {
    console.warn("pins failed", e);
    chat.pinsError = e.message;
  } finally {
    chat.pinsLoading = false;
    render("header", "pins");
  }
}

/** The pinned messages, newest pin first (the server's order; live pins go first). */
export function pinnedList(chat) {
  if (!chat || !chat.pins) return [];
  return [...chat.pins.values()].filter((m) => m.pinned && !m.deletedAt);
}

export async function togglePin(chat, m) {
  state.sheet = null;
  render("sheet");
  try {
    const path = `/api/rooms/${chat.roomId}/pins/${m.id}`;
    const body = await api(m.pinned ? "DELETE" : "PUT", path);
    if (body && body.message) onMessageUpdated({ message: body.message, changeSeq: body.message.changeSeq });
  } catch (e) {
    toast(`Could not ${m.pinned ? "unpin" : "pin"}: ${e.message}`, "error");
  }
}

export function togglePinsList(open = !state.pinsOpen) {
  state.pinsOpen = open;
  render("pins");
}
