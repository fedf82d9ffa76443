// Per-action limits per user (sends, typing, search, history): a one-second sliding window,
// shared by every process through Redis (one Lua script per hit) and counted in this
// process's memory when there is no Redis or it is down. HTTP and the WebSocket's commands
// come through the same check (route.ts invoke), so both answer the same 429.
import type { Config } from "../config/schema.js";
import type { Bus } from "../services/bus.js";
import { limitExceeded } from "./errors.js";

export type Action = keyof Config["rate_limiting"]["per_user"];

const WINDOW_MS = 1000;
/** Keys held in memory at most; beyond it the memory starts over (a window is one second). */
const MAX_KEYS = 100_000;

export class ActionLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(private readonly bus: Bus, private readonly config: Config["rate_limiting"]) {}

  /** One hit of `action` by the user, or 429 M_LIMIT_EXCEEDED with the time until one is free. */
  async take(action: Action, userId: string): Promise<void> {
    const limit = this.config.per_user[action];
    if (!this.config.enabled || !limit) return;
    const key = `rl:${action}:${userId}`;
    const r = (await this.bus.slidingWindow(key, WINDOW_MS, limit)) ?? this.local(key, limit);
    if (!r.allowed) throw limitExceeded(r.retryAfterMs);
  }

  private local(key: string, limit: number): { allowed: boolean; retryAfterMs: number } {
    const now = Date.now();
    let list = this.hits.get(key);
    if (!list) {
      if (this.hits.size >= MAX_KEYS) this.hits.clear();
      this.hits.set(key, (list = []));
    }
    while (list.length && list[0]! <= now - WINDOW_MS) list.shift();
    if (list.length >= limit) return { allowed: false, retryAfterMs: Math.max(1, list[0]! + WINDOW_MS - now) };
    list.push(now);
    return { allowed: true, retryAfterMs: 0 };
  }
}
