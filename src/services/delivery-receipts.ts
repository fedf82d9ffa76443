// "Delivered" beside "read": a watermark per (user, room), kept as a receipt of type
// org.ganglion.delivered: the newest event of the room that one of the user's devices has
// received. It moves when a device acknowledges a position (the next /sync whose `since` is
// past it, a sliding sync request with a later `pos`, a WebSocket `ack`). One receipt row per
// user and room, updated in place; at most one move per user per `min_interval_ms`; only in
// rooms of at most `max_room_members`. docs/delivery-receipts.md.
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import * as accountData from "../store/account-data.js";
import type { Db } from "../store/db.js";
import type { MembershipCache } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import type { ReceiptService } from "./receipts.js";
import type { RoomState, RoomStateCache } from "./room-state.js";

export const DELIVERED = "org.ganglion.delivered";
/** Account data a user sets to {"enabled": false} to send no delivered receipts. */
export const DELIVERY_SETTING = "org.ganglion.delivery_receipts";

/** What a delivered mark is for: messages, not state or membership changes. */
const MESSAGE_TYPES = new Set(["m.room.message", "m.room.encrypted", "m.sticker", "m.poll.start", "m.call.invite", "m.beacon_info"]);

/** Users whose acknowledgements are kept in memory; beyond it the oldest are forgotten. */
const MAX_USERS = 100_000;

/** How long marks gather before they are written together. */
const BATCH_MS = 20;

interface Mark { userId: UserId; room: RoomState; eventId: string; eventPos: number }

interface UserAck { acked: number; pending: number; last: number; timer: NodeJS.Timeout | null }

export class DeliveryReceipts {
  private readonly users = new Map<UserId, UserAck>();
  /** The users' setting, read once (dropped when their account data changes). */
  private readonly optedOut = new Map<UserId, boolean>();

  constructor(private readonly db: Db, private readonly cache: RoomStateCache, private readonly notifier: Notifier,
    private readonly members: MembershipCache, private readonly receipts: ReceiptService, private readonly config: Config["delivery_receipts"],
    private readonly log: Logger) {
    notifier.onAccountData((u, type) => { if (type === DELIVERY_SETTING) this.optedOut.delete(u); });
  }

  /**
   * A device of `userId` has everything up to stream position `pos`. Cheap and synchronous
   * for the caller (a sync request): the receipts are written later, in the background.
   */
  ack(userId: UserId, pos: number): void {
    if (!this.config.enabled) return;
    let u = this.users.get(userId);
    if (!u) {
      if (this.users.size >= MAX_USERS) this.users.delete(this.users.keys().next().value!);
      // A user first seen by this process: what happened in rooms since it started counts.
      u = { acked: this.notifier.startPos, pending: this.notifier.startPos, last: 0, timer: null };
      this.users.set(userId, u);
    }
    if (pos <= Math.max(u.acked, u.pending)) return;
    u.pending = pos;
    if (u.timer) return;
    const wait = Math.max(0, u.last + this.config.min_interval_ms - Date.now());
    u.timer = setTimeout(() => { u!.timer = null; void this.flush(userId, u!).catch((err) => this.log.warn({ err: (err as Error).message }, "delivered receipts failed")); }, wait);
    u.timer.unref();
  }

  /** Moves the user's watermark in each room with events between what was acknowledged and now. */
  private async flush(userId: UserId, u: UserAck): Promise<void> {
    const from = u.acked;
    const to = u.pending;
    u.acked = to;
    if (to <= from || await this.isOff(userId)) return;
    // The interval counts from the last move: acknowledgements that marked nothing (a frame
    // of receipts, typing) do not hold back the next message's mark.
    const started = Date.now();
    for (const m of await this.members.get(userId)) {
      if (m.membership !== "join") continue;
      const last = this.notifier.roomLastPos(m.roomId);
      if (last === null || last <= from) continue;
      const room = this.cache.peek(m.roomId) ?? await this.cache.get(m.roomId);
      if (!room || room.joined.size > this.config.max_room_members) continue;
      // The newest event of someone else at or below the acknowledged position (from the
      // room's recent events; the user's own need no delivered mark).
      let ev = null;
      for (let i = room.recent.length - 1; i >= 0; i--) {
        const r = room.recent[i]!;
        if (r.pos <= from) break;
        if (r.pos <= to && r.event.sender !== userId && MESSAGE_TYPES.has(r.event.type)) { ev = r; break; }
      }
      if (!ev) continue;
      this.queue({ userId, room, eventId: ev.event.event_id, eventPos: ev.pos });
      u.last = started;
    }
  }

  /**
   * Marks of every user whose acknowledgements came in the last BATCH_MS, written together:
   * a message read by a room's members costs a few statements, not five per member.
   */
  private batch: Mark[] = [];
  private batchTimer: NodeJS.Timeout | null = null;

  private queue(m: Mark): void {
    this.batch.push(m);
    if (this.batchTimer) return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = null;
      const marks = this.batch.splice(0);
      void this.receipts.deliveredMany(marks).catch((err) => this.log.warn({ err: (err as Error).message }, "delivered receipts failed"));
    }, BATCH_MS);
    this.batchTimer.unref();
  }

  private async isOff(userId: UserId): Promise<boolean> {
    let off = this.optedOut.get(userId);
    if (off === undefined) {
      const s = await accountData.selectAccountData(this.db, userId, "", DELIVERY_SETTING);
      off = s?.enabled === false;
      this.optedOut.set(userId, off);
    }
    return off;
  }

  /** Stops the pending timers (shutdown). */
  close(): void {
    for (const u of this.users.values()) if (u.timer) clearTimeout(u.timer);
    if (this.batchTimer) clearTimeout(this.batchTimer);
  }
}

export type { RoomId };
