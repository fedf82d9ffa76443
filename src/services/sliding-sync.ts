// Simplified sliding sync (MSC4186): connections, the room list and the long-poll.
// docs/sliding-sync.md. A connection (user, device, conn_id) keeps, per response, a snapshot
// of what it was sent; a `pos` names one snapshot, so a retried request with the same `pos`
// is answered from the same starting point. Connections live in this process's memory: a
// restart, an expiry, or a request that reaches another process answers 400 M_UNKNOWN_POS and
// the client starts the connection again (the MSC's recovery).
import { randomInt } from "node:crypto";
import { MatrixError } from "../http/errors.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import { formatToken, parseToken } from "../matrix/tokens.js";
import * as accountData from "../store/account-data.js";
import type { Db } from "../store/db.js";
import { RoomFactsCache, type Facts } from "./sliding-facts.js";
import * as sliding from "../store/sliding.js";
import { decodeConnection, encodeConnection } from "./sliding-state.js";
import type { Membership, MembershipCache } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import type { PresenceService } from "./presence.js";
import type { RelationService } from "./relations.js";
import type { RoomStateCache } from "./room-state.js";
import { combine, type Combined, type ListFilters, type RoomConfig, type SlidingRequest } from "./sliding-request.js";
import { isFirstView, needsVisibility, roomResult, serializer, type RoomCtx, type RoomSent } from "./sliding-rooms.js";
import * as events from "../store/events.js";
import { Visibility } from "./visibility.js";
import { extensionResults, type ExtensionDeps } from "./sliding-extensions.js";
import type { SyncService } from "./sync.js";
import type { Requester } from "./tokens.js";
import type { TypingService } from "./typing.js";
import type { UnreadService } from "./unread.js";
import type { DbHealth } from "./db-health.js";
import { databaseAway } from "../http/errors.js";

type Json = Record<string, unknown>;

/** Bounds on connection memory (docs/sliding-sync.md). */
const MAX_CONNECTIONS_PER_USER = 20;
const MAX_CONNECTIONS = 20_000;
const IDLE_EXPIRY_MS = 30 * 60_000;
/** Snapshots a connection keeps: the newest, and a few before it for retried requests. */
const SNAPSHOTS_KEPT = 4;
const MAX_TIMEOUT_MS = 5 * 60_000;

export interface Snapshot {
  /** Random, so that two processes continuing one connection never give two snapshots one name. */
  seq: number;
  /** Stream position, typing and presence serials the response was computed at. */
  pos: number;
  typing: number;
  presence: number;
  rooms: ReadonlyMap<RoomId, RoomSent>;
  listCounts: ReadonlyMap<string, number>;
}

interface Connection {
  key: string;
  userId: UserId;
  nonce: number;
  snapshots: Snapshot[];
  subscriptions: Map<RoomId, RoomConfig>;
  extensions: Record<string, Record<string, unknown>>;
  used: number;
  /** m.direct's rooms and each room's tags, reloaded when the user's account data moves. */
  dm: { pos: number; rooms: Set<string> } | null;
  tags: { pos: number; byRoom: Map<RoomId, Record<string, unknown>> } | null;
}


/** A room the user may see in lists: their membership, its facts, its activity. */
interface Candidate { m: Membership; facts: Facts; activity: number }


export class SlidingSyncService {
  private readonly conns = new Map<string, Connection>();
  private readonly facts: RoomFactsCache;
  dbHealth: DbHealth | null = null;

  /**
   * `shared`: other processes serve the same users (Redis configured), so each response's
   * snapshot is also written to Postgres for whichever process gets the next request.
   */
  constructor(private readonly shared: boolean, private readonly db: Db, private readonly cache: RoomStateCache, private readonly notifier: Notifier, private readonly members: MembershipCache,
    private readonly relations: RelationService, private readonly unread: UnreadService, private readonly typing: TypingService,
    private readonly presence: PresenceService, private readonly sync: SyncService, private readonly ext: ExtensionDeps) {
    this.facts = new RoomFactsCache(db, cache, notifier);
  }

  /** How many connections are held (metrics, tests). */
  get connectionCount(): number { return this.conns.size; }

  /** Forgets every connection, as a restart does (their next request is M_UNKNOWN_POS). */
  forgetAll(): void { this.conns.clear(); }

  async request(who: Requester, req: SlidingRequest, signal?: AbortSignal, shutdown?: AbortSignal): Promise<Json> {
    return (await this.run(who, req, signal, shutdown)).body;
  }

  /** A request's response, and whether it carries anything new (the WebSocket pushes only those). */
  async run(who: Requester, req: SlidingRequest, signal?: AbortSignal, shutdown?: AbortSignal): Promise<{ body: Json; news: boolean }> {
    const key = `${who.userId}|${who.deviceId ?? ""}|${req.connId}`;
    this.sweep();
    let conn = this.conns.get(key);
    let prev: Snapshot | null = null;
    if (req.pos !== null) {
      prev = this.snapshotOf(conn, req.pos);
      if (!prev && this.shared) {
        // Another process may have answered the connection's last request.
        const loaded = await this.load(key, who.userId);
        if (loaded) {
          this.conns.set(key, (conn = loaded));
          prev = this.snapshotOf(conn, req.pos);
        }
      }
      if (!prev) throw new MatrixError(400, "M_UNKNOWN_POS", "Unknown position: start the connection again");
      // The client processed `prev`: older snapshots are done with, and its events are delivered.
      conn!.snapshots = conn!.snapshots.slice(conn!.snapshots.indexOf(prev));
      if (!req.noAck) this.sync.onAck?.(who.userId, prev.pos);
    } else {
      conn = this.open(key, who.userId);
    }
    const c = conn!;
    c.used = Date.now();
    for (const r of req.unsubscribe) c.subscriptions.delete(r);
    for (const [r, cfg] of req.subscriptions) c.subscriptions.set(r, cfg);
    for (const [k, { since: _since, ...cfg }] of Object.entries(req.extensions)) c.extensions[k] = { ...(c.extensions[k] ?? {}), ...cfg };
    if (req.setPresence !== "offline") await this.presence.set(who.userId, req.setPresence ?? "online");

    const deadline = Date.now() + Math.min(req.timeoutMs, MAX_TIMEOUT_MS);
    let waitFrom = prev ? { pos: prev.pos, typing: prev.typing, presence: prev.presence } : null;
    for (;;) {
      const out = await this.compute(who, c, prev, req);
      const cancelled = signal?.aborted === true || shutdown?.aborted === true;
      if (!prev || out.news || Date.now() >= deadline || cancelled) return { body: await this.commit(c, out.snapshot, out.body, req.txnId), news: out.news };
      // Nothing new: wait on the notifier as /sync does, from what this compute read.
      waitFrom = { pos: Math.max(waitFrom!.pos, out.snapshot.pos), typing: out.snapshot.typing, presence: out.snapshot.presence };
      if (this.dbHealth?.down) throw databaseAway();
      await this.notifier.wait(who.userId, waitFrom.pos, deadline - Date.now(), signal, waitFrom.typing, waitFrom.presence);
      if (this.dbHealth?.down) throw databaseAway();
      if (Date.now() >= deadline || signal?.aborted || shutdown?.aborted) {
        const last = await this.compute(who, c, prev, req);
        return { body: await this.commit(c, last.snapshot, last.body, req.txnId), news: last.news };
      }
    }
  }

  private open(key: string, userId: UserId): Connection {
    this.conns.delete(key);
    const mine = [...this.conns.values()].filter((x) => x.userId === userId).sort((a, b) => a.used - b.used);
    while (mine.length >= MAX_CONNECTIONS_PER_USER) this.conns.delete(mine.shift()!.key);
    if (this.conns.size >= MAX_CONNECTIONS) {
      const oldest = [...this.conns.values()].sort((a, b) => a.used - b.used)[0];
      if (oldest) this.conns.delete(oldest.key);
    }
    const conn: Connection = { key, userId, nonce: randomInt(1, 2 ** 31), snapshots: [], subscriptions: new Map(), extensions: {}, used: Date.now(), dm: null, tags: null };
    this.conns.set(key, conn);
    return conn;
  }

  private snapshotOf(conn: Connection | undefined, pos: string): Snapshot | null {
    if (!conn) return null;
    let t;
    try { t = parseToken(pos, "pos"); } catch { return null; }
    if (t.ephemeral.length !== 4 || t.ephemeral[2] !== conn.nonce) return null;
    return conn.snapshots.find((s) => s.seq === t.ephemeral[3]) ?? null;
  }

  private async commit(c: Connection, snap: Snapshot, body: Json, txnId?: string): Promise<Json> {
    c.snapshots.push(snap);
    if (c.snapshots.length > SNAPSHOTS_KEPT) c.snapshots.splice(0, c.snapshots.length - SNAPSHOTS_KEPT);
    if (this.shared) await sliding.upsertConnection(this.db, c.key, c.userId, encodeConnection(c, snap), Date.now());
    return { ...(txnId !== undefined ? { txn_id: txnId } : {}), pos: formatToken(snap.pos, [snap.typing, snap.presence, c.nonce, snap.seq]), ...body };
  }

  private async load(key: string, userId: UserId): Promise<Connection | null> {
    const data = await sliding.selectConnection(this.db, key);
    const d = data ? decodeConnection(data) : null;
    if (!d) return null;
    return { key, userId, nonce: d.nonce, snapshots: [d.snapshot], subscriptions: d.subscriptions, extensions: d.extensions, used: Date.now(), dm: null, tags: null };
  }

  private lastDbSweep = Date.now();

  private sweep(): void {
    const now = Date.now();
    for (const [k, c] of this.conns) if (now - c.used > IDLE_EXPIRY_MS) this.conns.delete(k);
    if (this.shared && now - this.lastDbSweep > 5 * 60_000) {
      this.lastDbSweep = now;
      void sliding.deleteIdleConnections(this.db, now - IDLE_EXPIRY_MS).catch(() => undefined);
    }
  }

  private async compute(who: Requester, c: Connection, prev: Snapshot | null, req: SlidingRequest): Promise<{ snapshot: Snapshot; body: Json; news: boolean }> {
    const userId = who.userId;
    let upTo = this.notifier.currentPos;
    const typingSerial = this.typing.serial;
    const presenceSerial = this.presence.serial;
    const memberships = await this.members.get(userId);
    for (const m of memberships) if (m.pos > upTo) upTo = m.pos;
    const ignored = await this.sync.ignoredBy(userId);
    const dm = await this.dmRooms(c, userId, upTo);

    // The user's rooms, most recent activity first (MSC: lists).
    const need = { encrypted: req.lists.some((l) => l.filters.isEncrypted !== undefined), type: req.lists.some((l) => !!(l.filters.roomTypes || l.filters.notRoomTypes)) };
    const { facts, senders } = await this.facts.of(userId, memberships, need);
    const cands: Candidate[] = [];
    for (const m of memberships) {
      const f = facts.get(m.roomId);
      if (!f) continue;
      if (m.membership === "leave" && !prev?.rooms.has(m.roomId) && senders.get(m.roomId) === userId) continue; // left by themselves
      if (m.membership === "invite" && ignored.has(senders.get(m.roomId) ?? "")) continue;
      cands.push({ m, facts: f, activity: m.membership === "join" ? f.lastPos : m.pos });
    }
    cands.sort((a, b) => b.activity - a.activity || (a.m.roomId < b.m.roomId ? -1 : 1));

    const chosen = new Map<RoomId, { cand: Candidate; configs: RoomConfig[]; lists: string[] }>();
    const listCounts = new Map<string, number>();
    const byList = new Map<string, RoomId[]>();
    const needTags = req.lists.some((l) => l.filters.tags || l.filters.notTags);
    const tags = needTags ? await this.roomTags(c, userId, upTo) : new Map();
    for (const l of req.lists) {
      const rooms: Candidate[] = [];
      const inSpaces = l.filters.spaces ? await this.spaceChildren(l.filters.spaces, userId, memberships) : null;
      for (const x of cands) if (passes(x, l.filters, dm, tags, inSpaces)) rooms.push(x);
      listCounts.set(l.key, rooms.length);
      const picked = l.ranges ? rooms.filter((_, i) => l.ranges!.some(([a, z]) => i >= a && i <= z)) : rooms;
      byList.set(l.key, picked.map((x) => x.m.roomId));
      for (const x of picked) {
        const e = chosen.get(x.m.roomId) ?? { cand: x, configs: [], lists: [] };
        e.configs.push(l.config);
        e.lists.push(l.key);
        chosen.set(x.m.roomId, e);
      }
    }
    // Subscriptions: rooms the user is in, invited to, knocking at, or was in (never others).
    const byId = c.subscriptions.size ? new Map(cands.map((x) => [x.m.roomId, x])) : new Map<RoomId, Candidate>();
    for (const [roomId, cfg] of c.subscriptions) {
      let x = byId.get(roomId);
      if (!x) {
        const m = memberships.find((y) => y.roomId === roomId && y.membership !== "ban");
        const f = facts.get(roomId);
        if (!m || !f || senders.get(roomId) === null) continue;
        x = { m, facts: f, activity: m.pos };
      }
      const e = chosen.get(roomId) ?? { cand: x, configs: [], lists: [] };
      e.configs.push(cfg);
      chosen.set(roomId, e);
    }

    const rooms: Json = {};
    const next = new Map(prev?.rooms ?? []);
    const ctxBase = { db: this.db, relations: this.relations, who, ignored, now: Date.now(), upTo, prevPos: prev?.pos ?? null, legacy: req.legacy };
    await this.facts.fillBumps([...chosen.values()].map((e) => e.cand));
    const initialRooms: RoomId[] = [];
    // State is read for the chosen rooms only; visibility and first views' events for all at once.
    await this.cache.loadMany([...chosen.keys()]);
    const combinedOf = new Map([...chosen].map(([roomId, e]) => [roomId, combine(e.configs)]));
    const { vis, recent } = await this.prefetch(chosen, combinedOf, prev, userId, upTo);
    // Timelines get their bundled aggregations for all rooms at once (two calls at most).
    const open: events.EventRow[] = [];
    const guarded: events.EventRow[] = [];
    const visMap = new Map<RoomId, Visibility>();
    for (const [roomId, e] of chosen) {
      const room = this.cache.peek(roomId) ?? await this.cache.get(roomId);
      if (!room) continue;
      const combined: Combined = combinedOf.get(roomId)!;
      const ctx: RoomCtx = { ...ctxBase, vis, recent, dm: dm.has(roomId), bump: e.cand.m.membership === "join" ? e.cand.facts.bump ?? e.cand.m.pos : e.cand.m.pos };
      const sentBefore = prev?.rooms.get(roomId);
      const r = await roomResult(ctx, e.cand.m, room, combined, sentBefore);
      next.set(roomId, r.sent);
      if (r.json?.timeline) (r.vis ? guarded : open).push(...(r.json.timeline as events.EventRow[]));
      if (r.vis) visMap.set(roomId, r.vis);
      if (r.json) {
        if (r.json.initial) initialRooms.push(roomId);
        rooms[roomId] = { ...r.json, ...(e.lists.length ? { lists: e.lists } : {}) };
      }
    }
    const bundled = new Map<string, events.EventRow>();
    for (const r of open.length ? await this.relations.bundle(open, userId, upTo, null, "all") : []) bundled.set(r.event.event_id, r);
    for (const r of guarded.length ? await this.relations.bundle(guarded, userId, upTo, null, visMap) : []) bundled.set(r.event.event_id, r);
    const ser = serializer(ctxBase);
    for (const json of Object.values(rooms) as Json[]) {
      if (Array.isArray(json.timeline)) json.timeline = (json.timeline as events.EventRow[]).map((r) => ser(bundled.get(r.event.event_id) ?? r));
    }
    // Unread counts of joined rooms: with each room sent, and a room whose counts moved (a read
    // receipt elsewhere) is sent for them alone.
    const joinedChosen = [...chosen.keys()].filter((r) => chosen.get(r)!.cand.m.membership === "join");
    const countsFor = joinedChosen.filter((r) => rooms[r] || !prev || this.notifier.receiptsChanged(r, prev.pos));
    if (countsFor.length) {
      const counts = await this.unread.counts(userId, countsFor, upTo);
      for (const roomId of countsFor) {
        const u = counts.get(roomId)?.total as { notification_count?: number; highlight_count?: number } | undefined;
        if (!u) continue;
        const text = JSON.stringify(u);
        const s = next.get(roomId)!;
        if (!rooms[roomId] && s.unread === text) continue;
        next.set(roomId, { ...s, unread: text });
        rooms[roomId] = { ...(rooms[roomId] as Json | undefined ?? {}), notification_count: u.notification_count ?? 0, highlight_count: u.highlight_count ?? 0 };
        if (chosen.get(roomId)!.lists.length) (rooms[roomId] as Json).lists = chosen.get(roomId)!.lists;
      }
    }

    const extensions = await extensionResults(this.ext, {
      who, conn: c.extensions, request: req.extensions, prev, upTo, typingSerial, memberships, ignored,
      lists: byList, subscribed: [...c.subscriptions.keys()].filter((r) => chosen.has(r)), sentRooms: Object.keys(rooms) as RoomId[], initialRooms,
    });
    const listsOut: Json = {};
    for (const [k, n] of listCounts) listsOut[k] = { count: n };
    const countsMoved = !prev || [...listCounts].some(([k, n]) => prev.listCounts.get(k) !== n);
    const news = Object.keys(rooms).length > 0 || extensions.news || countsMoved;
    const snapshot: Snapshot = { seq: randomInt(1, 2 ** 31), pos: upTo, typing: typingSerial, presence: presenceSerial, rooms: next, listCounts };
    return { snapshot, news, body: { lists: listsOut, rooms, extensions: extensions.body } };
  }

  /**
   * What the rooms' results will read, in a statement or two for all of them: the user's
   * visibility where a result needs it, and the latest events of first views that memory
   * does not hold (one query per timeline limit).
   */
  private async prefetch(chosen: Map<RoomId, { cand: Candidate }>, combinedOf: Map<RoomId, Combined>, prev: Snapshot | null, userId: UserId, upTo: number)
    : Promise<{ vis: Map<RoomId, Visibility>; recent: Map<RoomId, events.EventRow[]> }> {
    const needVis: RoomId[] = [];
    const byLimit = new Map<number, RoomId[]>();
    for (const [roomId, e] of chosen) {
      const sent = prev?.rooms.get(roomId);
      const combined = combinedOf.get(roomId)!;
      if (!needsVisibility(e.cand.m, sent, combined)) continue;
      needVis.push(roomId);
      if (e.cand.m.membership !== "join" || (!isFirstView(e.cand.m, sent) && combined.timelineLimit <= sent!.combined.timelineLimit)) continue;
      const room = this.cache.peek(roomId);
      const limit = combined.timelineLimit;
      if (room && room.recent.filter((r) => r.pos <= upTo).length >= limit + 1) continue;
      byLimit.set(limit, [...(byLimit.get(limit) ?? []), roomId]);
    }
    const recent = new Map<RoomId, events.EventRow[]>();
    for (const [limit, rooms] of byLimit) for (const [k, v] of await events.selectRecentEventsMany(this.db, rooms, -1, upTo, limit + 1)) recent.set(k, v);
    return { vis: needVis.length ? await Visibility.loadMany(this.db, needVis, userId) : new Map(), recent };
  }

  /** The rooms the spaces (those the user is joined to) name in m.space.child events; subspaces not followed. */
  private async spaceChildren(spaces: string[], userId: UserId, memberships: Membership[]): Promise<Set<string>> {
    const out = new Set<string>();
    // Only spaces the user is joined to (the MSC): anything else is never read.
    const joined = new Set(memberships.filter((m) => m.membership === "join").map((m) => m.roomId as string));
    for (const s of spaces) {
      if (!joined.has(s)) continue;
      const space = await this.cache.get(s as RoomId).catch(() => undefined);
      if (space?.membership(userId) !== "join") continue;
      for (const e of space.state.values()) if (e.event.type === "m.space.child" && Array.isArray(e.event.content.via)) out.add(e.event.state_key!);
    }
    return out;
  }

  /** The rooms m.direct names, reloaded only when the user's account data moved. */
  private async dmRooms(c: Connection, userId: UserId, upTo: number): Promise<Set<string>> {
    if (c.dm && !this.notifier.accountDataChanged(userId, c.dm.pos)) return c.dm.rooms;
    const direct = await accountData.selectAccountData(this.db, userId, "", "m.direct");
    const rooms = new Set<string>();
    for (const v of Object.values(direct ?? {})) if (Array.isArray(v)) for (const r of v) if (typeof r === "string") rooms.add(r);
    c.dm = { pos: upTo, rooms };
    return rooms;
  }

  private async roomTags(c: Connection, userId: UserId, upTo: number): Promise<Map<RoomId, Record<string, unknown>>> {
    if (c.tags && !this.notifier.accountDataChanged(userId, c.tags.pos)) return c.tags.byRoom;
    c.tags = { pos: upTo, byRoom: await accountData.selectRoomAccountDataOfType(this.db, userId, "m.tag") };
    return c.tags.byRoom;
  }
}

function passes(x: Candidate, f: ListFilters, dm: Set<string>, tags: Map<RoomId, Record<string, unknown>>, inSpaces: Set<string> | null): boolean {
  const { facts, m } = x;
  if (f.isDm !== undefined && dm.has(m.roomId) !== f.isDm) return false;
  if (f.isInvited !== undefined && (m.membership === "invite") !== f.isInvited) return false;
  if (f.isEncrypted !== undefined && facts.encrypted !== f.isEncrypted) return false;
  if (f.notRoomTypes && f.notRoomTypes.includes(facts.type ?? null)) return false;
  if (f.roomTypes && !f.roomTypes.includes(facts.type ?? null)) return false;
  if (f.tags || f.notTags) {
    const mine = Object.keys((tags.get(m.roomId)?.tags as Record<string, unknown> | undefined) ?? {});
    if (f.notTags?.some((k) => mine.includes(k))) return false;
    if (f.tags && !f.tags.some((k) => mine.includes(k))) return false;
  }
  return !inSpaces || inSpaces.has(m.roomId);
}
