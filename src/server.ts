// Composition root: config → database → services → express app → listening HTTP server.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { CONNECTIONS_CHECKING_INTERVAL_MS, guardSockets } from "./http/sockets.js";
import type { AddressInfo } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { routeTables } from "./api/index.js";
import { loadRegistrations } from "./config/appservices.js";
import type { Config } from "./config/schema.js";
import { cors } from "./http/cors.js";
import { MatrixError, unrecognized } from "./http/errors.js";
import { Router, renderError, sendJson } from "./http/route.js";
import { mountWebClient } from "./http/web-client.js";
import { createLogger } from "./log.js";
import { Metrics } from "./metrics.js";
import { createServices, type Services } from "./services/index.js";
import { createDb, type Db } from "./store/db.js";
import { startEmbeddedPostgres, type EmbeddedHandle } from "./store/embedded.js";
import { migrate } from "./store/migrate.js";
import { attachWebSocket, type WsHandle } from "./ws/server.js";

export interface Homeserver {
  /** Base URL the server listens on, e.g. http://127.0.0.1:8008 */
  url: string;
  port: number;
  services: Services;
  log: Logger;
  ws: WsHandle;
  /** Graceful stop: no new connections, in-flight requests finish, then the pool and Postgres close. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** How long in-flight requests may take to finish on close before connections are cut. */
  shutdownGraceMs?: number;
}

export async function startHomeserver(config: Config, opts: StartOptions = {}): Promise<Homeserver> {
  const log = opts.log ?? createLogger(config);
  // Application service registrations are checked before anything starts (a bad one is a
  // config error: exit code 2 and no database left running).
  loadRegistrations(config.appservices.registration_files);
  let embedded: EmbeddedHandle | null = null;
  let dbUrl = config.database.url;
  if (!dbUrl) {
    embedded = await startEmbeddedPostgres(config.database.data_dir, config.database.port, log);
    dbUrl = embedded.url;
  }
  const db = createDb(dbUrl, config.database.pool_size, config.database.statement_timeout_ms, log.child({ module: "db" }));
  try {
    const applied = await migrate(db);
    if (applied.length) log.info({ applied }, "database migrations applied");
  } catch (e) {
    await db.destroy();
    await embedded?.stop();
    throw e;
  }

  const services = await createServices(config, db, log);
  const metrics = new Metrics(db);
  metrics.watchWriter(services.writer.stats);
  metrics.watchAppservices(() => services.delivery.stats());
  const app = buildApp(config, services, metrics, log, db);
  const server = createServer({ connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS }, app);
  const trustFn = app.get("trust proxy fn") as (addr: string, i: number) => boolean;
  guardSockets(server, config, log, (addr) => trustFn(addr, 0));
  const ws = attachWebSocket(server, services, log);
  metrics.watchConnections(() => ({ websocket: ws.connections, waiting: services.notifier.waiting }));

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host;
  const url = `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}`;
  log.info({ url, server_name: config.server_name }, "homeserver listening");

  let closing: Promise<void> | null = null;
  return {
    url, port, services, log, ws,
    close: () => (closing ??= shutdown(server, services, ws, embedded, log, opts.shutdownGraceMs ?? 10_000)),
  };
}

function buildApp(config: Config, services: Services, metrics: Metrics, log: Logger, db: Db) {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.set("query parser", "simple");
  // Behind a reverse proxy, the client address (rate limits, device last-seen) comes from
  // X-Forwarded-For, but only from the proxies named here; never from anyone by default.
  app.set("trust proxy", config.http.trust_proxy);

  // Request id and per-request logger; the access log line has the path only (no query string,
  // which may carry an access token).
  // Request ids: a random prefix per process and a counter (no random bytes per request).
  const idPrefix = randomBytes(3).toString("hex");
  let idCounter = 0;
  app.use((req: Request, res: Response, next: NextFunction) => {
    const incoming = req.headers["x-request-id"];
    const reqId = typeof incoming === "string" && /^[\w.-]{1,64}$/.test(incoming) ? incoming : `${idPrefix}-${(idCounter++).toString(36)}`;
    const child = log.child({ reqId });
    (req as Request & { log: Logger }).log = child;
    res.setHeader("X-Request-Id", reqId);
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      child.info({ method: req.method, path: req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, "request");
    });
    next();
  });
  app.use(cors(config.http.cors_origins));

  app.get("/health", async (_req, res) => {
    try {
      await db.raw("SELECT 1");
      sendJson(res.status(200), { status: "ok" });
    } catch {
      sendJson(res.status(503), { status: "unavailable", database: "unreachable" });
    }
  });
  if (config.metrics.enabled) {
    app.get("/metrics", async (_req, res) => {
      res.setHeader("Content-Type", metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    });
  }

  const router = new Router(app, services, metrics);
  for (const table of routeTables) router.mount(table);
  mountWebClient(app, config, log);

  // Unknown path: 404 M_UNRECOGNIZED; known path, other method: 405 M_UNRECOGNIZED (spec).
  app.use((req: Request, res: Response) => {
    // Under /pushrules/ every path addresses push rules: one that names no valid scope, kind,
    // rule or attribute is a bad request (400), as the reference answers, not an unknown endpoint.
    if (/^\/_matrix\/client\/(v3|r0)\/pushrules\//.test(req.path)) {
      renderError(new MatrixError(400, "M_UNRECOGNIZED", "Not a push rule path: /pushrules/global/{kind}/{ruleId}[/enabled|/actions]"), res, (req as Request & { log: Logger }).log);
      return;
    }
    const methods = router.methodsFor(req.path);
    const err = methods.length
      ? new MatrixError(405, "M_UNRECOGNIZED", "Unrecognized request", {}, { Allow: [...methods, "OPTIONS"].join(", ") })
      : unrecognized(404);
    renderError(err, res, (req as Request & { log: Logger }).log);
  });

  // Errors thrown by express itself (a path that does not %-decode, for one).
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status;
    const e = status && status >= 400 && status < 500 ? new MatrixError(400, "M_INVALID_PARAM", "Malformed request") : err;
    renderError(e, res, (req as Request & { log?: Logger }).log ?? log);
  });
  return app;
}

async function shutdown(server: Server, services: Services, ws: WsHandle, embedded: EmbeddedHandle | null, log: Logger, graceMs: number): Promise<void> {
  log.info("shutting down: no new connections, finishing requests");
  const db = services.db;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Long-polls answer at once (with what they have) instead of holding the shutdown.
  services.shutdown.abort();
  ws.close();
  services.replicator?.close();
  const deliveryStopped = Promise.all([services.delivery.stop(), services.pushers.close()]);
  services.typing.close();
  services.presence.close();
  services.delivered.close();
  services.emailNotifier.close();
  services.notifier.wakeAll();
  // A keep-alive connection whose request finishes during the drain becomes idle; close those
  // as they appear rather than waiting for their keep-alive timeout.
  server.closeIdleConnections();
  const sweeper = setInterval(() => server.closeIdleConnections(), 50);
  const timer = setTimeout(() => {
    log.warn("requests still running after the grace period; closing their connections");
    server.closeAllConnections();
  }, graceMs);
  await closed;
  clearInterval(sweeper);
  clearTimeout(timer);
  await deliveryStopped;
  await services.tokens.flushSeen();
  services.dbHealth.stop();
  await services.bus.close();
  await db.destroy();
  if (embedded) await embedded.stop();
  log.info("shut down");
}
