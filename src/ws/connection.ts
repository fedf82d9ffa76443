// One WebSocket connection of the extension (docs/websocket.md): authentication, commands,
// and the sync subscription that pushes each change as a /sync-shaped frame.
//
// Backpressure: at most one sync frame is in flight. The next one is computed only when the
// previous one has been handed to the socket, so changes that happen meanwhile are coalesced
// into one catch-up frame (it is computed from the last token, like a /sync). A peer that takes
// no frame for `slow_timeout_ms`, or lets unsent data pass `max_buffered_bytes`, is closed with
// 4008 and resumes with `since`: the server never buffers without bound.
import { Throttled } from "../log-throttle.js";
import type { Logger } from "pino";
import type { WebSocket } from "ws";
import { parseSlidingRequest, type SlidingRequest } from "../services/sliding-request.js";
import { syncOptions, type SyncParams } from "../api/client/sync.js";
import { MatrixError } from "../http/errors.js";
import { checkJson, invoke, validatorFor } from "../http/route.js";
import { schemaError } from "../http/validate.js";
import { ackParams, authParams, CLOSE, syncParams, validatorOf } from "./params.js";
import { wake } from "./wake-queue.js";
import { parseToken, type StreamToken } from "../matrix/tokens.js";
import { stringifyJson } from "../matrix/raw-json.js";
import type { Services } from "../services/index.js";
import { isEmpty, type SyncOptions } from "../services/sync-shape.js";
import { quickText } from "../services/sync-quick.js";
import type { Requester } from "../services/tokens.js";
import { COMMANDS } from "./commands.js";

/** A connection's token is checked again at least this often (revocations also check it at once). */
const RECHECK_MS = 60_000;

/** Commands running at once on one connection; more get M_LIMIT_EXCEEDED. */
const MAX_IN_FLIGHT = 32;

type FrameId = string | number | null;

/** An outage fails every socket's sync at once: one line a minute, with a count. */
const syncFailures = new Throttled(60_000);

type FollowOptions = Awaited<ReturnType<typeof syncOptions>>;
interface Following { sub: AbortController; opts: FollowOptions; token: StreamToken }

export class WsConnection {
  /** Answered the last heartbeat ping. */
  alive = true;
  private user: Requester | null = null;
  private token: string | null = null;
  private inFlight = 0;
  private sub: AbortController | null = null;
  private authTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** When the token was last found valid. */
  private checkedAt = 0;

  get userId(): string | null { return this.user?.userId ?? null; }

  /** Called once the connection knows its user (the socket limit per user is checked then). */
  onAuthenticated: (() => void) | null = null;

  /** The user's tokens may have been revoked: check this connection's now (closes it if so). */
  recheck(): void {
    this.checkedAt = 0;
    if (this.user && !this.closed) void this.requester().catch(() => undefined);
  }

  constructor(
    private readonly ws: WebSocket,
    private readonly s: Services,
    private readonly ip: string,
    private readonly log: Logger,
    auth: { user: Requester; token: string } | null,
  ) {
    if (auth) {
      this.user = auth.user;
      this.token = auth.token;
      this.checkedAt = Date.now();
    } else {
      this.authTimer = setTimeout(() => this.close(CLOSE.UNAUTHENTICATED, "no authentication received in time"), s.config.websocket.auth_timeout_ms);
      this.authTimer.unref();
    }
    ws.on("message", (data, isBinary) => void this.onFrame(isBinary ? null : data.toString()));
    ws.on("pong", () => { this.alive = true; });
    ws.on("close", () => this.cleanup());
    ws.on("error", () => this.cleanup());
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.cleanup();
    this.ws.close(code, reason);
    // A peer that does not read cannot receive the close frame either: cut it after a moment.
    setTimeout(() => this.ws.terminate(), 1000).unref();
  }

  private cleanup(): void {
    this.closed = true;
    this.sub?.abort();
    this.sub = null;
    if (this.authTimer) clearTimeout(this.authTimer);
  }

  private async onFrame(text: string | null): Promise<void> {
    let id: FrameId = null;
    try {
      if (text === null) throw new MatrixError(400, "M_NOT_JSON", "Frames must be JSON text");
      let frame: unknown;
      try { frame = JSON.parse(text); } catch { throw new MatrixError(400, "M_NOT_JSON", "Frame is not JSON"); }
      if (!frame || typeof frame !== "object" || Array.isArray(frame)) throw new MatrixError(400, "M_BAD_JSON", "A frame is an object {id, method, params}");
      const f = frame as { id?: unknown; method?: unknown; params?: unknown };
      if (typeof f.id === "string" || (typeof f.id === "number" && Number.isFinite(f.id))) id = f.id;
      if (id === null || (typeof id === "string" && id.length > 255)) throw new MatrixError(400, "M_BAD_JSON", "A frame needs an id (a string of at most 255 characters, or a number)");
      if (typeof f.method !== "string") throw new MatrixError(400, "M_MISSING_PARAM", "A frame needs a method");
      const params = f.params ?? {};
      if (!params || typeof params !== "object" || Array.isArray(params)) throw new MatrixError(400, "M_BAD_JSON", "params must be an object");
      checkJson(params);
      if (this.inFlight >= MAX_IN_FLIGHT) throw new MatrixError(429, "M_LIMIT_EXCEEDED", "Too many commands in flight on this connection", { retry_after_ms: 100 });
      this.inFlight++;
      try {
        await this.dispatch(id, f.method, params as Record<string, unknown>);
      } finally {
        this.inFlight--;
      }
    } catch (e) {
      this.replyError(id, e);
    }
  }

  private async dispatch(id: FrameId, method: string, params: Record<string, unknown>): Promise<void> {
    if (method === "ping") return this.reply(id, {});
    if (method === "auth") return this.reply(id, await this.auth(params));
    if (method !== "sync" && method !== "sliding_sync" && method !== "ack" && !(method in COMMANDS)) throw new MatrixError(400, "M_UNRECOGNIZED", `Unknown method ${method}`);
    const user = await this.requester();
    if (method === "ack") return this.ack(id, user, params);
    if (method === "sync") return this.subscribe(id, user, params);
    if (method === "sliding_sync") return this.subscribeSliding(id, user, params);
    const cmd = COMMANDS[method]!;
    const v = validatorOf(method, cmd.params);
    if (!v(params)) throw schemaError(v.errors);
    const { params: routeParams, body } = cmd.map(params, user.userId);
    const out = await invoke(cmd.route, validatorFor(cmd.route), this.s, {
      req: null as never, res: null as never, user, params: routeParams, query: {}, body, ip: this.ip, log: this.log,
    });
    this.reply(id, out ?? {});
  }

  private async auth(params: Record<string, unknown>): Promise<unknown> {
    if (this.user) throw new MatrixError(400, "M_BAD_STATE", "This connection is already authenticated");
    const v = validatorOf("auth", authParams);
    if (!v(params)) throw schemaError(v.errors);
    const token = params.access_token as string;
    try {
      this.user = await this.s.tokens.authenticate(token, this.ip);
      this.checkedAt = Date.now();
    } catch (e) {
      // Refused: the error frame goes out first, then the close.
      setImmediate(() => this.close(CLOSE.UNAUTHENTICATED, "authentication failed"));
      throw e;
    }
    this.token = token;
    if (this.authTimer) clearTimeout(this.authTimer);
    this.onAuthenticated?.();
    return { user_id: this.user.userId, device_id: this.user.deviceId };
  }

  /** The connection's user, re-checked (from the token cache) so a revoked token stops working. */
  private async requester(): Promise<Requester> {
    if (!this.user || !this.token) throw new MatrixError(401, "M_MISSING_TOKEN", "Authenticate first (method auth)");
    try {
      this.user = await this.s.tokens.authenticate(this.token, this.ip);
      this.checkedAt = Date.now();
      return this.user;
    } catch (e) {
      if (e instanceof MatrixError && e.status === 401) setImmediate(() => this.close(CLOSE.UNAUTHENTICATED, "token no longer valid"));
      throw e;
    }
  }

  /**
   * `ack`: the client has applied a pushed frame (`next_batch` of a sync frame, or `pos` of a
   * sliding sync one): its events are delivered (delivered receipts, docs/delivery-receipts.md).
   */
  private ack(id: FrameId, user: Requester, params: Record<string, unknown>): void {
    const v = validatorOf("ack", ackParams);
    if (!v(params)) throw schemaError(v.errors);
    const token = (params.next_batch ?? params.pos) as string | undefined;
    if (token === undefined) throw new MatrixError(400, "M_MISSING_PARAM", "ack needs next_batch or pos");
    const t = parseToken(token, "next_batch");
    // Never past what the server has sent: a made-up token acknowledges nothing more.
    this.s.delivered.ack(user.userId, Math.min(t.pos, this.s.notifier.currentPos));
    this.reply(id, {});
  }

  /** `sync`: (re)subscribes; the answer is the first sync response, then changes are pushed. */
  private async subscribe(id: FrameId, user: Requester, params: Record<string, unknown>): Promise<void> {
    const v = validatorOf("sync", syncParams);
    if (!v(params)) throw schemaError(v.errors);
    const opts = await syncOptions(user.userId, params as SyncParams, this.s);
    this.sub?.abort();
    const sub = new AbortController();
    this.sub = sub;
    const first = await this.s.sync.sync(user, { ...opts, timeoutMs: 0, signal: sub.signal, shutdown: this.s.shutdown.signal });
    if (sub.signal.aborted) throw new MatrixError(400, "M_UNKNOWN", "Replaced by a later sync command");
    await this.send({ id, result: first });
    void this.follow(sub, { ...opts, fullState: false }, String(first.next_batch));
  }

  /**
   * Follows the user's sync after the first answer. A wake-up is answered from memory at once
   * when it can be (wakeUp, sync-quick.ts); the loop's sync() answers everything else, and runs
   * at least every `waitMs` so presence stays fresh and a revoked token is noticed.
   */
  private async follow(sub: AbortController, opts: FollowOptions, token: string): Promise<void> {
    const waitMs = Math.max(1000, Math.min(30_000, Math.floor(this.s.config.presence.offline_after_ms / 2)));
    const state: Following = { sub, opts, token: parseToken(token) };
    this.following = state;
    const unlisten = this.s.notifier.listen(this.user!.userId, () => wake(this));
    const stop = () => this.release?.();
    sub.signal.addEventListener("abort", stop, { once: true });
    try {
      while (!sub.signal.aborted && !this.closed) {
        try {
          // The token is checked again when it may have been revoked (recheck) and once a
          // minute, not on every wake-up: a wake-up costs no authentication.
          const user = Date.now() - this.checkedAt > RECHECK_MS ? await this.requester() : this.user!;
          const res = await this.s.sync.sync(user, { ...this.since(state), signal: sub.signal, shutdown: this.s.shutdown.signal });
          if (sub.signal.aborted || this.closed) return;
          state.token = parseToken(String(res.next_batch));
          if (!isEmpty(res)) await this.send({ method: "sync", params: res });
          await this.park(waitMs);
        } catch (e) {
          if (sub.signal.aborted || this.closed) return;
          if (e instanceof MatrixError && e.status === 401) return; // closing
          syncFailures.note(this.log, "websocket sync failed; retrying", { err: (e as Error).message });
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    } finally {
      unlisten();
      sub.signal.removeEventListener("abort", stop);
      if (this.following === state) this.following = null;
    }
  }

  private following: Following | null = null;
  /** Set while the follow loop is parked: ends the wait (the loop's sync() answers next). */
  private release: (() => void) | null = null;
  /** A frame pushed by wakeUp is on its way to the socket. */
  private pushing = false;

  private since(f: Following): SyncOptions {
    const t = f.token;
    return {
      since: t.pos, sinceTyping: t.ephemeral[0] ?? 0, sincePresence: t.ephemeral[1] ?? 0, sinceToDevice: t.ephemeral[2],
      filter: f.opts.filter, fullState: false, stateAfter: f.opts.stateAfter, setPresence: f.opts.setPresence, noAck: true, timeoutMs: 0,
    };
  }

  /** Waits for news that wakeUp cannot answer, or for `ms`. */
  private park(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.release === done) this.release = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.release = done;
      this.wakeUp(); // news that came while the last answer was made
    });
  }

  /**
   * Something concerning the user happened (called from the wake queue): while the follow
   * loop is parked, the common case (new events, nothing else) is answered here at once from
   * memory and pushed; anything else ends the park and the loop's sync() answers it. At most
   * one pushed frame is in flight: news meanwhile is pushed when the socket has taken it.
   */
  wakeUp(): void {
    const f = this.following;
    if (!f || !this.release || this.pushing || this.closed || f.sub.signal.aborted) return;
    if (this.s.shutdown.signal.aborted) return this.release();
    let res: ReturnType<Services["sync"]["pushNow"]>;
    try {
      res = this.s.sync.pushNow(this.user!, this.since(f));
    } catch {
      res = null; // the loop's sync() meets it again and reports it
    }
    if (res === "idle") return;
    if (res === null) return this.release();
    f.token = parseToken(String(res.next_batch));
    if (isEmpty(res)) return;
    this.pushing = true;
    this.write(`{"method":"sync","params":${quickText(res)}}`, this.pushed);
  }

  private readonly pushed = (): void => {
    this.pushing = false;
    this.wakeUp();
  };

  /**
   * `sliding_sync`: a simplified sliding sync request (docs/sliding-sync.md); the answer is its
   * response, then each later response with something new is pushed. Sending `sliding_sync`
   * again (with the last `pos` to continue the connection) changes the lists.
   */
  private async subscribeSliding(id: FrameId, user: Requester, params: Record<string, unknown>): Promise<void> {
    const req = parseSlidingRequest(params, {}, user.userId);
    this.sub?.abort();
    const sub = new AbortController();
    this.sub = sub;
    const first = await this.s.slidingSync.run(user, { ...req, timeoutMs: 0 }, sub.signal, this.s.shutdown.signal);
    if (sub.signal.aborted) throw new MatrixError(400, "M_UNKNOWN", "Replaced by a later sync command");
    await this.send({ id, result: first.body });
    void this.followSliding(sub, req, first.body);
  }

  private async followSliding(sub: AbortController, req: SlidingRequest, last: Record<string, unknown>): Promise<void> {
    const waitMs = Math.max(1000, Math.min(30_000, Math.floor(this.s.config.presence.offline_after_ms / 2)));
    while (!sub.signal.aborted && !this.closed) {
      try {
        const user = Date.now() - this.checkedAt > RECHECK_MS ? await this.requester() : this.user!;
        // Subscriptions and extension settings are the connection's already; to-device
        // messages pushed are acknowledged by the next request's `since`.
        const td = (last.extensions as { to_device?: { next_batch?: string } } | undefined)?.to_device;
        const res = await this.s.slidingSync.run(user, {
          ...req, txnId: undefined, noAck: true, pos: String(last.pos), timeoutMs: waitMs, subscriptions: new Map(), unsubscribe: [],
          extensions: td?.next_batch ? { to_device: { since: td.next_batch } } : {},
        }, sub.signal, this.s.shutdown.signal);
        if (sub.signal.aborted || this.closed) return;
        if (res.news) await this.send({ method: "sliding_sync", params: res.body });
        last = res.body;
      } catch (e) {
        if (sub.signal.aborted || this.closed) return;
        if (e instanceof MatrixError && e.status === 401) return; // closing
        if (e instanceof MatrixError && e.errcode === "M_UNKNOWN_POS") {
          // The connection is gone (expired, or the server restarted): the client starts again.
          await this.send({ method: "sliding_sync", error: e.toJSON() });
          return;
        }
        syncFailures.note(this.log, "websocket sliding sync failed; retrying", { err: (e as Error).message });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private reply(id: FrameId, result: unknown): void {
    void this.send({ id, result });
  }

  private replyError(id: FrameId, e: unknown): void {
    let err: MatrixError;
    if (e instanceof MatrixError) err = e;
    else {
      this.log.error({ err: e }, "websocket command failed");
      err = new MatrixError(500, "M_UNKNOWN", "Internal server error");
    }
    void this.send({ id, error: err.toJSON() });
  }

  /**
   * Sends a frame (a value, or its JSON text); resolves when the socket has taken it. Closes a
   * connection that is too slow.
   */
  private send(frame: object | string): Promise<void> {
    return new Promise((resolve) => this.write(typeof frame === "string" ? frame : stringifyJson(frame), resolve));
  }

  /** Writes a frame's text; `done` runs when the socket has taken it (at once if it is closing). */
  private write(text: string, done: () => void): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return done();
    // Unsent data already past the limit (one large frame alone is fine: an initial sync).
    if (this.ws.bufferedAmount > this.s.config.websocket.max_buffered_bytes) {
      this.close(CLOSE.TOO_SLOW, "too slow: reconnect and resume with since");
      return done();
    }
    // A frame the peer has not taken within slow_timeout_ms closes the connection (checked by
    // one sweep for every connection, not a timer per frame).
    this.unsent.push(done);
    if (this.oldestUnsent === 0) this.oldestUnsent = Date.now();
    this.ws.send(text, this.taken);
  }

  private readonly taken = (): void => {
    const done = this.unsent.shift();
    this.oldestUnsent = this.unsent.length ? Date.now() : 0;
    done?.();
  };

  private readonly unsent: (() => void)[] = [];
  /** When the oldest frame not yet taken by the socket was handed to it (0: none). */
  private oldestUnsent = 0;

  /** The sweep: closes the connection if a frame has waited longer than slow_timeout_ms. */
  sweep(now: number): void {
    if (this.oldestUnsent && now - this.oldestUnsent > this.s.config.websocket.slow_timeout_ms) {
      this.close(CLOSE.TOO_SLOW, "too slow: reconnect and resume with since");
      for (const r of this.unsent.splice(0)) r();
    }
  }
}
