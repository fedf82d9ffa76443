// Account data and room tags. https://spec.matrix.org/latest/client-server-api/#client-config
import { MatrixError, notFound } from "../http/errors.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import * as store from "../store/account-data.js";
import type { Db } from "../store/db.js";
import type { Notifier } from "./notifier.js";

// Types the server manages itself: a client may not set them through this API (spec).
const SERVER_MANAGED = new Set(["m.fully_read", "m.push_rules"]);

export class AccountDataService {
  constructor(private readonly db: Db, private readonly notifier: Notifier) {}

  async set(userId: UserId, roomId: RoomId | "", type: string, content: Record<string, unknown>, allowManaged = false): Promise<void> {
    if (!allowManaged && SERVER_MANAGED.has(type)) {
      throw new MatrixError(405, "M_BAD_JSON", `Cannot set ${type} through this API`);
    }
    const pos = await this.db.transaction((trx) => store.upsertAccountData(trx, userId, roomId, type, content));
    this.notifier.accountData(userId, pos, type);
    await this.notifier.reach(pos);
  }

  async get(userId: UserId, roomId: RoomId | "", type: string): Promise<Record<string, unknown>> {
    const c = await store.selectAccountData(this.db, userId, roomId, type);
    if (!c) throw notFound("Account data not found");
    return c;
  }

  /** Stored sync filters (POST /user/{userId}/filter). */
  createFilter(userId: UserId, filter: unknown): Promise<string> {
    return store.insertFilter(this.db, userId, filter);
  }

  /**
   * Filters never change once created (the API has no update), so they are kept in memory:
   * clients name theirs on every /sync, which must not cost a query per long-poll.
   */
  private readonly filters = new Map<string, unknown>();

  async getFilter(userId: UserId, filterId: string): Promise<unknown | null> {
    const k = `${userId}\u0000${filterId}`;
    const hit = this.filters.get(k);
    if (hit !== undefined) return hit;
    const f = await store.selectFilter(this.db, userId, filterId);
    // Bounded: at most 10,000 filters of up to 4 KiB each (a larger one is read each time).
    if (f !== null && f !== undefined && JSON.stringify(f).length <= 4096) {
      if (this.filters.size >= 10_000) this.filters.clear();
      this.filters.set(k, f);
    }
    return f;
  }

  async tags(userId: UserId, roomId: RoomId): Promise<Record<string, unknown>> {
    const c = await store.selectAccountData(this.db, userId, roomId, "m.tag");
    return (c?.tags as Record<string, unknown>) ?? {};
  }

  async setTag(userId: UserId, roomId: RoomId, tag: string, body: Record<string, unknown>): Promise<void> {
    const tags = { ...(await this.tags(userId, roomId)), [tag]: body };
    await this.set(userId, roomId, "m.tag", { tags }, true);
  }

  async deleteTag(userId: UserId, roomId: RoomId, tag: string): Promise<void> {
    const tags = { ...(await this.tags(userId, roomId)) };
    delete tags[tag];
    await this.set(userId, roomId, "m.tag", { tags }, true);
  }
}
