// The connection banner: shown while disconnected, with how many messages wait.
//
// Owns: drawing #banner and body[data-connection] from the store's connection flags.
// Must not: change the connection (its "Retry now" asks socket.js).

import { h, $, setChildren } from "../dom.js";
import { state, render } from "../state.js";
import { retryNow } from "../socket.js";

// A blip shorter than this (a quick reconnect) does not flash the banner.
const BANNER_DELAY_MS = 700;
let bannerTimer = null;

export function renderBanner() {
  const banner = $("#banner");
  const down = !!state.me && !state.connected && (state.everConnected || state.retries > 0 || state.connectSlow);
  if (!down) state.downSince = null;
  else if (!state.downSince) state.downSince = Date.now();
  const waited = down ? Date.now() - state.downSince : 0;
  if (down && waited < BANNER_DELAY_MS) {
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => render("banner"), BANNER_DELAY_MS - waited + 10);
  }
  const show = down && waited >= BANNER_DELAY_MS;
  document.body.dataset.connection = state.connected ? "online" : "offline";
  banner.hidden = !show;
  if (!show) return;
  const waiting = state.outbox.filter((i) => i.state !== "failed").length;
  const text = state.shutdownNotice ? "The server is restarting. Reconnecting…"
    : state.everConnected ? "Connection lost. Reconnecting…" : "Connecting…";
  setChildren(banner, h("span.spinner"), h("span", null, text),
    waiting ? h("span.banner-sub", null, `${waiting} message${waiting === 1 ? "" : "s"} will be sent when you're back online.`) : null,
    h("button.link", { type: "button", onclick: retryNow }, "Retry now"));
}
