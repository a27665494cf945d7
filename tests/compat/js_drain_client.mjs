// A socket.io-client v4 session with the client's default reconnection on, used by
// tests/compat/test_node_drain.py to check that a graceful shutdown (docs/contract.md §7) moves a
// standard JS client to another server by itself. Prints one JSON object per line.
//
// Environment: CHAT_URL, CHAT_TOKEN, CHAT_TIMEOUT_MS (default 20000).
import { io } from "socket.io-client";

const env = process.env;
const timeoutMs = Number(env.CHAT_TIMEOUT_MS || 20000);
const emit = (event, data = {}) => process.stdout.write(JSON.stringify({ event, ...data }) + "\n");

const socket = io(`${env.CHAT_URL}/chat`, {
  auth: { token: env.CHAT_TOKEN },
  transports: ["websocket"],
  reconnectionDelay: 200,
  reconnectionDelayMax: 1000,
});

let connects = 0;
setTimeout(() => {
  emit("timeout");
  process.exit(2);
}, timeoutMs).unref();

socket.on("connect", () => {
  connects += 1;
  emit("connected", { count: connects });
  if (connects === 2) {
    socket.close();
    setImmediate(() => process.exit(0));
  }
});
socket.on("server_shutdown", (payload) => emit("server_shutdown", payload));
socket.on("disconnect", (reason) => emit("disconnect", { reason }));
socket.on("connect_error", (err) => emit("connect_error", { message: err.message }));
