// Receipts and read markers. https://spec.matrix.org/latest/client-server-api/#receipts
import { MatrixError, forbidden, notFound } from "../http/errors.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import * as store from "../store/receipts.js";
import type { AccountDataService } from "./account-data.js";
import type { Notifier } from "./notifier.js";
import type { RoomState, RoomStateCache } from "./room-state.js";
import type { UnreadService } from "./unread.js";
import type { DeliveredWakes } from "./delivered-wakes.js";
import { ReceiptLog } from "./receipt-log.js";

/** The spec's receipt types, and our delivered receipt (docs/delivery-receipts.md), which clients may also set. */
export const RECEIPT_TYPES = ["m.read", "m.read.private", "m.fully_read", "org.ganglion.delivered"] as const;


export class ReceiptService {
  constructor(
    private readonly db: Db,
    private readonly cache: RoomStateCache,
    private readonly notifier: Notifier,
    private readonly accountData: AccountDataService,
    private readonly unread: UnreadService,
    private readonly deliveredWakes: DeliveredWakes,
    /** Recent changes in memory, so a wake-up reads no table (receipt-log.ts). */
    readonly log = new ReceiptLog(notifier.startPos),
  ) {}

  /** POST /rooms/{roomId}/receipt/{receiptType}/{eventId}. A receipt that would move backwards changes nothing. */
  async receipt(userId: UserId, roomId: RoomId, type: string, eventId: string, threadId: string | undefined): Promise<void> {
    if (!(RECEIPT_TYPES as readonly string[]).includes(type)) throw new MatrixError(400, "M_INVALID_PARAM", `Unknown receipt type ${type}`);
    if (threadId !== undefined) {
      if (typeof threadId !== "string" || threadId.length === 0) throw new MatrixError(400, "M_INVALID_PARAM", "thread_id field must be a non-empty string");
      if (type === "m.fully_read") throw new MatrixError(400, "M_INVALID_PARAM", "m.fully_read cannot be threaded");
      if (threadId !== "main" && !threadId.startsWith("$")) throw new MatrixError(400, "M_INVALID_PARAM", "thread_id must be 'main' or an event ID");
    }
    const room = await this.cache.get(roomId);
    if (!room || room.membership(userId) !== "join") throw forbidden("You are not in this room");
    const ev = await events.selectEventById(this.db, eventId);
    if (!ev || ev.event.room_id !== roomId) throw notFound("Event not found");
    if (type === "m.fully_read") {
      await this.accountData.set(userId, roomId, "m.fully_read", { event_id: eventId }, true);
      return;
    }
    if (type === "org.ganglion.delivered") {
      if (threadId !== undefined) throw new MatrixError(400, "M_INVALID_PARAM", "org.ganglion.delivered cannot be threaded");
      return this.delivered(userId, room, eventId, ev.pos, false);
    }
    const r = { roomId, userId, type, threadId: threadId ?? "", eventId, eventPos: ev.pos, ts: Date.now() };
    const pos = await this.db.transaction((trx) => store.upsertReceipt(trx, r));
    if (pos === null) return;
    this.log.add({ ...r, pos });
    this.unread.forget(userId, roomId);
    // A private receipt concerns its owner only; a public one everyone in the room.
    this.notifier.receipt(roomId, type === "m.read.private" ? [userId] : [...room.interested], pos);
    await this.notifier.reach(pos);
  }

  /**
   * Moves the user's delivered watermark in the room forward to the event (never back). Set
   * through the API it is visible when the call returns; from acknowledgements (`batched`) it
   * wakes the room with the others of the moment.
   */
  async delivered(userId: UserId, room: RoomState, eventId: string, eventPos: number, batched = true): Promise<void> {
    const r = { roomId: room.roomId, userId, type: "org.ganglion.delivered", threadId: "", eventId, eventPos, ts: Date.now() };
    const pos = await this.db.transaction((trx) => store.upsertReceipt(trx, r));
    if (pos === null) return;
    this.log.add({ ...r, pos });
    if (batched) return this.deliveredWakes.add(room, userId, pos);
    this.notifier.receipt(room.roomId, [...room.interested], pos);
    await this.notifier.reach(pos);
  }

  /**
   * Delivered marks of many users from their devices' acknowledgements, written in one
   * transaction (delivery-receipts.ts gathers them); each wakes the room with the others of
   * the moment, as `delivered` does when batched.
   */
  async deliveredMany(marks: { userId: UserId; room: RoomState; eventId: string; eventPos: number }[]): Promise<void> {
    if (marks.length === 0) return;
    const ts = Date.now();
    const rooms = new Map(marks.map((m) => [m.room.roomId, m.room]));
    const written = await this.db.transaction((trx) => store.upsertReceipts(trx, "org.ganglion.delivered",
      marks.map((m) => ({ roomId: m.room.roomId, userId: m.userId, eventId: m.eventId, eventPos: m.eventPos, ts }))));
    for (const w of written) {
      this.log.add({ ...w, type: "org.ganglion.delivered", threadId: "" });
      this.deliveredWakes.add(rooms.get(w.roomId)!, w.userId, w.pos);
    }
  }

  /**
   * The m.receipt events for /sync: one per room, private receipts only for their owner.
   * Reads only rooms whose receipts changed after `after` (the notifier knows).
   */
  /** `ignored`: users whose receipts are not shown (m.ignored_user_list). */
  async forSync(userId: UserId, roomIds: RoomId[], after: number, upTo: number, ignored?: ReadonlySet<string>): Promise<Map<RoomId, Record<string, unknown>>> {
    const out = new Map<RoomId, Record<string, unknown>>();
    const rooms = after < 0 ? roomIds : roomIds.filter((r) => this.notifier.receiptsChanged(r, after));
    if (rooms.length === 0) return out;
    // Recent changes from memory; the table only for what the log does not reach back to.
    const rows: store.ReceiptRow[] = [];
    const older: RoomId[] = [];
    for (const roomId of rooms) {
      const recent = this.log.since(roomId, after, upTo);
      if (recent) rows.push(...recent);
      else older.push(roomId);
    }
    if (older.length) rows.push(...await store.selectReceiptsSince(this.db, older, after, upTo));
    for (const r of rows) {
      if (r.type === "m.read.private" && r.userId !== userId) continue;
      // A user's own delivered marks are for the others (what their devices have is no news to them).
      if (r.type === "org.ganglion.delivered" && r.userId === userId) continue;
      if (ignored?.has(r.userId)) continue;
      let content = out.get(r.roomId) as Record<string, Record<string, Record<string, unknown>>> | undefined;
      if (!content) out.set(r.roomId, (content = {}));
      const byType = (content[r.eventId] ??= {});
      const byUser = (byType[r.type] ??= {}) as Record<string, unknown>;
      byUser[r.userId] = { ts: r.ts, ...(r.threadId ? { thread_id: r.threadId } : {}) };
    }
    return out;
  }
}
