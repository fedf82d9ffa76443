// Following the other processes (only with Redis: several processes share one Postgres).
//
// Every persistent change takes a position from the one stream counter, and the counter's row
// lock makes position order commit order (schema/0002_rooms.sql). So "everything up to the
// counter's value is committed", and a process that reads every row in (its position, the
// counter] of each stream table (events, receipts, account data, device list changes, to-device)
// has seen everything. That read is the whole mechanism:
//  - a process that commits tells the others on the bus that the stream moved ("pos");
//  - each process then reads the new rows (one query per table, every room at once), brings
//    its in-memory views up to date (room state, memberships) and wakes the /sync requests and
//    WebSocket connections that care;
//  - its own commits go the same way, so the position it serves never passes a change made
//    elsewhere that it has not seen (a sync token can never skip an event);
//  - with Redis away, it polls the counter instead; after a gap too long to replay it drops
//    its caches and answers from the database.
import type { Logger } from "pino";
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import * as accountData from "../store/account-data.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import * as receipts from "../store/receipts.js";
import type { ReceiptLog } from "./receipt-log.js";
import * as e2ee from "../store/e2ee.js";
import type { Bus } from "./bus.js";
import type { Written } from "./event-writer.js";
import { roomMatesOf, type MembershipCache } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import type { RoomState, RoomStateCache } from "./room-state.js";
import type { UnreadService } from "./unread.js";
import type { DeliveredWakes } from "./delivered-wakes.js";

/** Rows read per round; a longer gap takes several rounds. */
const BATCH = 2000;
/** A gap longer than this is not replayed: caches are dropped and syncs read the database. */
const RESET_GAP = 50_000;
/** While Redis is away, how often the counter is polled. */
const POLL_MS = 500;

export class Replicator {
  private floor: number;
  private running: Promise<void> | null = null;
  private again = false;
  private poller: NodeJS.Timeout | null = null;
  private closed = false;
  /** Rounds completed, for waiters of reach(). */
  private rounds = 0;
  private readonly roundWaiters: (() => void)[] = [];
  private failing = false;

  /** Other processes' receipts go into it as they are read (receipt-log.ts). */
  receiptLog: ReceiptLog | null = null;

  constructor(
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly notifier: Notifier,
    private readonly cache: RoomStateCache,
    private readonly members: MembershipCache,
    private readonly unread: UnreadService,
    private readonly log: Logger,
    private readonly deliveredWakes: DeliveredWakes,
  ) {
    this.floor = notifier.currentPos;
    notifier.follower = {
      localCommit: (pos) => {
        this.bus.publish({ k: "pos", pos });
        this.kick();
      },
      reach: (pos) => this.reach(pos),
    };
    bus.onMessage((m) => { if (m.k === "pos" && m.pos > this.floor) this.kick(); });
    bus.onStatus((up) => {
      if (up) this.stopPolling();
      else this.startPolling();
      this.kick();
    });
    if (!bus.connected) this.startPolling();
  }

  get position(): number {
    return this.floor;
  }

  /** Reads what is new (coalesced: one read at a time, and one more if asked meanwhile). */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.catchUp();
          if (this.failing) this.log.info("following the stream again");
          this.failing = false;
        } catch (e) {
          // The database is away: the next kick (a message, a poll, a commit) tries again.
          if (!this.failing) this.log.warn({ err: (e as Error).message }, "cannot read the stream; retrying");
          this.failing = true;
          if (!this.poller) setTimeout(() => this.kick(), POLL_MS).unref();
          this.again = false;
        }
        this.rounds++;
        for (const w of this.roundWaiters.splice(0)) w();
      } while (this.again && !this.closed);
      this.running = null;
    })();
  }

  /** Resolves once the position reaches `pos`, or a round finishes without getting there. */
  async reach(pos: number): Promise<void> {
    for (let tries = 0; this.floor < pos && tries < 3 && !this.closed; tries++) {
      const done = new Promise<void>((resolve) => this.roundWaiters.push(resolve));
      this.kick();
      if (this.running) this.again = true;
      await done;
    }
  }

  close(): void {
    this.closed = true;
    this.stopPolling();
    for (const w of this.roundWaiters.splice(0)) w();
  }

  private startPolling(): void {
    if (this.poller || this.closed) return;
    this.poller = setInterval(() => this.kick(), POLL_MS);
    this.poller.unref();
  }

  private stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
  }

  private async catchUp(): Promise<void> {
    const top = await events.selectCurrentPosition(this.db);
    if (top <= this.floor) return;
    const after = this.floor;
    if (top - after > RESET_GAP) {
      this.log.warn({ from: after, to: top }, "too far behind to replay: dropping caches");
      this.cache.clear();
      this.members.clear();
      this.floor = top;
      this.notifier.reset(top);
      this.receiptLog?.reset(top);
      return;
    }
    const evs = await events.selectStreamEvents(this.db, after, top, BATCH);
    const upTo = evs.length === BATCH ? evs[evs.length - 1]!.pos : top;
    const [rcpts, data, lists, toDevice] = await Promise.all([
      receipts.selectStreamReceipts(this.db, after, upTo),
      accountData.selectStreamAccountData(this.db, after, upTo),
      e2ee.selectStreamDeviceListChanges(this.db, after, upTo),
      e2ee.selectStreamToDevice(this.db, after, upTo),
    ]);

    // Bring room state up to date before anyone is woken.
    const byRoom = new Map<RoomId, events.StreamEventRow[]>();
    for (const e of evs) {
      let l = byRoom.get(e.roomId);
      if (!l) byRoom.set(e.roomId, (l = []));
      l.push(e);
    }
    const rooms = new Map<RoomId, RoomState | null>();
    for (const [roomId, rows] of byRoom) {
      let room = this.cache.peek(roomId) ?? null;
      for (const r of rows) {
        if (!room) break;
        if (r.pos <= room.lastPos) continue; // this process wrote it, or loaded it
        // History is linear: the next event follows the head. Anything else means this copy
        // missed something; it reloads.
        if (!room.head || r.depth !== room.head.depth + 1) {
          this.cache.invalidate(roomId);
          room = null;
          break;
        }
        room.apply(r.event, r.pos);
        room.remember(r);
        room.head = { eventId: r.event.event_id, depth: r.depth };
      }
      this.cache.changedElsewhere(roomId);
      rooms.set(roomId, room);
    }

    this.floor = upTo;
    this.notifier.setPosition(upTo);

    for (const [roomId, rows] of byRoom) {
      const room = rooms.get(roomId) ?? (await this.cache.get(roomId));
      if (!room) continue;
      const written: Written[] = rows.map((r) => ({ eventId: r.event.event_id, pos: r.pos, event: r.event as ClientEvent }));
      this.members.onCommit(room, written);
      if (written.some((w) => w.event.type === "m.room.redaction")) this.unread.forgetRoom(roomId);
      this.notifier.roomEvents(room, written);
    }
    for (const r of rcpts) {
      this.receiptLog?.add(r);
      this.unread.forget(r.userId, r.roomId);
      const room = await this.cache.get(r.roomId);
      // As where it was written (receipts.ts): a private receipt concerns its owner only;
      // delivered receipts wake the room in batches.
      if (r.type === "org.ganglion.delivered" && room) this.deliveredWakes.add(room, r.userId as UserId, r.pos);
      else this.notifier.receipt(r.roomId, r.type === "m.read.private" || !room ? [r.userId] : [...room.interested], r.pos);
    }
    for (const d of data) this.notifier.accountData(d.userId, d.pos, d.type);
    for (const t of toDevice) this.notifier.toDevice([t.userId], t.pos);
    for (const l of lists) {
      const mates = await roomMatesOf(this.members, this.cache, l.userId);
      mates.add(l.userId);
      this.notifier.deviceLists(mates, l.pos);
    }
    if (upTo < top) this.again = true;
  }
}
