// Unread notification counts (`unread_notifications` in /sync), from receipts and push rules.
// https://spec.matrix.org/latest/client-server-api/#receiving-notifications
//
// A room's counts are the events after the user's read receipt (m.read or m.read.private, on
// the main timeline) that their push rules say notify (and highlight), not counting their own;
// an event of their own reads everything before it. Counts are computed when a sync needs them
// and kept per (user, room) with the position they reach, so the next sync only evaluates the
// new events, usually from the room's recent events in memory: a wake-up costs no query.
// A new receipt by the user (or new push rules) drops the kept counts and they are recounted.
// Recounting reads at most COUNT_CAP events per room: beyond that the counts stop growing.
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import { powerLevelsFrom, userLevel } from "../matrix/power-levels.js";
import { evaluatePushRules, type RuleSet } from "../matrix/push-rules.js";
import { defaultPushRules } from "../matrix/push-rules-default.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import * as receipts from "../store/receipts.js";
import type { RoomState, RoomStateCache } from "./room-state.js";

const COUNT_CAP = 1000;
const MAX_USERS = 50_000;

interface Counts { countedTo: number; notify: number; highlight: number }
export interface UnreadCounts { notification_count: number; highlight_count: number }

export class UnreadService {
  private readonly users = new Map<UserId, Map<RoomId, Counts>>();
  private readonly rules = new Map<UserId, RuleSet>();

  constructor(private readonly db: Db, private readonly cache: RoomStateCache) {}

  /** The user's receipt in the room moved: recount. */
  forget(userId: UserId, roomId: RoomId): void {
    this.users.get(userId)?.delete(roomId);
  }

  /** The user's push rules changed: recount everything. */
  forgetUser(userId: UserId): void {
    this.users.delete(userId);
    this.rules.delete(userId);
  }

  async counts(userId: UserId, roomIds: RoomId[], upTo: number): Promise<Map<RoomId, UnreadCounts>> {
    let mine = this.users.get(userId);
    if (!mine) {
      if (this.users.size >= MAX_USERS) this.users.delete(this.users.keys().next().value!);
      this.users.set(userId, (mine = new Map()));
    }
    const rules = this.rulesFor(userId);
    const recount: RoomId[] = [];
    for (const roomId of roomIds) {
      const c = mine.get(roomId);
      if (!c) { recount.push(roomId); continue; }
      if (c.countedTo >= upTo) continue;
      const room = await this.cache.get(roomId);
      const rows = room?.recentBetween(c.countedTo, upTo) ?? null;
      if (!room || !rows) { recount.push(roomId); continue; }
      for (const r of rows) this.count(c, r.event, room, userId, rules);
      c.countedTo = upTo;
    }
    if (recount.length) {
      const read = await receipts.selectReadPositions(this.db, userId, recount);
      const newest = await events.selectEventsAfterEach(this.db, recount.map((r) => ({ roomId: r, after: read.get(r) ?? -1 })), upTo, COUNT_CAP);
      for (const roomId of recount) {
        const room = await this.cache.get(roomId);
        const c: Counts = { countedTo: upTo, notify: 0, highlight: 0 };
        if (room) {
          // Newest first: stop at the user's own latest event (it reads what came before).
          const rows = newest.get(roomId) ?? [];
          const own = rows.findIndex((r) => r.event.sender === userId);
          for (const r of (own >= 0 ? rows.slice(0, own) : rows).reverse()) this.count(c, r.event, room, userId, rules);
        }
        mine.set(roomId, c);
      }
    }
    const out = new Map<RoomId, UnreadCounts>();
    for (const roomId of roomIds) {
      const c = mine.get(roomId)!;
      out.set(roomId, { notification_count: c.notify, highlight_count: c.highlight });
    }
    return out;
  }

  private count(c: Counts, ev: ClientEvent, room: RoomState, userId: UserId, rules: RuleSet): void {
    if (ev.sender === userId) {
      c.notify = 0;
      c.highlight = 0;
      return;
    }
    const create = room.get("m.room.create", "");
    const creators = create ? [create.sender, ...(Array.isArray(create.content.additional_creators) ? create.content.additional_creators as string[] : [])] : [];
    const pl = powerLevelsFrom(room.get("m.room.power_levels", "")?.content, creators);
    const member = room.get("m.room.member", userId);
    const name = member?.content.displayname;
    const out = evaluatePushRules(rules, ev as unknown as Record<string, unknown>, {
      userId,
      displayName: typeof name === "string" ? name : null,
      memberCount: room.joined.size,
      senderPower: userLevel(pl, ev.sender),
      notificationLevels: pl.notifications,
    });
    if (out.notify && c.notify < COUNT_CAP) c.notify++;
    if (out.highlight && c.highlight < COUNT_CAP) c.highlight++;
  }

  private rulesFor(userId: UserId): RuleSet {
    let r = this.rules.get(userId);
    if (!r) {
      if (this.rules.size >= MAX_USERS) this.rules.delete(this.rules.keys().next().value!);
      this.rules.set(userId, (r = defaultPushRules(userId) as unknown as RuleSet));
    }
    return r;
  }
}
