// In-memory current state of rooms: what auth checks, membership lists and the notifier read on
// every send, kept up to date after each commit and reloaded on a miss (DESIGN §5).
import { currentPowerLevels, type StateLookup } from "../matrix/auth-rules.js";
import type { PowerLevels } from "../matrix/power-levels.js";
import { redactedForm, type ClientEvent } from "../matrix/events.js";
import type { EventId, RoomId, UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";

const key = (type: string, stateKey: string) => `${type}\u0000${stateKey}`;

export interface StateEntry { event: ClientEvent; pos: number }

/** How many of a room's latest events stay in memory, so a sync wake-up needs no query. */
const RECENT_EVENTS = 64;

export class RoomState implements StateLookup {
  /** Users whose membership is join or invite: who hears about the room's events. */
  readonly interested = new Set<UserId>();
  readonly joined = new Set<UserId>();
  /** The latest events (oldest first). Every event with pos > recentFloor is in it. */
  readonly recent: events.EventRow[] = [];

  constructor(
    readonly roomId: RoomId,
    readonly version: string,
    readonly state: Map<string, StateEntry>,
    public head: { eventId: EventId; depth: number } | null,
    public lastPos: number,
    public recentFloor: number = lastPos,
  ) {
    for (const e of state.values()) this.trackMember(e.event);
  }

  /** Keeps a committed event in the recent list. */
  remember(row: events.EventRow): void {
    this.recent.push(row);
    if (this.recent.length > RECENT_EVENTS) this.recentFloor = this.recent.shift()!.pos;
  }

  /** Events with after < pos <= upTo from memory, or null if some may be older than memory holds. */
  recentBetween(after: number, upTo: number): events.EventRow[] | null {
    if (after < this.recentFloor) return null;
    return this.recent.filter((r) => r.pos > after && r.pos <= upTo);
  }

  get(type: string, stateKey: string): ClientEvent | undefined {
    return this.state.get(key(type, stateKey))?.event;
  }

  entry(type: string, stateKey: string): StateEntry | undefined {
    return this.state.get(key(type, stateKey));
  }

  private levels: { from: ClientEvent | undefined; pl: PowerLevels } | null = null;

  /** The power levels in force, as the room's version reads them; parsed once per power-levels event. */
  powerLevels(): PowerLevels {
    const from = this.get("m.room.power_levels", "") ?? this.get("m.room.create", "");
    if (this.levels?.from !== from || !this.levels) this.levels = { from, pl: currentPowerLevels(this, this.version) };
    return this.levels.pl;
  }

  apply(ev: ClientEvent, pos: number): void {
    if (pos > this.lastPos) this.lastPos = pos;
    if (ev.type === "m.room.redaction") this.redact(ev);
    if (ev.state_key === undefined) return;
    this.state.set(key(ev.type, ev.state_key), { event: ev, pos });
    this.trackMember(ev);
  }

  /** A redaction: the copies of its target held here take the redacted form (as the database did). */
  private redact(redaction: ClientEvent): void {
    const target = typeof redaction.redacts === "string" ? redaction.redacts : redaction.content.redacts;
    if (typeof target !== "string") return;
    for (let i = 0; i < this.recent.length; i++) {
      const r = this.recent[i]!;
      if (r.event.event_id === target && !r.event.unsigned?.redacted_because) this.recent[i] = { ...r, event: redactedForm(r.event, this.version, redaction) };
    }
    for (const [k, e] of this.state) {
      if (e.event.event_id === target && !e.event.unsigned?.redacted_because) this.state.set(k, { ...e, event: redactedForm(e.event, this.version, redaction) });
    }
  }

  private trackMember(ev: ClientEvent): void {
    if (ev.type !== "m.room.member" || ev.state_key === undefined) return;
    const u = ev.state_key as UserId;
    const m = ev.content.membership;
    if (m === "join" || m === "invite") this.interested.add(u);
    else this.interested.delete(u);
    if (m === "join") this.joined.add(u);
    else this.joined.delete(u);
  }

  membership(userId: string): string {
    const m = this.get("m.room.member", userId)?.content.membership;
    return typeof m === "string" ? m : "leave";
  }
}

/** A copy-on-write view over a room's state, for checking a batch of new events in order. */
export class StateOverlay implements StateLookup {
  private changes = new Map<string, ClientEvent>();
  constructor(private readonly base: StateLookup) {}
  get(type: string, stateKey: string): ClientEvent | undefined {
    return this.changes.get(key(type, stateKey)) ?? (this.base.get(type, stateKey) as ClientEvent | undefined);
  }
  set(ev: ClientEvent): void {
    if (ev.state_key !== undefined) this.changes.set(key(ev.type, ev.state_key), ev);
  }
  checkpoint(): Map<string, ClientEvent> { return new Map(this.changes); }
  restore(cp: Map<string, ClientEvent>): void { this.changes = cp; }
}

export class RoomStateCache {
  private readonly rooms = new Map<RoomId, RoomState>();
  private readonly loading = new Map<RoomId, Promise<RoomState | null>>();
  /** Commits seen per room while a load may be reading: a load that overlaps one is redone. */
  private readonly commits = new Map<RoomId, number>();

  constructor(private readonly db: Db, private readonly capacity = 5000) {}

  async get(roomId: RoomId): Promise<RoomState | null> {
    const hit = this.rooms.get(roomId);
    if (hit) return hit;
    let p = this.loading.get(roomId);
    if (!p) {
      p = this.load(roomId).finally(() => this.loading.delete(roomId));
      this.loading.set(roomId, p);
    }
    return p;
  }

  /**
   * Loads the rooms not in memory with three queries in all rather than three per room (an
   * initial sync over many rooms). A room whose load overlapped a commit is left to get().
   */
  async loadMany(roomIds: RoomId[]): Promise<void> {
    const todo = roomIds.filter((r) => !this.rooms.has(r) && !this.loading.has(r)).slice(0, this.capacity);
    if (todo.length < 2) return;
    for (const r of todo) this.commits.set(r, 0);
    const batch = (async () => {
      const [rooms, states] = await Promise.all([events.selectRoomsWithMaxPos(this.db, todo), events.selectCurrentStateMany(this.db, todo)]);
      for (const room of rooms) {
        if ((this.commits.get(room.roomId) ?? 0) > 0) continue;
        const state = new Map<string, StateEntry>();
        for (const r of states.get(room.roomId) ?? []) state.set(key(r.event.type, r.event.state_key!), { event: r.event, pos: r.pos });
        this.put(new RoomState(room.roomId, room.roomVersion, state, room.headEventId ? { eventId: room.headEventId, depth: room.headDepth } : null, room.maxPos, room.maxPos));
      }
    })();
    for (const r of todo) {
      const p: Promise<RoomState | null> = batch.then(() => undefined, () => undefined).then(() => {
        this.commits.delete(r);
        this.loading.delete(r);
        return this.get(r);
      });
      this.loading.set(r, p);
    }
    await batch.catch(() => undefined);
    await Promise.all(todo.map((r) => this.loading.get(r)));
  }

  peek(roomId: RoomId): RoomState | undefined {
    return this.rooms.get(roomId);
  }

  put(rs: RoomState): void {
    if (this.rooms.size >= this.capacity) {
      // Drop the oldest entry (Map keeps insertion order); it reloads on its next use.
      const first = this.rooms.keys().next().value;
      if (first !== undefined) this.rooms.delete(first);
    }
    this.rooms.set(rs.roomId, rs);
  }

  invalidate(roomId: RoomId): void {
    this.rooms.delete(roomId);
  }

  clear(): void {
    this.rooms.clear();
  }

  /** Another process committed to the room: a load in flight may predate it, so it is redone. */
  changedElsewhere(roomId: RoomId): void {
    if (this.loading.has(roomId)) this.commits.set(roomId, (this.commits.get(roomId) ?? 0) + 1);
  }

  /**
   * The writer committed to a room whose state object was `room`. If the cache now holds
   * another object for it (evicted and reloaded meanwhile), drop that one: it may predate the
   * commit. A load still in flight is redone.
   */
  committed(room: RoomState): void {
    if (this.loading.has(room.roomId)) this.commits.set(room.roomId, (this.commits.get(room.roomId) ?? 0) + 1);
    const cur = this.rooms.get(room.roomId);
    if (cur && cur !== room) this.rooms.delete(room.roomId);
  }

  private async load(roomId: RoomId): Promise<RoomState | null> {
    for (;;) {
      this.commits.set(roomId, 0);
      const rs = await this.read(roomId);
      const overlapped = (this.commits.get(roomId) ?? 0) > 0;
      this.commits.delete(roomId);
      if (overlapped) continue;
      if (rs) this.put(rs);
      return rs;
    }
  }

  private async read(roomId: RoomId): Promise<RoomState | null> {
    const room = await events.selectRoom(this.db, roomId);
    if (!room) return null;
    const [rows, maxPos] = await Promise.all([events.selectCurrentState(this.db, roomId), events.selectRoomMaxPos(this.db, roomId)]);
    const state = new Map<string, StateEntry>();
    for (const r of rows) state.set(key(r.event.type, r.event.state_key!), { event: r.event, pos: r.pos });
    // Events after maxPos are committed by this process's writer and remembered as they come.
    return new RoomState(roomId, room.roomVersion, state, room.headEventId ? { eventId: room.headEventId, depth: room.headDepth } : null, maxPos, maxPos);
  }
}
