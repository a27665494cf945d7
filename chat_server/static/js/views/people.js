// How a person is described: "online", "last seen 5 min ago".
//
// Owns: presence wording shared by the sidebar, header, member list and people picker.
// Must not: hold state or draw whole views.

import { formatAgo } from "../dom.js";

export function presenceText(user) {
  if (!user) return "";
  if (user.online) return "online";
  return user.lastSeen ? `last seen ${formatAgo(user.lastSeen)}` : "offline";
}
