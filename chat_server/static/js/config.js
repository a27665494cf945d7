// Constants of the web client: the server's limits it mirrors and the timings it uses.
//
// Owns: named values shared by several modules. Must not: hold state or touch the DOM
// (beyond the one media query that says whether this is a phone-sized screen).

export const SOCKET_CLIENT_URL = "/static/vendor/socket.io.esm.min.js";
export const LOBBY_ID = "00000000-0000-4000-8000-000000000001";
// One page of history, as the server pages it.
export const PAGE_SIZE = 50;
// The server's limit on a message's text.
export const MAX_CONTENT = 5000;
// The server's upload rules (docs/contract.md §9): checked here first so errors show before sending.
export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
export const UPLOAD_TYPES = {
  jpg: ["image/jpeg"], jpeg: ["image/jpeg"], png: ["image/png"], gif: ["image/gif"],
  pdf: ["application/pdf"], txt: ["text/plain"],
};
// Messages of one sender closer than this share one group (one avatar and name).
export const GROUP_GAP_MS = 5 * 60 * 1000;
export const TYPING_RENEW_MS = 2000;
export const TYPING_IDLE_MS = 3000;
export const TYPING_SHOW_MS = 8000;
export const ACK_TIMEOUT_MS = 10000;
// The server sends read receipts only in rooms up to this size.
export const READ_RECEIPT_MAX_MEMBERS = 100;
export const MEMBERS_PAGE = 200;
// The server takes at most 500 rooms per `sync`.
export const SYNC_CHUNK = 400;
export const MOBILE = window.matchMedia("(max-width: 760px)");
