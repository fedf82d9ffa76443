// defineRoutes/mountRoutes: how a route file declares its endpoints, and the one wrapper that
// reads the body, authenticates, validates, rate-limits, calls the handler and renders errors.
import { randomBytes } from "node:crypto";
import { Throttled } from "../log-throttle.js";
import { stringifyJson } from "../matrix/raw-json.js";
import type { Express, Request, Response } from "express";
import type { Logger } from "pino";
import type { ValidateFunction } from "ajv";
import type { Services } from "../services/index.js";
import type { Requester } from "../services/tokens.js";
import { MatrixError, databaseAway, notJson } from "./errors.js";
import { extractAccessToken, missingToken } from "./auth.js";
import { compile, schemaError, type Schema } from "./validate.js";
import type { Action } from "./action-limits.js";
import type { Metrics } from "../metrics.js";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface Ctx<B> {
  req: Request;
  res: Response;
  /** The authenticated user (null only on routes with auth "none" or "optional"). */
  user: Requester;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: B;
  ip: string;
  log: Logger;
}

/** A response other than 200 + JSON. */
export class Reply {
  constructor(readonly status: number, readonly body: unknown, readonly headers: Record<string, string> = {}) {}
}

export interface RouteDef<B = any> {
  method: Method;
  /** The full path as the spec writes it, with :params. `/_matrix/client/v3/…` and `/_matrix/media/v3/…` are also served under `/r0/`. */
  path: string;
  auth: "user" | "optional" | "none";
  /** JSON body schema; omitted: the body is ignored (but must still be JSON if present). */
  body?: Schema;
  /** Allow guests (spec: guest access). Default false. */
  guest?: boolean;
  /**
   * What a shadow-banned user is answered instead (Synapse's shadow ban: the request seems to
   * succeed, nothing reaches the room): "event" a made-up event ID, "empty" {}.
   */
  shadow?: "event" | "empty";
  /** Server admins only (the /_synapse/admin API): anyone else gets 403 M_FORBIDDEN. */
  admin?: boolean;
  /** A per-user limited action (rate_limiting.per_user): sends, typing, search, history. */
  action?: Action;
  /** The body is bytes (media uploads), up to media.max_upload_bytes, handed over as a Buffer. */
  raw?: boolean;
  handler(ctx: Ctx<B>, services: Services): Promise<unknown> | unknown;
}

export type RouteTable = Record<string, RouteDef>;

export function defineRoutes<T extends RouteTable>(routes: T): T {
  return routes;
}

interface Compiled { method: Method; regex: RegExp }

/** Turns "/a/:b/c" into a regex over the raw (still %-encoded) path, for 404 vs 405. */
function pathRegex(path: string): RegExp {
  const src = path.split("/").map((seg) => (seg.startsWith(":") ? "[^/]+" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/");
  return new RegExp(`^${src}/?$`);
}

/** Each v3 path is also served under the r0 prefix it replaced (client and media APIs), as the same route. */
function expandPaths(path: string): string[] {
  for (const api of ["client", "media"]) {
    const v3 = `/_matrix/${api}/v3/`;
    if (path.startsWith(v3)) return [path, path.replace(v3, `/_matrix/${api}/r0/`)];
  }
  return [path];
}

export class Router {
  private readonly known: Compiled[] = [];

  constructor(private readonly app: Express, private readonly services: Services, private readonly metrics: Metrics) {}

  mount(table: RouteTable): void {
    for (const [name, def] of Object.entries(table)) {
      const validator = validatorFor(def);
      for (const path of expandPaths(def.path)) {
        this.known.push({ method: def.method, regex: pathRegex(path) });
        const handler = this.wrap(name, def, validator);
        const m = def.method.toLowerCase() as "get" | "post" | "put" | "delete";
        this.app[m](path, handler);
      }
    }
  }

  /** The methods served at a path (for 405 and its Allow header); empty: unknown path. */
  methodsFor(path: string): Method[] {
    return [...new Set(this.known.filter((k) => k.regex.test(path)).map((k) => k.method))];
  }

  private wrap(name: string, def: RouteDef, validator: ValidateFunction<unknown> | null) {
    const services = this.services;
    const metrics = this.metrics;
    const maxBody = services.config.http.max_body_bytes;
    return async (req: Request, res: Response): Promise<void> => {
      const started = process.hrtime.bigint();
      const log = (req as Request & { log: Logger }).log;
      let status = 500;
      try {
        const ip = req.ip ?? req.socket.remoteAddress ?? "unknown";
        let user: Requester | null = null;
        if (def.auth !== "none") {
          const token = extractAccessToken(req);
          if (token) {
            // Identity assertion (application services): ?user_id= and ?device_id=.
            const q = req.query as Record<string, unknown>;
            // The device: `device_id` (spec), or MSC3202's name for it (matrix-bot-sdk sends it).
            const device = q.device_id ?? q["org.matrix.msc3202.device_id"];
            // Checked like every parameter (NUL, length) before they reach a lookup.
            user = await services.tokens.authenticate(token, ip, {
              userId: typeof q.user_id === "string" ? checkParam("user_id", q.user_id) : undefined,
              deviceId: typeof device === "string" ? checkParam("device_id", device) : undefined,
            }, userAgentOf(req.headers["user-agent"]));
          }
          else if (def.auth === "user") throw missingToken();
        }
        let body: unknown = undefined;
        if (def.raw) {
          body = await readBody(req, services.config.media.max_upload_bytes);
        } else if (def.method !== "GET") {
          body = parseJsonBody(await readBody(req, maxBody));
          if (body === undefined) body = {}; // an empty body is an empty object (spec: logout)
        }
        const query: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.query)) query[k] = Array.isArray(v) ? String(v[0]) : typeof v === "string" ? v : undefined;
        const out = await invoke(def, validator, services, { req, res, user, params: req.params as Record<string, string>, query, body, ip, log });
        if (res.headersSent) {
          status = res.statusCode;
          return;
        }
        if (out instanceof Reply) {
          status = out.status;
          res.status(out.status).set(out.headers);
          sendJson(res, out.body);
        } else {
          status = 200;
          res.status(200);
          sendJson(res, out ?? {});
        }
      } catch (err) {
        status = renderError(err, res, log);
        if (isDatabaseUnavailable(err)) services.dbHealth.report();
      } finally {
        metrics.observeRequest(def.method, name, status, Number(process.hrtime.bigint() - started) / 1e9);
      }
    };
  }
}

/** What a route is called with, from HTTP or from the WebSocket. */
export interface Invocation {
  req: Request;
  res: Response;
  user: Requester | null;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  /** Parsed JSON (undefined for GET). */
  body: unknown;
  ip: string;
  log: Logger;
}

/**
 * Runs a route's checks and handler for an authenticated (or anonymous) caller: guest access,
 * the per-user rate limit, NUL and schema checks on the body, parameter limits. The HTTP
 * wrapper and the WebSocket commands both come through here, so a command gets exactly the
 * validation, auth rules and errcodes of its HTTP endpoint.
 */
export async function invoke(def: RouteDef, validator: ValidateFunction<unknown> | null, services: Services, inv: Invocation): Promise<unknown> {
  const user = inv.user;
  // A locked account (admin API) may only log out (spec: account locking).
  if (user?.locked && !/\/logout(\/all)?$/.test(def.path)) throw new MatrixError(401, "M_USER_LOCKED", "This account has been locked", { soft_logout: true });
  if (def.admin && !user?.isAdmin) throw new MatrixError(403, "M_FORBIDDEN", "You are not a server admin");
  if (user?.isGuest && !def.guest) {
    throw new MatrixError(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is not allowed on this endpoint");
  }
  // Application services registered with rate_limited: false are exempt (spec: registration).
  if (user && !(user.appserviceId && services.appservices.get(user.appserviceId)?.rate_limited === false)) {
    // An admin's override for this user replaces the request limit; 0 and 0 lifts every limit.
    const o = services.limits.overrides.get(user.userId);
    if (!o || o.messages_per_second > 0 || o.burst_count > 0) {
      services.limits.requests.take(`user:${user.userId}`, o ? { per_second: Math.max(o.messages_per_second, 0.001), burst: Math.max(o.burst_count, 1) } : undefined);
      if (def.action) await services.limits.actions.take(def.action, user.userId);
    }
  }
  if (def.method !== "GET" && !def.raw) {
    checkJson(inv.body);
    if (validator && !validator(inv.body)) throw schemaError(validator.errors);
  }
  if (def.shadow && user?.shadowBanned) return def.shadow === "event" ? { event_id: `$${randomBytes(32).toString("base64url")}` } : {};
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(inv.params)) params[k] = checkParam(k, v);
  const query: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(inv.query)) query[k] = v === undefined ? undefined : checkParam(k, v);
  return def.handler({ req: inv.req, res: inv.res, user: user as Requester, params, query, body: inv.body, ip: inv.ip, log: inv.log }, services);
}

/** The body validator of each route, compiled once and shared by HTTP and the WebSocket. */
const validators = new WeakMap<RouteDef, ValidateFunction<unknown> | null>();
export function validatorFor(def: RouteDef): ValidateFunction<unknown> | null {
  let v = validators.get(def);
  if (v === undefined) validators.set(def, (v = def.body ? compile<unknown>(def.body) : null));
  return v;
}

// Path segments hold IDs, types, keys and transaction IDs: none is legitimately this long, and
// each may end up in an index key.
const MAX_PARAM_BYTES = 1024;

function checkParam(name: string, v: string): string {
  if (v.includes("\0")) throw new MatrixError(400, "M_INVALID_PARAM", `${name} may not contain NUL`);
  if (v.length > MAX_PARAM_BYTES && Buffer.byteLength(v) > MAX_PARAM_BYTES) throw new MatrixError(400, "M_INVALID_PARAM", `${name} is too long`);
  return v;
}

/** Postgres cannot store U+0000 in text or jsonb; refuse it at the edge instead of failing later. */
// With the u flag a surrogate pair is one code point: only a lone surrogate is in category Cs.
const LONE_SURROGATE = /\p{Cs}/u;

/** How deeply JSON input may nest (events are far shallower; code that walks values recurses). */
export const MAX_JSON_DEPTH = 100;

/**
 * Why a parsed JSON value is refused, or null: nested deeper than MAX_JSON_DEPTH, or a string
 * (or key) with NUL or a lone UTF-16 surrogate (`"\ud800"`: JSON allows it, Postgres and the
 * spec's canonical JSON do not). Iterative, so no input can exhaust the stack here.
 */
export function badJson(root: unknown): string | null {
  const stack: [unknown, number][] = [[root, 0]];
  const badString = (s: string) => s.includes("\0") ? "Strings may not contain NUL (U+0000)" : LONE_SURROGATE.test(s) ? "Strings may not contain lone UTF-16 surrogates" : null;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "string") {
      const why = badString(v);
      if (why) return why;
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (depth >= MAX_JSON_DEPTH) return `JSON may not nest more than ${MAX_JSON_DEPTH} levels deep`;
    if (Array.isArray(v)) {
      for (const x of v) stack.push([x, depth + 1]);
      continue;
    }
    for (const k of Object.keys(v)) {
      const why = badString(k);
      if (why) return why;
      stack.push([(v as Record<string, unknown>)[k], depth + 1]);
    }
  }
  return null;
}

/** Throws 400 M_BAD_JSON for what badJson refuses. */
export function checkJson(v: unknown): void {
  const why = badJson(v);
  if (why) throw new MatrixError(400, "M_BAD_JSON", why);
}

export function sendJson(res: Response, body: unknown): void {
  res.setHeader("Content-Type", "application/json");
  res.end(body instanceof SharedJson ? stringifyJson(body.value) : JSON.stringify(body));
}

/** A response body holding RawJson fragments (sync): stringified with them copied in. */
export class SharedJson {
  constructor(readonly value: unknown) {}
}

/** Warnings that come in floods (an outage fails every request): one line a minute per kind. */
const repeated = new Throttled(60_000);

/** Renders any thrown value as a Matrix error; returns the status. Unknown errors are 500 M_UNKNOWN and logged once. */
export function renderError(err: unknown, res: Response, log: Logger): number {
  let e: MatrixError;
  // The client went away (an abandoned upload, say): nobody to answer, nothing wrong here.
  if (!(err instanceof MatrixError) && (!res.socket || res.socket.destroyed)) {
    log.debug({ err: loggable(err) }, "client closed the connection before the answer");
    res.destroy();
    return 499;
  }
  if (err instanceof MatrixError) e = err;
  else if (isDatabaseUnavailable(err)) {
    repeated.note(log, "database unavailable", { err: loggable(err) });
    e = databaseAway();
  } else if ((err as { code?: unknown })?.code === "23505") {
    // A unique-violation race with a concurrent request: the request may simply be repeated.
    repeated.note(log, "concurrent write conflict", { err: loggable(err) });
    e = new MatrixError(409, "M_UNKNOWN", "A concurrent request changed the same data; try again");
  } else if (/^22[0-9A-Z]{3}$/.test(String((err as { code?: unknown })?.code)) && (err as { severity?: unknown }).severity !== undefined) {
    // A Postgres data exception: a value the database cannot hold (the edge should have
    // refused it). The request's fault, not the server's; logged to find the gap.
    repeated.note(log, "a value the database refused", { err: loggable(err) });
    e = new MatrixError(400, "M_BAD_JSON", "A value in the request cannot be stored");
  } else {
    log.error({ err: loggable(err) }, "unhandled error");
    e = new MatrixError(500, "M_UNKNOWN", "Internal server error");
  }
  if (res.headersSent) {
    res.destroy();
    return e.status;
  }
  res.status(e.status).set(e.headers);
  sendJson(res, e.toJSON());
  return e.status;
}

/**
 * What of an error may be logged. A Postgres error's message, detail and context can quote
 * the statement and the values it was given (message bodies among them): only its SQLSTATE
 * and the names of what it concerns are kept.
 */
function loggable(err: unknown): unknown {
  const e = err as { code?: unknown; constraint?: unknown; table?: unknown; column?: unknown; routine?: unknown; severity?: unknown; name?: string };
  if (e && typeof e === "object" && typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) && e.severity !== undefined) {
    return { type: "PostgresError", code: e.code, constraint: e.constraint, table: e.table, column: e.column, routine: e.routine };
  }
  if (e && typeof e === "object" && typeof e.code === "string") return { type: e.name ?? "Error", code: e.code };
  return err;
}

/** Postgres unreachable, restarting, or the pool exhausted: a transient condition, not a bug. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string };
  if (!e || typeof e !== "object") return false;
  if (e.name === "KnexTimeoutError") return true;
  if (["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "53300", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08006"].includes(e.code ?? "")) return true;
  return /Connection terminated|terminating connection|the database system is (starting up|shutting down)|not currently accepting connections/i.test(e.message ?? "");
}

/** Reads the request body up to `max` bytes; more is 413 M_TOO_LARGE without reading it all. */
export async function readBody(req: Request, max: number): Promise<Buffer> {
  // The rest of an oversized body is not read: close the connection after answering.
  const tooBig = () => new MatrixError(413, "M_TOO_LARGE", `Request body exceeds ${max} bytes`, {}, { Connection: "close" });
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > max) throw tooBig();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooBig();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON body: empty → undefined; not JSON → 400 M_NOT_JSON. */
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function parseJsonBody(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  let text: string;
  try {
    text = utf8.decode(buf); // invalid UTF-8 is refused, not silently replaced
  } catch {
    throw new MatrixError(400, "M_NOT_JSON", "The body is not valid UTF-8");
  }
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw notJson();
  }
}

/**
 * The User-Agent kept as a device's last seen (whois): the first 512 characters, without
 * control characters (a header may carry up to the server's header limit).
 */
export function userAgentOf(h: string | string[] | undefined): string | null {
  if (typeof h !== "string" || h.length === 0) return null;
  return h.slice(0, 512).replace(/[\u0000-\u001f\u007f]/g, "");
}

