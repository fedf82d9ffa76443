// Token-bucket rate limiting, in memory per process. With several processes each limits its own
// share, which bounds the total at (processes × rate): good enough to stop brute force and floods.
import type { RateLimit } from "../config/schema.js";
import type { UserId } from "../matrix/ids.js";
import type { Bus } from "../services/bus.js";
import { selectAllRatelimits, selectRatelimit, setRatelimit } from "../store/admin-users.js";
import type { Db } from "../store/db.js";
import { limitExceeded } from "./errors.js";

interface Bucket { tokens: number; updated: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = Date.now();

  constructor(private readonly limit: RateLimit, private readonly enabled: boolean) {}

  /**
   * Takes one token for `key`, or throws 429 M_LIMIT_EXCEEDED with the time until one is free.
   * `limit` replaces the configured one for this key (a user's override from the admin API).
   */
  take(key: string, limit: RateLimit = this.limit): void {
    if (!this.enabled) return;
    const now = Date.now();
    this.sweep(now);
    const { per_second: rate, burst } = limit;
    const b = this.buckets.get(key) ?? { tokens: burst, updated: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.updated) / 1000) * rate);
    b.updated = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      throw limitExceeded(Math.ceil(((1 - b.tokens) / rate) * 1000));
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
  }

  /** Buckets that have refilled completely carry no information; drop them. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    const full = (this.limit.burst / this.limit.per_second) * 1000;
    for (const [k, b] of this.buckets) if (now - b.updated > full) this.buckets.delete(k);
  }
}

export interface RateOverride { messages_per_second: number; burst_count: number }

/**
 * Per-user overrides of the request limit (Synapse's override_ratelimit admin API), kept in
 * memory on every process: loaded at start, changed through `set`, which tells the others.
 * 0 and 0 means not limited at all (nor by the per-action limits).
 */
export class RateOverrides {
  private readonly byUser = new Map<string, RateOverride>();

  constructor(private readonly db: Db, private readonly bus: Bus) {
    bus.onMessage((m) => { if (m.k === "ratelimit") void this.reload(m.user); });
  }

  async load(): Promise<void> {
    for (const r of await selectAllRatelimits(this.db)) this.byUser.set(r.user_id, { messages_per_second: r.messages_per_second, burst_count: r.burst_count });
  }

  get(userId: string): RateOverride | undefined {
    return this.byUser.get(userId);
  }

  async set(userId: UserId, v: RateOverride | null): Promise<void> {
    await setRatelimit(this.db, userId, v);
    if (v) this.byUser.set(userId, v); else this.byUser.delete(userId);
    this.bus.publish({ k: "ratelimit", user: userId });
  }

  private async reload(userId: UserId): Promise<void> {
    const v = await selectRatelimit(this.db, userId).catch(() => undefined);
    if (v === undefined) return;
    if (v) this.byUser.set(userId, v); else this.byUser.delete(userId);
  }
}
