// File uploads: checks before sending, progress, cancel and retry, and what they post.
//
// Owns: `state.uploads` (one job per file: progress or error), the upload list above the
// composer (#uploads), the attach button, and drag-and-drop over the conversation. A
// finished upload becomes a message through outbox.enqueue.
// Must not: render messages or send anything but the file itself.

import { upload } from "./api.js";
import { h, $, setChildren, icon, formatSize, uuid } from "./dom.js";
import { MAX_UPLOAD_BYTES, UPLOAD_TYPES } from "./config.js";
import { state, render, activeChat } from "./state.js";
import { enqueue } from "./outbox.js";

function checkFile(file) {
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  const types = UPLOAD_TYPES[ext];
  if (!types || (file.type && !types.includes(file.type))) {
    return `${file.name}: only JPEG, PNG, GIF, PDF and plain-text files can be shared.`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.size > MAX_UPLOAD_BYTES) {
    return `${file.name} is too large (${formatSize(file.size)}); the limit is ${formatSize(MAX_UPLOAD_BYTES)}.`;
  }
  return null;
}

export function startUploads(files) {
  const chat = activeChat();
  if (!chat) return;
  for (const file of files) {
    const problem = checkFile(file);
    const job = { id: uuid(), name: file.name, size: file.size, progress: 0, error: problem, chatKey: chat.key, file };
    state.uploads.push(job);
    if (!problem) runUpload(job);
  }
  render("uploads");
}

function removeJob(job) {
  state.uploads = state.uploads.filter((j) => j !== job);
  render("uploads");
}

function runUpload(job) {
  job.error = null;
  job.progress = 0;
  const { promise, abort } = upload(job.file, (p) => {
    job.progress = p;
    render("uploads");
  });
  job.abort = abort;
  promise.then((file) => {
    removeJob(job);
    const chat = state.chats.get(job.chatKey);
    if (!chat) return;
    const isImage = /^image\//.test(file.mimeType || "");
    enqueue(chat, { content: "", messageType: isImage ? "image" : "file", fileId: file.id, file });
  }, (err) => {
    if (err.code === "aborted") {
      removeJob(job);
      return;
    }
    job.error = err.status === 0 ? `${job.name}: upload failed (no connection).` : `${job.name}: ${err.message}`;
    job.retryable = err.status === 0 || err.status >= 500 || err.status === 429;
    render("uploads");
  });
}

export function renderUploads() {
  const box = $("#uploads");
  const chat = activeChat();
  const jobs = state.uploads.filter((j) => chat && j.chatKey === chat.key);
  setChildren(box, jobs.map((job) => h(`div.upload${job.error ? ".error" : ""}`, { dataset: { name: job.name } },
    h("span.upload-icon", null, icon(job.error ? "alert" : "file")),
    h("span.upload-text", null,
      h("span.upload-name", null, job.error ? job.error : `${job.name} · ${formatSize(job.size)}`),
      job.error ? null : h("progress", { max: "100", value: String(Math.round(job.progress * 100)) })),
    job.error && job.retryable ? h("button.link", { type: "button", onclick: () => { runUpload(job); render("uploads"); } }, "Retry") : null,
    h("button.icon-btn.small", {
      type: "button", title: job.error ? "Dismiss" : "Cancel upload",
      onclick: () => {
        if (!job.error && job.abort) job.abort();
        removeJob(job);
      },
    }, icon("x")))));
  // The list scrolls when long (app.css): keep the newest entry in sight.
  box.scrollTop = box.scrollHeight;
}

export function wireUploads() {
  $("#attach-btn").addEventListener("click", () => $("#file-input").click());
  $("#file-input").addEventListener("change", (e) => {
    startUploads([...e.target.files]);
    e.target.value = "";
  });
  // Drag and drop anywhere over the conversation.
  const conv = $("#conversation");
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
  conv.addEventListener("dragenter", (e) => {
    if (!hasFiles(e) || !activeChat()) return;
    e.preventDefault();
    depth += 1;
    $("#drop-overlay").hidden = false;
  });
  conv.addEventListener("dragover", (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  conv.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) $("#drop-overlay").hidden = true;
  });
  conv.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    $("#drop-overlay").hidden = true;
    startUploads([...e.dataTransfer.files]);
  });
}
