// Reading rooms: single events, history pages, context, state and members, all through the
// history-visibility rules. https://spec.matrix.org/latest/client-server-api/#getting-events-for-a-room
import { MatrixError, forbidden, notFound } from "../http/errors.js";
import type { ClientEvent } from "../matrix/events.js";
import { matchesEventFilter, type RoomEventFilter } from "../matrix/filter.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import { formatToken } from "../matrix/tokens.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import type { Notifier } from "./notifier.js";
import type { RoomState, RoomStateCache } from "./room-state.js";
import type { Requester } from "./tokens.js";
import { Visibility } from "./visibility.js";

/** How many events one page may examine while skipping ones the user may not see. */
const MAX_SCAN = 2000;
const CHUNK = 100;

/** The event as this requester sees it: age, and the transaction ID for the device that sent it. */
export function serialize(row: events.EventRow, who: Requester | null, now = Date.now()): ClientEvent {
  const ev = row.event;
  const unsigned: Record<string, unknown> = { ...(ev.unsigned ?? {}), age: Math.max(0, now - ev.origin_server_ts) };
  if (row.txn && who && ev.sender === who.userId && row.txn.device === who.deviceId) unsigned.transaction_id = row.txn.id;
  return { ...ev, unsigned };
}

export interface Access {
  room: RoomState;
  membership: string;
  /** Up to which position the user may read state: current for members, their leave for former members. */
  stateUpTo: number | null;
  worldReadable: boolean;
}

/** Adds bundled aggregations to rows (services/relations.ts); set once the services are built. */
export type Bundler = (rows: events.EventRow[], userId: UserId, seen?: ReadonlyMap<RoomId, Visibility>) => Promise<events.EventRow[]>;

export class RoomReadService {
  bundle: Bundler = async (rows) => rows;

  constructor(private readonly db: Db, private readonly cache: RoomStateCache, private readonly notifier: Notifier) {}

  /** Who may read this room, and how far. Non-members of rooms that are not world-readable get 403. */
  async access(userId: UserId, roomId: RoomId): Promise<Access> {
    const room = await this.cache.get(roomId);
    if (!room) throw forbidden("You are not in this room (or it does not exist)");
    const membership = room.membership(userId);
    const worldReadable = room.get("m.room.history_visibility", "")?.content.history_visibility === "world_readable";
    if (membership === "join") return { room, membership, stateUpTo: null, worldReadable };
    const entry = room.entry("m.room.member", userId);
    if (entry && (membership === "leave" || membership === "ban")) return { room, membership, stateUpTo: entry.pos, worldReadable };
    if (membership === "invite" || worldReadable) return { room, membership, stateUpTo: worldReadable ? null : entry?.pos ?? null, worldReadable };
    throw forbidden("You are not in this room");
  }

  /** GET /rooms/{roomId}/event/{eventId}: 404 if it is not there or not visible. */
  async event(who: Requester, roomId: RoomId, eventId: string): Promise<ClientEvent> {
    const { row, vis } = await this.visible(who, roomId, eventId);
    return serialize((await this.bundle([row], who.userId, new Map([[roomId, vis]])))[0]!, who);
  }

  /** The event without bundles, for callers that only check it is visible. */
  async visibleEvent(who: Requester, roomId: RoomId, eventId: string): Promise<events.EventRow> {
    return (await this.visible(who, roomId, eventId)).row;
  }

  private async visible(who: Requester, roomId: RoomId, eventId: string): Promise<{ row: events.EventRow; vis: Visibility }> {
    await this.access(who.userId, roomId).catch(() => { throw notFound("Event not found"); });
    const row = await events.selectEventById(this.db, eventId);
    if (!row || row.event.room_id !== roomId) throw notFound("Event not found");
    const vis = await Visibility.load(this.db, roomId, who.userId);
    if (!vis.canSee(row.event, row.pos)) throw notFound("Event not found");
    return { row, vis };
  }

  /** The current state, or the state when the user left. */
  async state(who: Requester, roomId: RoomId): Promise<ClientEvent[]> {
    const a = await this.access(who.userId, roomId);
    if (a.membership === "invite" && !a.worldReadable) throw forbidden("You are not in this room");
    const rows = a.stateUpTo === null ? await events.selectCurrentState(this.db, roomId) : await events.selectStateAt(this.db, roomId, a.stateUpTo + 1);
    const now = Date.now();
    return rows.map((r) => serialize(r, who, now));
  }

  async stateEvent(who: Requester, roomId: RoomId, type: string, stateKey: string): Promise<ClientEvent> {
    const a = await this.access(who.userId, roomId);
    if (a.membership === "invite" && !a.worldReadable) throw forbidden("You are not in this room");
    if (a.stateUpTo === null) {
      const e = a.room.entry(type, stateKey);
      if (!e) throw notFound("State event not found");
      return serialize({ pos: e.pos, event: e.event }, who);
    }
    const row = await events.selectStateBefore(this.db, roomId, type, stateKey, a.stateUpTo + 1);
    if (!row) throw notFound("State event not found");
    return serialize(row, who);
  }

  /** GET /rooms/{roomId}/members */
  async members(who: Requester, roomId: RoomId, at: number | null, membership?: string, notMembership?: string): Promise<ClientEvent[]> {
    const a = await this.access(who.userId, roomId);
    if (a.membership === "invite" && !a.worldReadable) throw forbidden("You are not in this room");
    let upTo = a.stateUpTo;
    if (at !== null) upTo = upTo === null ? at : Math.min(upTo, at);
    const rows = upTo === null
      ? [...a.room.state.values()].filter((e) => e.event.type === "m.room.member").map((e) => ({ pos: e.pos, event: e.event }))
      : await events.selectStateAt(this.db, roomId, upTo + 1, ["m.room.member"]);
    const now = Date.now();
    return rows
      .filter((r) => (membership === undefined || r.event.content.membership === membership) && (notMembership === undefined || r.event.content.membership !== notMembership))
      .map((r) => serialize(r, who, now));
  }

  /** GET /rooms/{roomId}/joined_members: members only. */
  async joinedMembers(who: Requester, roomId: RoomId): Promise<Record<string, { display_name: string | null; avatar_url: string | null }>> {
    const a = await this.access(who.userId, roomId);
    if (a.membership !== "join" && !a.worldReadable) throw forbidden("You are not in this room");
    // Both keys always, null when unset (as the reference; clients read them without checking).
    const out: Record<string, { display_name: string | null; avatar_url: string | null }> = {};
    for (const u of a.room.joined) {
      const c = a.room.get("m.room.member", u)!.content;
      out[u] = { display_name: typeof c.displayname === "string" ? c.displayname : null, avatar_url: typeof c.avatar_url === "string" ? c.avatar_url : null };
    }
    return out;
  }

  /**
   * GET /rooms/{roomId}/messages. Positions: `from` is a gap in the stream; dir b returns events
   * at or below it, newest first; dir f those above it, oldest first.
   */
  async messages(who: Requester, roomId: RoomId, opts: { from: number | null; to: number | null; dir: "b" | "f"; limit: number; filter?: RoomEventFilter }): Promise<Record<string, unknown>> {
    await this.access(who.userId, roomId);
    const vis = await Visibility.load(this.db, roomId, who.userId);
    const current = this.notifier.currentPos;
    const from = Math.min(opts.from ?? current, current);
    const chunk: events.EventRow[] = [];
    let cursor = from;
    let exhausted = false;
    let scanned = 0;
    const floor = Math.max(vis.floor(), opts.dir === "b" && opts.to !== null ? opts.to : 0);
    const ceiling = opts.dir === "f" && opts.to !== null ? Math.min(opts.to, current) : current;
    // Read in chunks, skipping what the user may not see, until the page is full, the range
    // ends (no `end` token then), or the scan budget is spent (the client pages on).
    while (chunk.length < opts.limit && scanned < MAX_SCAN) {
      const rows = opts.dir === "b"
        ? await events.selectRoomEvents(this.db, roomId, floor, cursor, "b", CHUNK)
        : await events.selectRoomEvents(this.db, roomId, cursor, ceiling, "f", CHUNK);
      scanned += rows.length;
      let examined = 0;
      for (const r of rows) {
        examined++;
        cursor = opts.dir === "b" ? r.pos - 1 : r.pos;
        if (vis.canSee(r.event, r.pos) && matchesEventFilter(r.event, opts.filter)) {
          chunk.push(r);
          if (chunk.length >= opts.limit) break;
        }
      }
      if (rows.length < CHUNK && examined === rows.length) {
        exhausted = true;
        break;
      }
    }
    const now = Date.now();
    const out: Record<string, unknown> = {
      chunk: (await this.bundle(chunk, who.userId, new Map([[roomId, vis]]))).map((r) => serialize(r, who, now)),
      start: formatToken(from),
    };
    if (!exhausted) out.end = formatToken(cursor);
    if (opts.filter?.lazy_load_members) out.state = await this.lazyMembers(who, roomId, chunk.map((r) => r.event));
    return out;
  }

  /** GET /rooms/{roomId}/context/{eventId} */
  async context(who: Requester, roomId: RoomId, eventId: string, limit: number, filter?: RoomEventFilter): Promise<Record<string, unknown>> {
    // Someone who may not read the room at all is told so (403, as the reference answers; the
    // spec lists no error for /context); an event they may not see is not found.
    await this.access(who.userId, roomId);
    const row = await events.selectEventById(this.db, eventId);
    if (!row || row.event.room_id !== roomId) throw notFound("Event not found");
    const vis = await Visibility.load(this.db, roomId, who.userId);
    if (!vis.canSee(row.event, row.pos)) throw notFound("Event not found");
    const before = Math.floor(limit / 2);
    const after = limit - before;
    const pick = async (dir: "b" | "f", n: number) => {
      const out: events.EventRow[] = [];
      let cursor = dir === "b" ? row.pos - 1 : row.pos;
      let scanned = 0;
      while (out.length < n && scanned < MAX_SCAN) {
        const rows = dir === "b"
          ? await events.selectRoomEvents(this.db, roomId, 0, cursor, "b", CHUNK)
          : await events.selectRoomEvents(this.db, roomId, cursor, this.notifier.currentPos, "f", CHUNK);
        scanned += rows.length;
        for (const r of rows) {
          cursor = dir === "b" ? r.pos - 1 : r.pos;
          if (vis.canSee(r.event, r.pos) && matchesEventFilter(r.event, filter)) {
            out.push(r);
            if (out.length >= n) break;
          }
        }
        if (rows.length < CHUNK) break;
      }
      return { out, cursor };
    };
    const b = await pick("b", before);
    const f = await pick("f", after);
    const now = Date.now();
    const lastPos = f.out.length ? f.out[f.out.length - 1]!.pos : row.pos;
    const stateRows = await events.selectStateAt(this.db, roomId, lastPos + 1, filter?.lazy_load_members ? ["m.room.member"] : undefined);
    let state = stateRows.map((r) => serialize(r, who, now));
    if (filter?.lazy_load_members) {
      const senders = new Set([row.event.sender, ...b.out.map((r) => r.event.sender), ...f.out.map((r) => r.event.sender)]);
      state = state.filter((e) => e.type === "m.room.member" && senders.has(e.state_key as UserId));
    }
    const bundled = await this.bundle([row, ...b.out, ...f.out], who.userId, new Map([[roomId, vis]]));
    return {
      event: serialize(bundled[0]!, who, now),
      events_before: bundled.slice(1, 1 + b.out.length).map((r) => serialize(r, who, now)),
      events_after: bundled.slice(1 + b.out.length).map((r) => serialize(r, who, now)),
      start: formatToken(b.cursor),
      end: formatToken(f.cursor),
      state,
    };
  }

  /** GET /rooms/{roomId}/timestamp_to_event */
  async eventAtTimestamp(who: Requester, roomId: RoomId, ts: number, dir: "f" | "b"): Promise<{ event_id: string; origin_server_ts: number }> {
    // The nearest event this user may see: a former member's answer is never an event after
    // they left, nor one history visibility hides.
    const a = await this.access(who.userId, roomId);
    const vis = await Visibility.load(this.db, roomId, who.userId);
    const rows = await events.selectEventsByTimestamp(this.db, roomId, ts, dir, (a.membership === "leave" || a.membership === "ban") && a.stateUpTo !== null ? a.stateUpTo : Number.MAX_SAFE_INTEGER, 200);
    const row = rows.find((r) => vis.canSee(r.event, r.pos));
    if (!row) throw new MatrixError(404, "M_NOT_FOUND", "No event found");
    return { event_id: row.event.event_id, origin_server_ts: row.event.origin_server_ts };
  }

  /** The membership events of the senders of `evs` (lazy-loading members). */
  async lazyMembers(who: Requester, roomId: RoomId, evs: ClientEvent[]): Promise<ClientEvent[]> {
    const room = await this.cache.get(roomId);
    if (!room) return [];
    const senders = new Set(evs.map((e) => e.sender));
    const out: ClientEvent[] = [];
    const now = Date.now();
    for (const s of senders) {
      const e = room.entry("m.room.member", s);
      if (e) out.push(serialize({ pos: e.pos, event: e.event }, who, now));
    }
    return out;
  }
}
