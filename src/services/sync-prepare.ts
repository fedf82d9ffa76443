// What a sync of a user reads on every wake-up, loaded before it waits (DESIGN §6): the
// memberships, ignored users, unread counts of the joined rooms and the device's key counts.
// Each is kept in memory and kept current by the writes that change it, so the wake-up itself
// costs no query. A user's second connection, or next long-poll, finds them loaded.
import type { UserId } from "../matrix/ids.js";
import * as accountData from "../store/account-data.js";
import type { Db } from "../store/db.js";
import type { KeyService } from "./e2ee.js";
import { Gate } from "./gate.js";
import { LoadCache } from "./load-cache.js";
import type { MembershipCache } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import type { Requester } from "./tokens.js";
import type { UnreadService } from "./unread.js";

/** Connections whose first sync loads their user's data from the database at once. */
const PREPARE_CONCURRENCY = 4;

export class SyncUserData {
  private readonly ignored = new LoadCache<UserId, Set<string>>(100_000);
  // Many clients connecting at once queue here rather than for the database pool, so sends
  // and everyone else's requests still find connections (no 503 while the database is fine).
  private readonly gate = new Gate(PREPARE_CONCURRENCY);

  constructor(private readonly db: Db, private readonly notifier: Notifier, private readonly members: MembershipCache, private readonly unread: UnreadService, private readonly keys: KeyService) {
    notifier.onAccountData((u, type) => { if (type === "m.ignored_user_list") this.ignored.delete(u); });
  }

  ignoredPeek(userId: UserId): ReadonlySet<string> | undefined {
    return this.ignored.peek(userId);
  }

  async ignoredBy(userId: UserId): Promise<Set<string>> {
    return this.ignored.get(userId, async () => {
      const list = (await accountData.selectAccountData(this.db, userId, "", "m.ignored_user_list"))?.ignored_users;
      return new Set(list && typeof list === "object" ? Object.keys(list) : []);
    });
  }

  /** Loads what a wake-up of this user's device will read, unless it is in memory already. */
  async prepare(who: Requester, since: number): Promise<void> {
    const mine = this.members.peek(who.userId);
    if (mine && this.ignored.peek(who.userId) && (!who.deviceId || this.keys.hasCounts(who.userId, who.deviceId)) && this.unread.hasJoined(who.userId, mine)) return;
    await this.gate.run(() => this.load(who, since));
  }

  private async load(who: Requester, since: number): Promise<void> {
    const memberships = await this.members.get(who.userId);
    await this.ignoredBy(who.userId);
    const joined = memberships.filter((m) => m.membership === "join").map((m) => m.roomId);
    if (joined.length) await this.unread.warm(who.userId, joined, Math.max(since, this.notifier.currentPos));
    if (who.deviceId) await this.keys.counts(who.userId, who.deviceId);
  }
}
