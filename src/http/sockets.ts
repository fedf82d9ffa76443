// What happens to a connection before the app sees a request: timeouts for clients that stop
// mid-headers or mid-body, a cap on connections from one address, and Matrix JSON (not an
// empty body) for the errors Node answers itself (oversized headers, broken framing).
// docs/operations.md lists the limits.
import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import { Throttled } from "../log-throttle.js";

/** Node checks the two timeouts this often (an option of createServer). */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;

/** `trusted` says whether an address is a trusted proxy (express's compiled trust proxy setting). */
export function guardSockets(server: Server, config: Config, log: Logger, trusted: (addr: string) => boolean = () => false): void {
  const h = config.http;
  // The whole request (headers and body) must arrive in time; the response may take as long
  // as it needs (a long-poll waits with its request long received).
  server.headersTimeout = h.headers_timeout_ms;
  server.requestTimeout = h.request_timeout_ms;
  // Idle keep-alive sockets are cheap; a client's next request usually follows within a minute.
  server.keepAliveTimeout = 65_000;

  const warn = new Throttled(60_000);
  const cap = h.max_connections_per_address;
  if (cap > 0) {
    const open = new Map<string, number>();
    server.on("connection", (socket: Socket) => {
      const addr = socket.remoteAddress ?? "";
      // Loopback and trusted proxies speak for many clients: not capped.
      if (exempt(addr) || trusted(addr)) return;
      const n = (open.get(addr) ?? 0) + 1;
      if (n > cap) {
        warn.note(log, "connection cap reached for an address", { cap });
        socket.destroy();
        return;
      }
      open.set(addr, n);
      socket.once("close", () => {
        const left = (open.get(addr) ?? 1) - 1;
        if (left <= 0) open.delete(addr);
        else open.set(addr, left);
      });
    });
  }

  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? "unknown";
    // A response already under way cannot be replaced by another.
    const res = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (code === "ECONNRESET" || code === "EPIPE" || !socket.writable || res?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, reason, errcode, error] =
      code === "HPE_HEADER_OVERFLOW" ? [431, "Request Header Fields Too Large", "M_TOO_LARGE", "The request's headers are too large"]
      : code === "ERR_HTTP_REQUEST_TIMEOUT" ? [408, "Request Timeout", "M_UNKNOWN", "The request did not arrive in time"]
      : [400, "Bad Request", "M_UNKNOWN", "Malformed HTTP request"];
    warn.note(log, "malformed or incomplete HTTP request", { code, status });
    const body = JSON.stringify({ errcode, error });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}

function exempt(addr: string): boolean {
  const a = addr.startsWith("::ffff:") ? addr.slice(7) : addr;
  return a === "::1" || a === "127.0.0.1";
}
