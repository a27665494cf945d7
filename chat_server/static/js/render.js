// Message bodies. The only HTML this client ever parses is a message's `contentHtml`, which
// the server rendered from markdown and sanitised with an allow-list (nh3). It is parsed
// in an inert <template> (no scripts run, nothing loads) and checked again against the
// same allow-list before it is attached, so a server bug cannot become an XSS here.
// Everything else - `content`, names, file names - is set with textContent.

import { h, icon, formatSize } from "./dom.js";

const ALLOWED_TAGS = new Set([
  "P", "BR", "STRONG", "EM", "DEL", "S", "CODE", "PRE", "BLOCKQUOTE", "UL", "OL", "LI", "A",
  "H1", "H2", "H3", "H4", "H5", "H6", "HR", "TABLE", "THEAD", "TBODY", "TR", "TH", "TD",
]);
const ALLOWED_ATTRS = { A: ["href", "title"], OL: ["start"], TH: ["align"], TD: ["align"] };
const SAFE_URL = /^(https?:|mailto:)/i;

function clean(node) {
  for (const child of [...node.childNodes]) {
    if (child.nodeType === Node.TEXT_NODE) continue;
    if (child.nodeType !== Node.ELEMENT_NODE || !ALLOWED_TAGS.has(child.tagName)) {
      // Unknown element or comment: keep only its text.
      if (child.nodeType === Node.ELEMENT_NODE) {
        child.replaceWith(document.createTextNode(child.textContent || ""));
      } else {
        child.remove();
      }
      continue;
    }
    const allowed = ALLOWED_ATTRS[child.tagName] || [];
    for (const attr of [...child.attributes]) {
      if (!allowed.includes(attr.name)) child.removeAttribute(attr.name);
    }
    if (child.tagName === "A") {
      const href = child.getAttribute("href");
      if (href !== null && !SAFE_URL.test(href.trim())) child.removeAttribute("href");
      if (child.hasAttribute("href")) {
        child.setAttribute("target", "_blank");
        child.setAttribute("rel", "noopener noreferrer nofollow");
      }
    }
    clean(child);
  }
}

/** A DocumentFragment for a message's text: sanitised contentHtml, or plain content. */
export function messageText(message) {
  if (typeof message.contentHtml === "string" && message.contentHtml) {
    const tpl = document.createElement("template");
    tpl.innerHTML = message.contentHtml;
    clean(tpl.content);
    // Markdown that sanitises to nothing (e.g. only an image): show the text as written.
    if (tpl.content.textContent.trim() || !(message.content || "").trim()) return tpl.content;
  }
  const frag = document.createDocumentFragment();
  if (message.content) frag.appendChild(h("p.plain", null, message.content));
  return frag;
}

// How big an inline image is drawn at most (CSS scales it down further on small screens).
const THUMB_MAX_W = 320;
const THUMB_MAX_H = 240;

function sameOrigin(url) {
  return typeof url === "string" && url.startsWith("/api/files/");
}

function isImage(file) {
  return file && /^image\//.test(file.mimeType || "");
}

/** The attachment of a message: an inline image (click for full size) or a download chip. */
export function attachment(message, onOpenImage) {
  // Files are only ever served by this app, under /api/files/: anything else is ignored.
  const file = message.file && sameOrigin(message.file.url) ? message.file : null;
  if (file && file.thumbnailUrl && !sameOrigin(file.thumbnailUrl)) file.thumbnailUrl = null;
  if (!file) {
    if (message.messageType === "image" || message.messageType === "file") {
      return h("div.file-chip.missing", null, icon("file"), h("span", null, "Attachment unavailable"));
    }
    return null;
  }
  if (isImage(file)) {
    const props = {
      src: file.thumbnailUrl || file.url,
      alt: file.name || "image",
      loading: "lazy",
      decoding: "async",
      className: "inline-image",
    };
    if (file.width && file.height) {
      const scale = Math.min(1, THUMB_MAX_W / file.width, THUMB_MAX_H / file.height);
      props.width = Math.max(1, Math.round(file.width * scale));
      props.height = Math.max(1, Math.round(file.height * scale));
    }
    return h(
      "button.image-link",
      { type: "button", title: `${file.name} - click for full size`, onclick: () => onOpenImage(file) },
      h("img", props),
    );
  }
  return h(
    "a.file-chip",
    { href: file.url, download: file.name || "", title: `Download ${file.name}` },
    h("span.file-icon", null, icon("file")),
    h("span.file-info", null, h("span.file-name", null, file.name || "file"),
      h("span.file-size", null, `${fileKind(file)} · ${formatSize(file.size || 0)}`)),
    h("span.file-download", null, icon("download")),
  );
}

const KINDS = { "application/pdf": "PDF", "text/plain": "Text", "image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF" };

function fileKind(file) {
  return KINDS[file.mimeType] || (file.name || "").split(".").pop().toUpperCase() || "File";
}

/** Whether the text of a file message is worth showing (not just the file's own name). */
export function hasCaption(message) {
  const text = (message.content || "").trim();
  return text !== "" && !(message.file && text === message.file.name);
}
