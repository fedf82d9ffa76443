// The socket client: one WebSocket for live sync and commands (Ganglion's WebSocket
// extension), resumed after any drop from the last `next_batch`, with local echo and a
// delivery state per sent message. History, search and media go over HTTP (http.ts).
import { Http, MatrixError } from "./http.js";
import type { ConnectionState, Json, LocalMessage, MatrixEvent, MessageState, SocketConstructor, SocketLike, SyncResponse } from "./types.js";

export interface ClientOptions {
  /** The homeserver, e.g. "https://matrix.example.org". */
  baseUrl: string;
  accessToken: string;
  /** The user the token belongs to (read from whoami on start when left out). */
  userId?: string;
  /** The WebSocket class: the browser's by default; in Node 20 pass the `ws` package's. */
  WebSocket?: SocketConstructor;
  fetch?: typeof fetch;
  /** Resume from here (a `next_batch` kept from an earlier session). */
  since?: string;
  /** Messages not yet sent in an earlier session (kept from `onPersist`): sent again, with the same transaction IDs. */
  outbox?: LocalMessage[];
  /** Called whenever `since` or the outbox change, to keep them (localStorage, a file). */
  onPersist?: (data: { since: string | null; outbox: LocalMessage[] }) => void;
  /** A `ping` this often; no answer within `heartbeatTimeoutMs` and the socket is reopened. */
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  /** Reconnect delays: doubling from `min` to `max`, each with ±50% jitter. */
  backoff?: { minMs: number; maxMs: number };
  /** The sync filter (an ID, or an object). */
  filter?: string | Json;
}

type Handlers = {
  sync: (res: SyncResponse) => void;
  timeline: (roomId: string, ev: MatrixEvent) => void;
  message: (msg: LocalMessage) => void;
  connection: (state: ConnectionState) => void;
  error: (err: unknown) => void;
};

/** The connection failed or is not there: a command can be tried again on the next one. */
export class ConnectionError extends MatrixError {
  constructor(message: string) {
    super("M_UNKNOWN", message);
    this.name = "ConnectionError";
  }
}

const ORDER: Record<MessageState, number> = { failed: -1, sending: 0, sent: 1, delivered: 2, read: 3 };
const WS_PATH = "/_matrix/client/unstable/org.ganglion.ws/v1/stream";
const DELIVERED = "org.ganglion.delivered";

export class GanglionClient {
  readonly http: Http;
  userId: string | null;
  private since: string | null;
  private state: ConnectionState = "offline";
  private socket: SocketLike | null = null;
  private socketOpen = false;
  private nextId = 1;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer: ReturnType<typeof setTimeout> }>();
  private readonly handlers: { [K in keyof Handlers]: Handlers[K][] } = { sync: [], timeline: [], message: [], connection: [], error: [] };
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private beat: ReturnType<typeof setInterval> | null = null;
  private readonly outbox: LocalMessage[];
  private flushing = false;
  private txnCounter = 0;
  /** Per room, the order of the events seen (receipts mark everything up to theirs). */
  private readonly order = new Map<string, Map<string, number>>();
  private seq = 0;
  /** Messages of this client by event ID, for receipts. */
  private readonly mine = new Map<string, LocalMessage>();

  constructor(private readonly opts: ClientOptions) {
    this.http = new Http(opts.baseUrl.replace(/\/$/, ""), () => opts.accessToken, opts.fetch);
    this.userId = opts.userId ?? null;
    this.since = opts.since ?? null;
    this.outbox = (opts.outbox ?? []).map((m) => ({ ...m, state: "sending" as const }));
  }

  on<K extends keyof Handlers>(event: K, fn: Handlers[K]): () => void {
    this.handlers[event].push(fn);
    return () => { this.handlers[event] = this.handlers[event].filter((f) => f !== fn) as never; };
  }

  get connection(): ConnectionState { return this.state; }
  get nextBatch(): string | null { return this.since; }
  /** Messages waiting to be sent (offline, or in flight). */
  get pending(): readonly LocalMessage[] { return this.outbox; }

  /** Connects (and keeps reconnecting until `stop`). Resolves after the first sync response. */
  async start(): Promise<SyncResponse> {
    if (!this.userId) this.userId = (await this.http.json<{ user_id: string }>("GET", "/_matrix/client/v3/account/whoami")).user_id;
    this.state = "connecting";
    return new Promise<SyncResponse>((resolve, reject) => {
      const off = this.on("sync", (res) => { off(); offErr(); resolve(res); });
      const offErr = this.on("error", (e) => { if (e instanceof MatrixError && (e.errcode === "M_UNKNOWN_TOKEN" || e.errcode === "M_MISSING_TOKEN")) { off(); offErr(); reject(e); } });
      this.open();
    });
  }

  /**
   * Reconnects now instead of at the next backoff step (when the browser says it is online
   * again, say). Does nothing while connected or stopped.
   */
  reconnect(): void {
    if (this.state !== "offline" || this.socket) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.open();
  }

  /** Closes the socket for good (a clean close, code 1000). Unsent messages stay in `pending`. */
  stop(): void {
    this.setConnection("stopped");
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stopBeat();
    this.socket?.close(1000, "bye");
    this.socket = null;
    this.socketOpen = false;
    this.failCalls(new ConnectionError("Client stopped"));
  }

  // ---- sending, with local echo

  /** Sends an event: the returned message is the local echo; its `state` moves as the server answers. */
  send(roomId: string, content: Json, type = "m.room.message"): LocalMessage {
    const msg: LocalMessage = { txnId: this.txnId(), roomId, type, content, state: "sending" };
    this.outbox.push(msg);
    this.persist();
    this.emit("message", msg);
    void this.flush();
    return msg;
  }

  sendText(roomId: string, body: string): LocalMessage {
    return this.send(roomId, { msgtype: "m.text", body });
  }

  /** A reply (spec: rich replies, without the removed fallback). */
  reply(roomId: string, to: string, body: string): LocalMessage {
    return this.send(roomId, { msgtype: "m.text", body, "m.relates_to": { "m.in_reply_to": { event_id: to } } });
  }

  /** A reply in a thread (spec: threading), falling back to a reply to the root for clients without threads. */
  threadReply(roomId: string, root: string, body: string, latest = root): LocalMessage {
    return this.send(roomId, { msgtype: "m.text", body, "m.relates_to": { rel_type: "m.thread", event_id: root, is_falling_back: true, "m.in_reply_to": { event_id: latest } } });
  }

  edit(roomId: string, eventId: string, body: string): LocalMessage {
    return this.send(roomId, { msgtype: "m.text", body: `* ${body}`, "m.new_content": { msgtype: "m.text", body }, "m.relates_to": { rel_type: "m.replace", event_id: eventId } });
  }

  react(roomId: string, eventId: string, key: string): LocalMessage {
    return this.send(roomId, { "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key } }, "m.reaction");
  }

  redact(roomId: string, eventId: string, reason?: string): Promise<{ event_id: string }> {
    return this.http.redact(roomId, eventId, this.txnId(), reason);
  }

  // ---- other commands over the socket

  typing(roomId: string, typing: boolean, timeout = 30_000): Promise<unknown> {
    return this.call("typing", { room_id: roomId, typing, timeout });
  }

  readReceipt(roomId: string, eventId: string, opts: { private?: boolean; threadId?: string } = {}): Promise<unknown> {
    return this.call("receipt", { room_id: roomId, receipt_type: opts.private ? "m.read.private" : "m.read", event_id: eventId, ...(opts.threadId ? { thread_id: opts.threadId } : {}) });
  }

  readMarkers(roomId: string, fullyRead: string, read?: string): Promise<unknown> {
    return this.call("read_markers", { room_id: roomId, "m.fully_read": fullyRead, ...(read ? { "m.read": read } : {}) });
  }

  setPresence(presence: "online" | "offline" | "unavailable", statusMsg?: string): Promise<unknown> {
    return this.call("presence", { presence, ...(statusMsg !== undefined ? { status_msg: statusMsg } : {}) });
  }

  sendState(roomId: string, type: string, content: Json, stateKey = ""): Promise<unknown> {
    return this.call("state", { room_id: roomId, type, state_key: stateKey, content });
  }

  /** A command on the socket; rejects with a MatrixError when the server refuses it. */
  call(method: string, params: Json = {}, timeoutMs = 30_000): Promise<unknown> {
    const s = this.socket;
    if (!s || !this.socketOpen) return Promise.reject(new ConnectionError("Not connected"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.calls.delete(id); reject(new ConnectionError(`${method} timed out`)); }, timeoutMs);
      this.calls.set(id, { resolve, reject, timer });
      s.send(JSON.stringify({ id, method, params }));
    });
  }

  // ---- the socket

  private open(): void {
    if (this.state === "stopped") return;
    const Ctor = this.opts.WebSocket ?? (globalThis as unknown as { WebSocket?: SocketConstructor }).WebSocket;
    if (!Ctor) throw new Error("No WebSocket: pass the `ws` package's WebSocket as options.WebSocket");
    const s = new Ctor(this.opts.baseUrl.replace(/\/$/, "").replace(/^http/, "ws") + WS_PATH);
    this.socket = s;
    s.onopen = () => { this.socketOpen = true; void this.handshake(s); };
    s.onmessage = (ev) => this.onFrame(typeof ev.data === "string" ? ev.data : String(ev.data));
    s.onerror = () => undefined; // onclose follows
    s.onclose = (ev) => this.onClose(s, ev.code);
  }

  private async handshake(s: SocketLike): Promise<void> {
    try {
      await this.call("auth", { access_token: this.opts.accessToken });
      const first = await this.call("sync", { ...(this.since ? { since: this.since } : {}), ...(this.opts.filter ? { filter: this.opts.filter } : {}) }, 120_000) as SyncResponse;
      if (this.socket !== s) return;
      this.attempt = 0;
      this.startBeat();
      this.setConnection("online");
      this.apply(first);
      void this.flush();
    } catch (e) {
      this.emit("error", e);
      if (e instanceof MatrixError && (e.errcode === "M_UNKNOWN_TOKEN" || e.errcode === "M_MISSING_TOKEN")) this.stop();
      else s.close(4000, "handshake failed");
    }
  }

  private onFrame(text: string): void {
    let f: { id?: unknown; result?: unknown; error?: Json; method?: string; params?: unknown };
    try { f = JSON.parse(text); } catch { return; }
    if (typeof f.id === "number" && this.calls.has(f.id)) {
      const c = this.calls.get(f.id)!;
      this.calls.delete(f.id);
      clearTimeout(c.timer);
      if (f.error) c.reject(MatrixError.from(f.error)); else c.resolve(f.result);
      return;
    }
    if (f.method === "sync" && f.params) {
      this.apply(f.params as SyncResponse);
      // Applied: acknowledged, so the senders see it as delivered.
      this.call("ack", { next_batch: (f.params as SyncResponse).next_batch }).catch(() => undefined);
    }
  }

  private onClose(s: SocketLike, code: number): void {
    if (this.socket !== s) return;
    this.socket = null;
    this.socketOpen = false;
    this.stopBeat();
    this.failCalls(new ConnectionError("Connection lost"));
    if (this.state === "stopped") return;
    this.setConnection("offline");
    if (code === 4001) { this.emit("error", new MatrixError("M_UNKNOWN_TOKEN", "The server closed the connection: the token is not valid")); this.stop(); return; }
    const { minMs, maxMs } = this.opts.backoff ?? { minMs: 500, maxMs: 30_000 };
    const delay = Math.min(maxMs, minMs * 2 ** this.attempt++) * (0.5 + Math.random());
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  private startBeat(): void {
    this.stopBeat();
    const every = this.opts.heartbeatMs ?? 25_000;
    const timeout = this.opts.heartbeatTimeoutMs ?? 10_000;
    this.beat = setInterval(() => {
      const s = this.socket;
      this.call("ping", {}, timeout).catch(() => { if (this.socket === s) s?.close(4000, "no heartbeat"); });
    }, every);
    (this.beat as { unref?: () => void }).unref?.();
  }

  private stopBeat(): void {
    if (this.beat) clearInterval(this.beat);
    this.beat = null;
  }

  private failCalls(e: MatrixError): void {
    for (const [id, c] of this.calls) { clearTimeout(c.timer); c.reject(e); this.calls.delete(id); }
  }

  private setConnection(s: ConnectionState): void {
    if (this.state === s || (this.state === "stopped" && s !== "stopped")) return;
    this.state = s;
    this.emit("connection", s);
  }

  // ---- the outbox: in order, one at a time, the same txn_id on every try

  private async flush(): Promise<void> {
    if (this.flushing || this.state !== "online") return;
    this.flushing = true;
    try {
      while (this.state === "online") {
        const m = this.outbox.find((x) => x.state === "sending");
        if (!m) break;
        try {
          const r = await this.call("send", { room_id: m.roomId, type: m.type, content: m.content, txn_id: m.txnId }) as { event_id: string };
          this.sent(m, r.event_id);
        } catch (e) {
          // The connection went: kept for the next one (the same txn_id, so never sent twice).
          if (e instanceof ConnectionError || !(e instanceof MatrixError)) break;
          if (e.errcode === "M_LIMIT_EXCEEDED") { await new Promise((r) => setTimeout(r, Number(e.body.retry_after_ms ?? 1000))); continue; }
          this.fail(m, e); // refused by the server: for good
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private sent(m: LocalMessage, eventId: string): void {
    if (m.eventId) return;
    m.eventId = eventId;
    this.mine.set(eventId, m);
    this.outbox.splice(this.outbox.indexOf(m), 1);
    this.persist();
    this.move(m, "sent");
  }

  private fail(m: LocalMessage, e: MatrixError): void {
    m.error = { errcode: e.errcode, error: e.error };
    this.outbox.splice(this.outbox.indexOf(m), 1);
    this.persist();
    m.state = "failed";
    this.emit("message", m);
  }

  private move(m: LocalMessage, to: MessageState): void {
    if (ORDER[to] <= ORDER[m.state]) return;
    m.state = to;
    this.emit("message", m);
  }

  // ---- sync frames

  private apply(res: SyncResponse): void {
    this.since = res.next_batch;
    for (const [roomId, room] of Object.entries(res.rooms?.join ?? {})) {
      let order = this.order.get(roomId);
      if (!order) this.order.set(roomId, (order = new Map()));
      for (const ev of room.timeline?.events ?? []) {
        order.set(ev.event_id, ++this.seq);
        // The echo of our own send, if its answer was lost with a connection.
        const txn = ev.unsigned?.transaction_id;
        const pending = txn ? this.outbox.find((m) => m.txnId === txn) : undefined;
        if (pending) this.sent(pending, ev.event_id);
        this.emit("timeline", roomId, ev);
      }
      for (const e of room.ephemeral?.events ?? []) if (e.type === "m.receipt") this.receipts(roomId, e.content as Json);
    }
    this.persist();
    this.emit("sync", res);
  }

  /** Receipts of others mark our messages up to theirs delivered (org.ganglion.delivered) or read. */
  private receipts(roomId: string, content: Json): void {
    const order = this.order.get(roomId);
    if (!order) return;
    for (const [eventId, byType] of Object.entries(content as Record<string, Record<string, Record<string, unknown>>>)) {
      const at = order.get(eventId);
      if (at === undefined) continue;
      for (const [type, users] of Object.entries(byType)) {
        const to: MessageState | null = type === "m.read" ? "read" : type === DELIVERED ? "delivered" : null;
        if (!to || !Object.keys(users).some((u) => u !== this.userId)) continue;
        for (const m of this.mine.values()) {
          if (m.roomId === roomId && (order.get(m.eventId!) ?? Infinity) <= at) this.move(m, to);
        }
      }
    }
  }

  private persist(): void {
    this.opts.onPersist?.({ since: this.since, outbox: this.outbox.map((m) => ({ ...m })) });
  }

  private txnId(): string {
    return `g${Date.now().toString(36)}${(this.txnCounter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  }

  private emit<K extends keyof Handlers>(event: K, ...args: Parameters<Handlers[K]>): void {
    for (const fn of this.handlers[event]) {
      try { (fn as (...a: unknown[]) => void)(...args); } catch (e) { if (event !== "error") this.emit("error", e); }
    }
  }
}
