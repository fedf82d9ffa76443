// The WebSocket extension's endpoint: GET /_matrix/client/unstable/org.ganglion.ws/v1/stream
// upgraded to a WebSocket (docs/websocket.md). Authentication comes from the Authorization
// header of the upgrade request (a bad token is refused with the HTTP 401 of the API), or,
// for browsers that cannot set headers, from a first `auth` frame.
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import { MatrixError, unrecognized } from "../http/errors.js";
import type { Services } from "../services/index.js";
import type { Requester } from "../services/tokens.js";
import { WsConnection } from "./connection.js";
import { CLOSE } from "./params.js";

const ignore = () => undefined;

export const WS_PATH = "/_matrix/client/unstable/org.ganglion.ws/v1/stream";

export interface WsHandle {
  readonly connections: number;
  close(): void;
}

/** Answers an upgrade request with a plain HTTP error (the Matrix error body). */
function refuse(socket: Duplex, err: MatrixError): void {
  const body = JSON.stringify(err.toJSON());
  const reason = { 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests", 503: "Service Unavailable" }[err.status] ?? "Error";
  socket.end(`HTTP/1.1 ${err.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * The upgrade's callback, made outside the request's scope so that an open connection keeps
 * nothing of its upgrade request alive (a few KiB per socket, with 10,000 of them).
 */
function adopt(conns: Map<WebSocket, WsConnection>, byUser: Map<string, WsConnection[]>, s: Services, ip: string, log: Logger, auth: { user: Requester; token: string } | null) {
  return (ws: WebSocket) => {
    const conn = new WsConnection(ws, s, ip, log, auth);
    conns.set(ws, conn);
    let user: string | null = null;
    ws.on("close", () => {
      conns.delete(ws);
      const list = user ? byUser.get(user) : undefined;
      const i = list ? list.indexOf(conn) : -1;
      if (i >= 0) { list!.splice(i, 1); if (!list!.length) byUser.delete(user!); }
    });
    conn.onAuthenticated = () => {
      user = conn.userId!;
      const list = byUser.get(user) ?? [];
      byUser.set(user, list);
      list.push(conn);
      limitSockets(list, s.config.websocket.max_sockets_per_user);
    };
    if (auth) conn.onAuthenticated();
  };
}

/**
 * At most `max` sockets per user in this process: a new one closes the user's oldest (4009),
 * rather than being refused, so a client reconnecting while its old socket is not yet known
 * to be dead is never locked out.
 */
function limitSockets(mine: WsConnection[], max: number): void {
  if (max <= 0 || mine.length <= max) return;
  for (const old of mine.splice(0, mine.length - max)) old.close(CLOSE.TOO_MANY, "too many sockets for this user: the oldest is closed");
}

export function attachWebSocket(server: Server, s: Services, log: Logger): WsHandle {
  const cfg = s.config.websocket;
  const wss = new WebSocketServer({ noServer: true, maxPayload: s.config.http.max_body_bytes });
  const conns = new Map<WebSocket, WsConnection>();
  const byUser = new Map<string, WsConnection[]>();
  const wlog = log.child({ module: "ws" });
  // A revocation (logout, password change, deactivation, here or on another process) checks
  // the user's connections at once.
  s.tokens.onForget((userId) => {
    for (const conn of conns.values()) if (conn.userId === userId) conn.recheck();
  });

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A function of no scope: a closure made here would keep this scope, the upgrade request
    // with it, alive as long as the socket (a few KiB per socket, with 10,000 of them).
    socket.on("error", ignore);
    void (async () => {
      const path = (req.url ?? "").split("?")[0];
      if (!cfg.enabled || path !== WS_PATH || req.method !== "GET") return refuse(socket, unrecognized(404));
      const ip = req.socket.remoteAddress ?? "unknown";
      let auth: { user: Requester; token: string } | null = null;
      const header = req.headers.authorization;
      if (header !== undefined) {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
        if (!m) return refuse(socket, new MatrixError(401, "M_MISSING_TOKEN", "Invalid Authorization header"));
        try {
          auth = { user: await s.tokens.authenticate(m[1]!, ip), token: m[1]! };
        } catch (e) {
          if (e instanceof MatrixError) return refuse(socket, e);
          wlog.warn({ err: (e as Error).message }, "websocket authentication failed");
          return refuse(socket, new MatrixError(503, "M_UNKNOWN", "Try again shortly"));
        }
      }
      if (s.shutdown.signal.aborted) return refuse(socket, new MatrixError(503, "M_UNKNOWN", "The server is stopping"));
      wss.handleUpgrade(req, socket, head, adopt(conns, byUser, s, ip, wlog, auth));
    })();
  });

  // One timer for every connection: a peer that did not answer the last ping is dropped.
  const heartbeat = setInterval(() => {
    for (const [ws, conn] of conns) {
      if (!conn.alive) {
        ws.terminate();
        continue;
      }
      conn.alive = false;
      ws.ping();
    }
  }, cfg.ping_interval_ms);
  heartbeat.unref();
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const conn of conns.values()) conn.sweep(now);
  }, Math.max(100, Math.min(1000, Math.floor(cfg.slow_timeout_ms / 4))));
  sweeper.unref();

  return {
    get connections() { return conns.size; },
    close() {
      clearInterval(heartbeat);
      clearInterval(sweeper);
      for (const conn of conns.values()) conn.close(CLOSE.GOING_AWAY, "server shutting down");
      wss.close();
    },
  };
}
