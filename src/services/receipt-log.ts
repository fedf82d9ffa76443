// The receipts that changed recently, per room, in memory: an incremental sync woken by a
// receipt reads them from here, not from the table (a read receipt wakes every member of the
// room, so a query per wake-up would be one per member per receipt).
//
// For each room the log holds every receipt change with a position above its floor: the
// changes written by this process as they commit, and those of other processes as the
// replicator reads them (selectStreamReceipts, whole rows). Below the floor (before the
// process started, or trimmed away) the table answers.
import type { RoomId } from "../matrix/ids.js";
import type { ReceiptRow } from "../store/receipts.js";

/** Changes kept per room; older ones are trimmed (the floor rises). */
const MAX_PER_ROOM = 512;
/** Rooms kept; beyond it the room with the oldest change is dropped. */
const MAX_ROOMS = 20_000;

export class ReceiptLog {
  private readonly rooms = new Map<RoomId, { floor: number; rows: ReceiptRow[] }>();
  /** Every room without a log of its own is complete above this. */
  private floor: number;

  constructor(start: number) {
    this.floor = start;
  }

  /** Forget everything below `pos` (the notifier was reset after a long outage). */
  reset(pos: number): void {
    this.rooms.clear();
    this.floor = Math.max(this.floor, pos);
  }

  /** A receipt change, committed. */
  add(r: ReceiptRow): void {
    let log = this.rooms.get(r.roomId);
    if (!log) {
      if (this.rooms.size >= MAX_ROOMS) this.dropOldest();
      this.rooms.set(r.roomId, (log = { floor: this.floor, rows: [] }));
    } else {
      // Most recently changed last, so the oldest is dropped first.
      this.rooms.delete(r.roomId);
      this.rooms.set(r.roomId, log);
    }
    if (r.pos <= log.floor) return;
    const rows = log.rows;
    let i = rows.length;
    while (i > 0 && rows[i - 1]!.pos > r.pos) i--; // in position order (commits are, nearly)
    if (i > 0 && rows[i - 1]!.pos === r.pos) return; // already known: a local write the replicator reads back
    rows.splice(i, 0, r);
    if (rows.length > MAX_PER_ROOM) log.floor = rows.splice(0, rows.length - MAX_PER_ROOM / 2).at(-1)!.pos;
  }

  /**
   * The receipts of `roomId` changed in (after, upTo], the latest change of each (user, type,
   * thread), as the table would give them; null when the log does not reach back to `after`.
   */
  since(roomId: RoomId, after: number, upTo: number): ReceiptRow[] | null {
    const log = this.rooms.get(roomId);
    if (after < (log?.floor ?? this.floor)) return null;
    if (!log) return [];
    const latest = new Map<string, ReceiptRow>();
    for (const r of log.rows) if (r.pos > after && r.pos <= upTo) latest.set(`${r.userId}\u0000${r.type}\u0000${r.threadId}`, r);
    return [...latest.values()];
  }

  /** A room's receipts were deleted (the room was purged): the table answers for it. */
  forgetRoom(roomId: RoomId, pos: number): void {
    this.rooms.set(roomId, { floor: pos, rows: [] });
  }

  private dropOldest(): void {
    const [roomId, log] = this.rooms.entries().next().value!;
    this.rooms.delete(roomId);
    // A room without a log is trusted above the shared floor: raise it past what was dropped.
    const last = log.rows.at(-1)?.pos ?? log.floor;
    this.floor = Math.max(this.floor, last);
  }
}
