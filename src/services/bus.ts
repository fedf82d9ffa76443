// The bus between server processes. Without Redis there is one process and the bus is silent.
// With `redis.url`, every process publishes what the others must know (the stream moved,
// typing, presence, a revoked token) on one pub/sub channel, and mirrors typing and presence
// into Redis keys with TTLs so a process that starts (or reconnects) late can load them.
// Persistent data never travels on the bus: a process that hears "the stream moved" reads the
// new rows from Postgres (see replicator.ts), so a lost message costs latency, never data.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { RoomId, UserId } from "../matrix/ids.js";

export type BusMessage =
  | { k: "pos"; pos: number }
  | { k: "typing"; room: RoomId; user: UserId; typing: boolean; ms: number }
  | { k: "presence"; user: UserId; presence: "online" | "unavailable" | "offline"; msg: string | null; lastActive: number }
  | { k: "tokens"; user: UserId }
  /** A device's one-time or fallback keys changed (counts kept in memory are stale). */
  | { k: "keys"; user: UserId; device: string }
  /** A user was erased (erasure.ts). */
  | { k: "erased"; user: UserId }
  /** A user's rate-limit override changed (admin API). */
  | { k: "ratelimit"; user: UserId };

type Envelope = BusMessage & { o: string };

export interface Bus {
  /** True when other processes may exist (Redis configured). */
  readonly clustered: boolean;
  /** True while messages can be sent and received. */
  readonly connected: boolean;
  publish(m: BusMessage): void;
  onMessage(fn: (m: BusMessage) => void): void;
  /** Called when the bus (re)connects, and when it goes down: catch up, or start polling. */
  onStatus(fn: (up: boolean) => void): void;
  /** Mirrors an ephemeral value with a TTL (null value: delete it). */
  setEphemeral(key: string, value: string | null, ttlMs: number): void;
  /** Every live ephemeral value under `prefix`, with its remaining TTL in ms. */
  scanEphemeral(prefix: string): Promise<{ key: string; value: string; ttlMs: number }[]>;
  /**
   * One hit in a sliding window shared by every process: allowed if fewer than `limit` hits
   * fell in the last `windowMs`, else how long until one leaves it. Null: no shared store now
   * (one process, or Redis down): the caller counts in memory.
   */
  slidingWindow(key: string, windowMs: number, limit: number): Promise<{ allowed: boolean; retryAfterMs: number } | null>;
  close(): Promise<void>;
}

/**
 * The window as one atomic script: drop hits older than the window, refuse if `limit` remain
 * (answering when the oldest leaves), else record this one. Members are unique per call.
 */
const SLIDING_WINDOW_LUA = `
local now = tonumber(ARGV[1]); local window = tonumber(ARGV[2]); local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(1, tonumber(oldest[2]) + window - now)}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return {1, 0}`;

/** One process, nobody to tell. */
export class LocalBus implements Bus {
  readonly clustered = false;
  readonly connected = true;
  publish(): void {}
  onMessage(): void {}
  onStatus(): void {}
  setEphemeral(): void {}
  async scanEphemeral(): Promise<{ key: string; value: string; ttlMs: number }[]> { return []; }
  async slidingWindow(): Promise<null> { return null; }
  async close(): Promise<void> {}
}

export class RedisBus implements Bus {
  readonly clustered = true;
  /** This process, so it ignores its own messages. */
  private readonly origin = randomBytes(8).toString("hex");
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly channel: string;
  private readonly prefix: string;
  private readonly handlers: ((m: BusMessage) => void)[] = [];
  private readonly statusHandlers: ((up: boolean) => void)[] = [];
  private up = false;
  private closing = false;

  constructor(url: string, serverName: string, private readonly log: Logger) {
    // Several homeservers may share one Redis: keys and channel are named after the server.
    this.prefix = `ganglion:${serverName}:`;
    this.channel = `${this.prefix}bus`;
    const retryStrategy = (times: number) => Math.min(100 * times, 2000);
    // Publishing never queues while Redis is away: the message is dropped (the others catch
    // up from Postgres when it returns), so memory stays bounded during an outage.
    this.pub = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy });
    this.sub = new Redis(url, { lazyConnect: true, retryStrategy });
    for (const c of [this.pub, this.sub]) c.on("error", () => undefined); // reported via status below
    this.sub.on("ready", () => {
      void this.sub.subscribe(this.channel).then(() => this.setStatus(true), () => undefined);
    });
    this.sub.on("close", () => this.setStatus(false));
    this.sub.on("message", (_ch: string, data: string) => {
      let m: Envelope;
      try { m = JSON.parse(data) as Envelope; } catch { return; }
      if (m.o === this.origin) return;
      for (const h of this.handlers) {
        try { h(m); } catch (e) { this.log.error({ err: e }, "bus handler failed"); }
      }
    });
  }

  /** Connects; a Redis that is down now is retried in the background (the server still starts). */
  async start(): Promise<void> {
    await Promise.all([this.pub.connect(), this.sub.connect()]).catch((e: Error) => {
      this.log.warn({ err: e.message }, "redis unreachable at start; serving this process's clients and retrying");
    });
  }

  get connected(): boolean {
    return this.up && this.pub.status === "ready";
  }

  publish(m: BusMessage): void {
    if (this.pub.status !== "ready") return;
    this.pub.publish(this.channel, JSON.stringify({ ...m, o: this.origin })).catch(() => undefined);
  }

  onMessage(fn: (m: BusMessage) => void): void {
    this.handlers.push(fn);
  }

  onStatus(fn: (up: boolean) => void): void {
    this.statusHandlers.push(fn);
  }

  setEphemeral(key: string, value: string | null, ttlMs: number): void {
    if (this.pub.status !== "ready") return;
    const k = this.prefix + key;
    const p = value === null ? this.pub.del(k) : this.pub.set(k, value, "PX", Math.max(1, Math.round(ttlMs)));
    p.catch(() => undefined);
  }

  private hits = 0;

  async slidingWindow(key: string, windowMs: number, limit: number): Promise<{ allowed: boolean; retryAfterMs: number } | null> {
    if (this.pub.status !== "ready") return null;
    try {
      const r = await this.pub.eval(SLIDING_WINDOW_LUA, 1, this.prefix + key, Date.now(), windowMs, limit, `${this.origin}:${++this.hits}`) as [number, number];
      return { allowed: r[0] === 1, retryAfterMs: Number(r[1]) };
    } catch {
      return null; // Redis went away mid-call: memory answers
    }
  }

  async scanEphemeral(prefix: string): Promise<{ key: string; value: string; ttlMs: number }[]> {
    if (this.pub.status !== "ready") return [];
    const out: { key: string; value: string; ttlMs: number }[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await this.pub.scan(cursor, "MATCH", `${this.prefix}${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length === 0) continue;
      const pipe = this.pub.pipeline();
      for (const k of keys) pipe.get(k).pttl(k);
      const res = (await pipe.exec()) ?? [];
      keys.forEach((k, i) => {
        const value = res[2 * i]?.[1] as string | null;
        const ttl = Number(res[2 * i + 1]?.[1]);
        if (value !== null && ttl > 0) out.push({ key: k.slice(this.prefix.length), value, ttlMs: ttl });
      });
    } while (cursor !== "0");
    return out;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.pub.disconnect();
    this.sub.disconnect();
  }

  private setStatus(up: boolean): void {
    if (up === this.up || this.closing) return;
    this.up = up;
    if (up) this.log.info("redis connected: sharing live updates with the other processes");
    else this.log.warn("redis connection lost: serving this process's clients, following the others through Postgres until it returns");
    for (const h of this.statusHandlers) {
      try { h(up); } catch (e) { this.log.error({ err: e }, "bus status handler failed"); }
    }
  }
}
