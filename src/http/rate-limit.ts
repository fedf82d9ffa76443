// Token-bucket rate limiting, in memory per process. With several processes each limits its own
// share, which bounds the total at (processes × rate): good enough to stop brute force and floods.
import type { RateLimit } from "../config/schema.js";
import { limitExceeded } from "./errors.js";

interface Bucket { tokens: number; updated: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = Date.now();

  constructor(private readonly limit: RateLimit, private readonly enabled: boolean) {}

  /** Takes one token for `key`, or throws 429 M_LIMIT_EXCEEDED with the time until one is free. */
  take(key: string): void {
    if (!this.enabled) return;
    const now = Date.now();
    this.sweep(now);
    const { per_second: rate, burst } = this.limit;
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
