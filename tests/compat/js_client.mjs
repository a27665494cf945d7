// A socket.io-client v4 (the JavaScript client from npm) session against the chat server,
// driven by tests/compat/test_node_client.py. It prints one JSON object per line on stdout
// for the Python side to read, and exits 0 when its scenario is complete.
//
// Environment:
//   CHAT_URL         server base URL (the client connects to `${CHAT_URL}/chat`)
//   CHAT_MODE        "chat" (default), "bad_token", "authenticate_event" or "protocol"
//                    (the server's replies: `authenticated` on connect, `error` for a failed
//                    event without ack, a lone surrogate refused in the ack)
//   CHAT_TOKEN       access token
//   CHAT_ROOM        room id to send to
//   CHAT_SEND        content this client sends once connected
//   CHAT_EXPECT      content it waits to receive as `new_message` before exiting
//   CHAT_TRANSPORTS  comma-separated, default "websocket"
//   CHAT_TIMEOUT_MS  give up (exit 2) after this long, default 15000
import { io } from "socket.io-client";

const env = process.env;
const url = `${env.CHAT_URL}/chat`;
const mode = env.CHAT_MODE || "chat";
const transports = (env.CHAT_TRANSPORTS || "websocket").split(",");
const timeoutMs = Number(env.CHAT_TIMEOUT_MS || 15000);

function emit(event, data = {}) {
  process.stdout.write(JSON.stringify({ event, ...data }) + "\n");
}

function finish(socket, code) {
  socket.close();
  // Let stdout drain before exiting.
  setImmediate(() => process.exit(code));
}

const socket = io(url, {
  auth: mode === "authenticate_event" ? {} : { token: env.CHAT_TOKEN },
  transports,
  reconnection: false,
  timeout: timeoutMs,
});

setTimeout(() => {
  emit("timeout");
  finish(socket, 2);
}, timeoutMs).unref();

socket.on("connect_error", (err) => {
  emit("connect_error", { message: err.message, data: err.data ?? null });
  finish(socket, mode === "bad_token" ? 0 : 1);
});

socket.on("disconnect", (reason) => emit("disconnect", { reason }));

// Listeners registered before connecting: the server may send these before `connect` fires
// (socket.io-client buffers them and delivers them first).
const authenticatedOnConnect = new Promise((resolve) => socket.once("authenticated", resolve));
const errors = [];
let errorArrived = () => {};
socket.on("error", (data) => {
  emit("error_event", { data });
  errors.push(data);
  errorArrived();
});
function nextError(count) {
  return new Promise((resolve) => {
    errorArrived = () => errors.length >= count && resolve(errors[count - 1]);
    errorArrived();
  });
}

async function protocolScenario() {
  // Added in the `connect` handler (where clients of the seed's flow put their listeners):
  // it must still see `authenticated`, so the server sends it after the CONNECT packet.
  const authenticatedLate = new Promise((resolve) => socket.once("authenticated", resolve));
  emit("authenticated", { data: await authenticatedOnConnect });
  emit("authenticated_late", { data: await authenticatedLate });
  // A failing event without an ack callback: answered with an `error` event.
  socket.emit("send_message", { roomId: "nope", content: "x" });
  await nextError(1);
  // Half an emoji (what cutting a JS string at a UTF-16 index produces), with an ack.
  const broken = await socket.timeout(timeoutMs).emitWithAck("send_message", {
    roomId: env.CHAT_ROOM,
    content: "broken \ud83d",
  });
  emit("surrogate_ack", { ack: broken });
  // The same without an ack.
  socket.emit("send_message", { roomId: env.CHAT_ROOM, content: "\ud83d" });
  await nextError(2);
  finish(socket, 0);
}

// Done when our own send was acked and the expected message from the other side arrived.
let sent = false;
let received = !env.CHAT_EXPECT;
function maybeDone() {
  if (sent && received) finish(socket, 0);
}

socket.on("new_message", (payload) => {
  emit("new_message", { message: payload.message });
  if (payload.message.content === env.CHAT_EXPECT) {
    received = true;
    maybeDone();
  }
});

socket.on("connect", async () => {
  emit("connected", { id: socket.id, transport: socket.io.engine.transport.name });
  if (mode === "bad_token") {
    finish(socket, 1); // must not happen
    return;
  }
  if (mode === "protocol") {
    await protocolScenario();
    return;
  }
  if (mode === "authenticate_event") {
    const authenticated = new Promise((resolve) => socket.once("authenticated", resolve));
    const ack = await socket.timeout(timeoutMs).emitWithAck("authenticate", { token: env.CHAT_TOKEN });
    emit("authenticate_ack", { ack, authenticated: await authenticated });
  }
  const ack = await socket.timeout(timeoutMs).emitWithAck("send_message", {
    roomId: env.CHAT_ROOM,
    content: env.CHAT_SEND,
    clientMsgId: `js-${socket.id}`,
  });
  emit("ack", { ack });
  const unknown = await socket.timeout(timeoutMs).emitWithAck("no_such_event", {});
  emit("unknown_event_ack", { ack: unknown });
  sent = true;
  maybeDone();
});
