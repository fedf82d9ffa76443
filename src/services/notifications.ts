// GET /notifications: the events that notified the user, newest first, computed from the
// push rules over the user's rooms (no separate store: the rules and receipts decide).
// https://spec.matrix.org/latest/client-server-api/#listing-notifications
import { MatrixError } from "../http/errors.js";
import type { UserId } from "../matrix/ids.js";
import { userLevel } from "../matrix/power-levels.js";
import { evaluatePushRules, type RuleSet } from "../matrix/push-rules.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import * as receipts from "../store/receipts.js";
import type { MembershipCache } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import { serialize } from "./room-read.js";
import type { RoomStateCache } from "./room-state.js";
import type { Requester } from "./tokens.js";

/** Events examined per request at most (older ones on the next page). */
const MAX_SCAN = 5000;

export class NotificationService {
  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    private readonly members: MembershipCache,
    private readonly cache: RoomStateCache,
    private readonly rulesOf: (u: UserId) => Promise<RuleSet>,
  ) {}

  async list(who: Requester, from: string | undefined, limit: number, onlyHighlight: boolean): Promise<Record<string, unknown>> {
    let before = this.notifier.currentPos + 1;
    if (from !== undefined) {
      if (!/^\d{1,16}$/.test(from)) throw new MatrixError(400, "M_INVALID_PARAM", "Invalid from token");
      before = Number(from);
    }
    const userId = who.userId;
    const rooms = (await this.members.get(userId)).filter((m) => m.membership === "join").map((m) => m.roomId);
    const rules = await this.rulesOf(userId);
    const read = await receipts.selectReadPositions(this.db, userId, rooms);
    const out: Record<string, unknown>[] = [];
    let scanned = 0;
    let cursor = before;
    while (out.length < limit && scanned < MAX_SCAN && rooms.length) {
      const rows = await events.selectEventsInRoomsBefore(this.db, rooms, userId, cursor, 200);
      if (rows.length === 0) { cursor = 0; break; }
      let i = 0;
      for (const r of rows) {
        i++;
        scanned++;
        cursor = r.pos;
        const room = await this.cache.get(r.roomId);
        if (!room) continue;
        const pl = room.powerLevels();
        const name = room.get("m.room.member", userId)?.content.displayname;
        const res = evaluatePushRules(rules, r.event as unknown as Record<string, unknown>, {
          userId, displayName: typeof name === "string" ? name : null, memberCount: room.joined.size,
          senderPower: userLevel(pl, r.event.sender), notificationLevels: pl.notifications,
        });
        if (!res.notify || (onlyHighlight && !res.highlight)) continue;
        const readUpTo = Math.max(read.get(r.roomId)?.get("") ?? -1, read.get(r.roomId)?.get("main") ?? -1);
        out.push({ actions: res.actions, event: serialize(r, who), read: r.pos <= readUpTo, room_id: r.roomId, ts: r.event.origin_server_ts });
        if (out.length >= limit) break;
      }
      if (rows.length < 200 && i === rows.length && out.length < limit) { cursor = 0; break; }
    }
    return { notifications: out, ...(cursor > 0 ? { next_token: String(cursor) } : {}) };
  }
}
