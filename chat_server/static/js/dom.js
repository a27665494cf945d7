// Small DOM helpers. Every piece of user-provided text goes through textContent (h()'s
// string children); the only HTML ever parsed is a message's server-sanitised contentHtml,
// and that is re-checked by render.js before it reaches the page.

const SVG_NS = "http://www.w3.org/2000/svg";

/** Create an element: h("button.primary", {type: "submit", onclick}, "Send", child...). */
export function h(spec, props, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (key === "dataset") {
        Object.assign(el.dataset, value);
      } else if (key === "text") {
        el.textContent = value;
      } else if (key === "className") {
        el.className = value;
      } else if (value === true) {
        el.setAttribute(key, "");
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Replace an element's children. */
export function setChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// A tiny icon set (24x24 stroke icons), built as SVG elements: no markup strings.
const ICONS = {
  send: ["M4 12l16-8-6 16-2.5-6.5z", "M11.5 13.5L20 4"],
  attach: ["M20 11.5l-8.2 8.2a5 5 0 01-7.1-7.1l8.5-8.5a3.3 3.3 0 014.7 4.7l-8.5 8.5a1.7 1.7 0 01-2.4-2.4l7.8-7.8"],
  users: ["M16 19v-1.5a3.5 3.5 0 00-3.5-3.5h-5A3.5 3.5 0 004 17.5V19", "M10 10.5a3 3 0 100-6 3 3 0 000 6z", "M20 19v-1.5a3.5 3.5 0 00-2.5-3.3", "M15.5 4.6a3 3 0 010 5.8"],
  back: ["M15 5l-7 7 7 7"],
  plus: ["M12 5v14", "M5 12h14"],
  logout: ["M9 4H6a2 2 0 00-2 2v12a2 2 0 002 2h3", "M16 16l4-4-4-4", "M20 12H10"],
  search: ["M11 18a7 7 0 100-14 7 7 0 000 14z", "M20 20l-4-4"],
  lock: ["M7 11V8a5 5 0 0110 0v3", "M6 11h12v9H6z"],
  hash: ["M5 9h14", "M5 15h14", "M10 4l-2 16", "M16 4l-2 16"],
  check: ["M5 12.5l4.5 4.5L19 7.5"],
  checks: ["M2 12.5l4.5 4.5L16 7.5", "M12.5 16l1 1L23 7.5"],
  clock: ["M12 21a9 9 0 100-18 9 9 0 000 18z", "M12 7v5l3 2"],
  alert: ["M12 9v4", "M12 17h.01", "M10.3 3.9L2.4 18a2 2 0 001.7 3h15.8a2 2 0 001.7-3L13.7 3.9a2 2 0 00-3.4 0z"],
  file: ["M14 3H7a2 2 0 00-2 2v14a2 2 0 002 2h10a2 2 0 002-2V8z", "M14 3v5h5"],
  download: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
  x: ["M6 6l12 12", "M18 6L6 18"],
  invite: ["M15 19v-1.5a3.5 3.5 0 00-3.5-3.5h-5A3.5 3.5 0 003 17.5V19", "M9 10.5a3 3 0 100-6 3 3 0 000 6z", "M19 8v6", "M16 11h6"],
  chat: ["M4 5h16v11H9l-5 4z"],
  compass: ["M12 21a9 9 0 100-18 9 9 0 000 18z", "M15.5 8.5l-2 5-5 2 2-5z"],
  down: ["M12 5v14", "M6 13l6 6 6-6"],
  // Message actions (message_actions.js).
  smile: ["M12 21a9 9 0 100-18 9 9 0 000 18z", "M8.5 14.5a4.5 4.5 0 007 0", "M9 9.5h.01", "M15 9.5h.01"],
  thread: ["M4 5h16v10H10l-4 4v-4H4z", "M8 9h8", "M8 12h5"],
  edit: ["M4 20h4L19 9l-4-4L4 16z", "M13.5 6.5l4 4"],
  pin: ["M9 4h6", "M10 4v6l-3 4h10l-3-4V4", "M12 14v6"],
  trash: ["M4 7h16", "M10 11v6", "M14 11v6", "M6 7l1 13h10l1-13", "M9 7V4h6v3"],
};

export function icon(name, extraClass = "") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", `icon icon-${name} ${extraClass}`.trim());
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
  }
  return svg;
}

/** Fill every `<span data-icon="name">` placeholder of the static markup with its icon. */
export function hydrateIcons(root = document) {
  for (const el of root.querySelectorAll("[data-icon]")) {
    if (!el.firstChild) el.appendChild(icon(el.dataset.icon));
  }
}

// ---- avatars -----------------------------------------------------------------------------

const AVATAR_COLORS = 8;

function hashString(s) {
  let x = 0;
  for (let i = 0; i < s.length; i++) x = (x * 31 + s.charCodeAt(i)) | 0;
  return Math.abs(x);
}

export function avatar(name, { online, size = "" } = {}) {
  const label = (name || "?").replace(/[^\p{L}\p{N}]/gu, "").slice(0, 2).toUpperCase() || "?";
  const el = h(`span.avatar.av-${hashString(name || "") % AVATAR_COLORS}${size ? "." + size : ""}`, {
    "aria-hidden": "true",
  }, label);
  if (online !== undefined) {
    el.appendChild(h(`span.presence-dot${online ? ".online" : ""}`));
  }
  return el;
}

// ---- formatting ----------------------------------------------------------------------------

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long", day: "numeric" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const shortDateFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export const formatTime = (d) => timeFmt.format(d);
export const formatFull = (d) => fullFmt.format(d);

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

export function dayKey(d) {
  return startOfDay(d);
}

export function formatDay(d) {
  const today = startOfDay(new Date());
  const day = startOfDay(d);
  if (day === today) return "Today";
  if (today - day === 86400000) return "Yesterday";
  return d.getFullYear() === new Date().getFullYear() ? dayFmt.format(d) : dayYearFmt.format(d);
}

/** "just now", "5 min ago", "3 h ago", "yesterday", "Mar 3". */
export function formatAgo(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const s = (Date.now() - d.getTime()) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400 && startOfDay(d) === startOfDay(new Date())) return `${Math.floor(s / 3600)} h ago`;
  if (startOfDay(new Date()) - startOfDay(d) === 86400000) return `yesterday at ${timeFmt.format(d)}`;
  return shortDateFmt.format(d);
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// ---- toasts --------------------------------------------------------------------------------

export function toast(message, kind = "info", ms = 4000) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = h(`div.toast.toast-${kind}`, { role: kind === "error" ? "alert" : "status" }, message);
  box.appendChild(el);
  setTimeout(() => el.classList.add("leaving"), ms);
  setTimeout(() => el.remove(), ms + 400);
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
