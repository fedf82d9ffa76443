// Unread notification counts (`unread_notifications`, and `unread_thread_notifications` when
// the filter asks for them) in /sync, from receipts and push rules.
// https://spec.matrix.org/latest/client-server-api/#receiving-notifications
// https://spec.matrix.org/latest/client-server-api/#threaded-read-receipts
//
// An event counts when the user's push rules say it notifies (highlight: it highlights), it is
// not the user's own, and it is after the user's read position for its thread: the furthest of
// their unthreaded receipt and their receipt for that thread ("main" for the main timeline).
// The user's own event reads its thread up to it. Counts are computed when a sync needs them
// and kept per (user, room) with the position they reach, so the next sync evaluates only the
// new events, usually from the room's recent events in memory: a wake-up costs no query. A new
// receipt by the user drops the kept counts and they are recounted. Recounting reads at most
// COUNT_CAP events per room: beyond that the counts stop growing.
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import { userLevel } from "../matrix/power-levels.js";
import { evaluatePushRules, type RuleSet } from "../matrix/push-rules.js";
import { threadOf } from "../matrix/relations.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import * as receipts from "../store/receipts.js";
import type { RoomState, RoomStateCache } from "./room-state.js";

const COUNT_CAP = 1000;
const MAX_USERS = 50_000;
/** Recount reads kept for sharing (eventsAfter): how long, how many, and only the long ones. */
const SHARED_MS = 5000;
const SHARED_MAX = 1000;
const SHARED_MIN_ROWS = 100;

interface Pair { notify: number; highlight: number }
interface Counts { countedTo: number; byThread: Map<string, Pair> }
export interface UnreadCounts { notification_count: number; highlight_count: number }
export interface RoomUnread { total: UnreadCounts; main: UnreadCounts; threads: Record<string, UnreadCounts> }

/** Power levels parsed once per power-levels event (the room's current one), not per event counted. */
const levelsOf = (room: RoomState) => room.powerLevels();

const out = (p: Pair | undefined): UnreadCounts => ({ notification_count: p?.notify ?? 0, highlight_count: p?.highlight ?? 0 });

export class UnreadService {
  private readonly users = new Map<UserId, Map<RoomId, Counts>>();
  constructor(
    private readonly db: Db,
    private readonly cache: RoomStateCache,
    private readonly rulesOf: (userId: UserId) => Promise<RuleSet>,
    private readonly rulesPeek: (userId: UserId) => RuleSet | undefined = () => undefined,
  ) {}

  /** The users a user ignores, if known (loaded by sync before it counts: SyncService.prepare). */
  ignoredBy: (userId: UserId) => ReadonlySet<string> | undefined = () => undefined;

  /** The user's receipt in the room moved: recount. */
  forget(userId: UserId, roomId: RoomId): void {
    this.users.get(userId)?.delete(roomId);
  }

  /** A message in the room was redacted: whoever had it counted recounts. */
  forgetRoom(roomId: RoomId): void {
    for (const rooms of this.users.values()) rooms.delete(roomId);
    for (const k of this.shared.keys()) if (k.startsWith(`${roomId}|`)) this.shared.delete(k);
  }

  /** The user's push rules changed: recount everything. */
  forgetUser(userId: UserId): void {
    this.users.delete(userId);
  }

  /** Are the user's counts in memory for every room of `memberships` they are joined to? */
  /** Has the room had no event after `pos`? (The notifier knows; set at start.) */
  quietSince: (roomId: RoomId, pos: number) => boolean = () => false;

  hasJoined(userId: UserId, memberships: ReadonlyMap<RoomId, { membership: string }>): boolean {
    const mine = this.users.get(userId);
    if (!mine) return false;
    for (const [roomId, m] of memberships) if (m.membership === "join" && !mine.has(roomId)) return false;
    return true;
  }

  /** Counts the rooms not yet counted for the user, so later syncs count on from memory. */
  async warm(userId: UserId, roomIds: RoomId[], upTo: number): Promise<void> {
    const mine = this.users.get(userId);
    const missing = mine ? roomIds.filter((r) => !mine.has(r)) : roomIds;
    if (missing.length) await this.counts(userId, missing, upTo);
  }

  async counts(userId: UserId, roomIds: RoomId[], upTo: number): Promise<Map<RoomId, RoomUnread>> {
    let mine = this.users.get(userId);
    if (!mine) {
      if (this.users.size >= MAX_USERS) this.users.delete(this.users.keys().next().value!);
      this.users.set(userId, (mine = new Map()));
    }
    const rules = await this.rulesOf(userId);
    const recount: RoomId[] = [];
    for (const roomId of roomIds) {
      const c = mine.get(roomId);
      if (!c) { recount.push(roomId); continue; }
      const settled = c.countedTo >= upTo || this.quietSince(roomId, c.countedTo);
      const room = settled ? undefined : (await this.cache.get(roomId)) ?? undefined;
      if (!this.countOn(c, roomId, room, upTo, userId, rules)) recount.push(roomId);
    }
    if (recount.length) {
      await this.cache.loadMany(recount);
      const read = await receipts.selectReadPositions(this.db, userId, recount);
      const unthreaded = (r: RoomId) => read.get(r)?.get("") ?? -1;
      const newest = await this.eventsAfter(recount.map((r) => ({ roomId: r, after: unthreaded(r) })), upTo);
      for (const roomId of recount) {
        const room = await this.cache.get(roomId);
        const c: Counts = { countedTo: upTo, byThread: new Map() };
        if (room) {
          const positions = read.get(roomId) ?? new Map<string, number>();
          const facts = this.factsOf(room, userId, rules);
          for (const r of (newest.get(roomId) ?? []).slice().reverse()) {
            const thread = threadOf(r.event);
            if (r.pos <= Math.max(unthreaded(roomId), positions.get(thread) ?? -1)) continue;
            this.count(c, r.event, facts);
          }
        }
        mine.set(roomId, c);
      }
    }
    return this.totals(mine, roomIds);
  }

  /**
   * counts() from memory alone, without waiting: null when anything is not there (the rules,
   * a room's counts, its recent events). A woken WebSocket counts on from this (sync-quick.ts).
   */
  countsNow(userId: UserId, roomIds: RoomId[], upTo: number): Map<RoomId, RoomUnread> | null {
    const mine = this.users.get(userId);
    const rules = this.rulesPeek(userId);
    if (!mine || !rules) return null;
    for (const roomId of roomIds) {
      const c = mine.get(roomId);
      if (!c || !this.countOn(c, roomId, this.cache.peek(roomId), upTo, userId, rules)) return null;
    }
    return this.totals(mine, roomIds);
  }

  /**
   * Counts the room's events after what `c` has counted, up to `upTo`, from its recent events
   * in memory; false when they do not reach back far enough (recount). Room state is only
   * needed when something happened in the room since (an account in more rooms than the state
   * cache holds would otherwise reload them on every sync).
   */
  private countOn(c: Counts, roomId: RoomId, room: RoomState | undefined, upTo: number, userId: UserId, rules: RuleSet): boolean {
    if (c.countedTo >= upTo) return true;
    if (this.quietSince(roomId, c.countedTo)) { c.countedTo = upTo; return true; }
    const rows = room?.recentBetween(c.countedTo, upTo) ?? null;
    if (!room || !rows) return false;
    // Everything new is after every receipt the counts were made with.
    if (rows.length === 0) { c.countedTo = upTo; return true; }
    const facts = this.factsOf(room, userId, rules);
    for (const r of rows) this.count(c, r.event, facts);
    c.countedTo = upTo;
    return true;
  }

  private totals(mine: Map<RoomId, Counts>, roomIds: RoomId[]): Map<RoomId, RoomUnread> {
    const result = new Map<RoomId, RoomUnread>();
    for (const roomId of roomIds) {
      const c = mine.get(roomId)!;
      const total: Pair = { notify: 0, highlight: 0 };
      const threads: Record<string, UnreadCounts> = {};
      for (const [t, p] of c.byThread) {
        total.notify += p.notify;
        total.highlight += p.highlight;
        if (t !== "main" && (p.notify || p.highlight)) threads[t] = out(p);
      }
      result.set(roomId, { total: out(total), main: out(c.byThread.get("main")), threads });
    }
    return result;
  }

  /**
   * The events each recount reads, shared for a few seconds between users who ask for the same
   * room from the same read position up to the same position: a crowd joining or connecting to
   * a big room (where nobody has read anything yet) reads and parses its history once, not once
   * per user. History below a committed position does not change but for redactions, which
   * clear this (forgetRoom).
   */
  private readonly shared = new Map<string, { at: number; rows: events.EventRow[] }>();

  private async eventsAfter(rooms: { roomId: RoomId; after: number }[], upTo: number): Promise<Map<RoomId, events.EventRow[]>> {
    const out = new Map<RoomId, events.EventRow[]>();
    const now = Date.now();
    const missing: { roomId: RoomId; after: number }[] = [];
    for (const r of rooms) {
      const hit = this.shared.get(`${r.roomId}|${r.after}|${upTo}`);
      if (hit && now - hit.at < SHARED_MS) out.set(r.roomId, hit.rows);
      else missing.push(r);
    }
    if (missing.length) {
      const fromDb = await events.selectEventsAfterEach(this.db, missing, upTo, COUNT_CAP);
      if (this.shared.size > SHARED_MAX) this.shared.clear();
      for (const r of missing) {
        const rows = fromDb.get(r.roomId) ?? [];
        out.set(r.roomId, rows);
        if (rows.length >= SHARED_MIN_ROWS) this.shared.set(`${r.roomId}|${r.after}|${upTo}`, { at: now, rows });
      }
    }
    return out;
  }

  /** What counting the user's events in a room reads once, not per event. */
  private factsOf(room: RoomState, userId: UserId, rules: RuleSet): Facts {
    const name = room.get("m.room.member", userId)?.content.displayname;
    return { userId, rules, pl: levelsOf(room), name: typeof name === "string" ? name : null, memberCount: room.joined.size, ignored: this.ignoredBy(userId) };
  }

  private count(c: Counts, ev: ClientEvent, f: Facts): void {
    const thread = threadOf(ev);
    let p = c.byThread.get(thread);
    if (!p) c.byThread.set(thread, (p = { notify: 0, highlight: 0 }));
    if (ev.sender === f.userId) {
      p.notify = 0;
      p.highlight = 0;
      return;
    }
    if (ev.unsigned?.redacted_because) return; // a redacted message is no longer news
    if (f.ignored?.has(ev.sender)) return; // an ignored user's messages are not shown, nor counted
    const res = evaluatePushRules(f.rules, ev as unknown as Record<string, unknown>, {
      userId: f.userId,
      displayName: f.name,
      memberCount: f.memberCount,
      senderPower: userLevel(f.pl, ev.sender),
      notificationLevels: f.pl.notifications,
    });
    if (res.notify && p.notify < COUNT_CAP) p.notify++;
    if (res.highlight && p.highlight < COUNT_CAP) p.highlight++;
  }
}

interface Facts { userId: UserId; rules: RuleSet; pl: ReturnType<typeof levelsOf>; name: string | null; memberCount: number; ignored: ReadonlySet<string> | undefined }
