// GET /sync. https://spec.matrix.org/latest/client-server-api/#syncing
// One query per section across all rooms; rooms with nothing new since the token are never
// read; a long-poll for a user with nothing new waits on the notifier without touching the
// database (DESIGN §4, §5).
import type { ClientEvent } from "../matrix/events.js";
import { matchesEventFilter, pickFields, roomAllowed } from "../matrix/filter.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import { formatToken } from "../matrix/tokens.js";
import * as accountData from "../store/account-data.js";
import type { Db } from "../store/db.js";
import * as directory from "../store/directory.js";
import * as events from "../store/events.js";
import type { Notifier } from "./notifier.js";
import { serialize } from "./room-read.js";
import type { RoomStateCache } from "./room-state.js";
import type { Requester } from "./tokens.js";
import { Visibility } from "./visibility.js";
import type { MembershipCache } from "./memberships.js";
import type { ReceiptService } from "./receipts.js";
import type { TypingService } from "./typing.js";
import type { PresenceService } from "./presence.js";
import type { UnreadService } from "./unread.js";
import { deviceListDelta, isEmpty, isNamed, membershipMoves, placeAccountData, putInvites, putUnread, summary, type SyncOptions } from "./sync-shape.js";
import { federationFormat, lazyFilter, lazyIncremental, noteLazySent, refill, restricts, stateBefore, timeline, type LazyDevice } from "./sync-timeline.js";
import { LazyMembers, lazyKey } from "./lazy-members.js";
import type { RelationService } from "./relations.js";
import type { KeyService } from "./e2ee.js";
import { parseToken } from "../matrix/tokens.js";
import { quickDelta, quickDeltaNow, SharedWake, type QuickDeps, type QuickInput } from "./sync-quick.js";
import { eventJsonWithAge } from "../matrix/raw-json.js";
import { SyncUserData } from "./sync-prepare.js";
import type { DbHealth } from "./db-health.js";
import { databaseAway } from "../http/errors.js";
import * as memberStore from "../store/memberships.js";

export const DEFAULT_TIMELINE_LIMIT = 10;
export const MAX_TIMELINE_LIMIT = 500;

export type { SyncOptions } from "./sync-shape.js";

const timelineLimit = (f: SyncOptions["filter"]) => Math.min(Math.max(f.room?.timeline?.limit ?? DEFAULT_TIMELINE_LIMIT, 0), MAX_TIMELINE_LIMIT);

type Json = Record<string, unknown>;

export class SyncService {
  constructor(private readonly db: Db, private readonly cache: RoomStateCache, private readonly notifier: Notifier, private readonly members: MembershipCache, private readonly receipts: ReceiptService, private readonly typing: TypingService, private readonly presence: PresenceService, private readonly unread: UnreadService, private readonly relations: RelationService, private readonly keys: KeyService) {
    this.user = new SyncUserData(db, notifier, members, unread, keys);
    this.quickDeps = { notifier, members, cache, unread, keyCounts: (u, d) => keys.peekCounts(u, d), lazyMembers: this.lazyMembers, shared: new SharedWake(),
      receiptsSince: (roomId, after, upTo) => receipts.log.since(roomId, after, upTo) };
  }

  readonly lazyMembers = new LazyMembers();
  /** A device acknowledged a position (delivered receipts: delivery-receipts.ts). */
  onAck: ((userId: UserId, pos: number) => void) | null = null;

  /** Set when the process watches the database's health: long-polls then fail fast in an outage. */
  dbHealth: DbHealth | null = null;

  private readonly quickDeps: QuickDeps;
  private readonly user: SyncUserData;

  /** The user's ignored users if in memory. */
  ignoredPeek(userId: UserId): ReadonlySet<string> | undefined {
    return this.user.ignoredPeek(userId);
  }

  /** The user's m.ignored_user_list, kept in memory (dropped when it changes). */
  ignoredBy(userId: UserId): Promise<Set<string>> {
    return this.user.ignoredBy(userId);
  }

  async sync(who: Requester, o: SyncOptions): Promise<Json> {
    const deadline = Date.now() + o.timeoutMs;
    let since = o.since;
    let sinceTyping = o.sinceTyping ?? 0;
    let sincePresence = o.sincePresence ?? 0;
    this.typing.observe(sinceTyping);
    this.presence.observe(sincePresence);
    if (since !== null && since > this.notifier.currentPos) {
      await this.notifier.reach(since); // a token from another process that is ahead of this one
      if (since > this.notifier.currentPos) since = this.notifier.currentPos;
    }
    if (o.setPresence !== "offline") await this.presence.set(who.userId, o.setPresence ?? "online");
    if (since !== null) {
      if (!o.noAck) this.onAck?.(who.userId, since); // the device has everything up to `since`
      await this.user.prepare(who, since);
    }
    for (;;) {
      const cancelled = () => o.signal?.aborted === true || o.shutdown?.aborted === true;
      if (since !== null && !o.fullState && this.notifier.hasNews(who.userId, since) === false
        && !this.notifier.typingNews(who.userId, sinceTyping) && !this.notifier.presenceNews(who.userId, sincePresence)) {
        const left = deadline - Date.now();
        if (left > 0 && !cancelled()) {
          // The database away: answer now (503) rather than at the end of the timeout.
          if (this.dbHealth?.down) throw databaseAway();
          await this.notifier.wait(who.userId, since, left, o.signal, sinceTyping, sincePresence); // an outage wakes every waiter
          if (this.dbHealth?.down) throw databaseAway();
        }
      }
      const res = await this.compute(who, since, sinceTyping, sincePresence, o);
      // Return when there is something, or when the time is up; a wake-up for something the
      // filter hides goes back to waiting. next_batch never moves back.
      if (since === null || o.fullState || !isEmpty(res) || Date.now() >= deadline || cancelled()) return res;
      const next = parseToken(String(res.next_batch));
      since = Math.max(since, next.pos);
      sinceTyping = Math.max(sinceTyping, next.ephemeral[0] ?? 0);
      sincePresence = Math.max(sincePresence, next.ephemeral[1] ?? 0);
    }
  }


  /**
   * A WebSocket's wake-up answered at once from memory (sync-quick.ts), without waiting for
   * anything: the response; "idle" when nothing concerns the user after the token; null when
   * sync() must answer. Presence is refreshed by the connection's periodic sync(), not here.
   */
  pushNow(who: Requester, o: SyncOptions): Json | "idle" | null {
    const since = o.since;
    if (since === null || o.fullState || since > this.notifier.currentPos || this.dbHealth?.down) return null;
    const sinceTyping = o.sinceTyping ?? 0;
    const sincePresence = o.sincePresence ?? 0;
    const news = this.notifier.hasNews(who.userId, since);
    if (news === "unknown") return null;
    if (!news && !this.notifier.typingNews(who.userId, sinceTyping) && !this.notifier.presenceNews(who.userId, sincePresence)) return "idle";
    return quickDeltaNow(this.quickDeps, this.quickInput(who, since, sinceTyping, sincePresence, o));
  }

  private quickInput(who: Requester, after: number, sinceTyping: number, sincePresence: number, o: SyncOptions): QuickInput {
    const f = o.filter;
    return {
      who, after, upTo: this.notifier.currentPos, sinceTyping, sincePresence, ack: o.sinceToDevice ?? o.since ?? after, filter: f,
      limit: timelineLimit(f), stateKey: o.stateAfter ?? "state", typingSerial: this.typing.serial,
      presenceSettled: this.presence.settled, ignored: this.user.ignoredPeek(who.userId),
    };
  }

  private async compute(who: Requester, since: number | null, sinceTyping: number, sincePresence: number, o: SyncOptions): Promise<Json> {
    const userId = who.userId;
    let upTo = this.notifier.currentPos;
    const typingSerial = this.typing.serial;
    const presenceSerial = this.presence.serial;
    const f = o.filter;
    const tlFilter = f.room?.timeline;
    const limit = timelineLimit(f);
    const lazy = f.room?.state?.lazy_load_members === true;
    // What this device was sent of the members, so each is sent once (lazy-members.ts).
    const lz: LazyDevice | null = lazy ? { members: this.lazyMembers, device: lazyKey(who), redundant: f.room?.state?.include_redundant_members === true } : null;
    if (lz && since === null) this.lazyMembers.reset(lz.device);
    const initial = since === null || o.fullState;
    const after = since ?? -1;
    // use_state_after: state up to the end of each timeline (upTo) rather than its start.
    const sa = o.stateAfter;
    const stateKey = sa ?? "state";

    if (!initial) {
      const quick = await quickDelta(this.quickDeps, this.quickInput(who, after, sinceTyping, sincePresence, o));
      if (quick) return quick;
    }

    const memberships = await this.members.get(userId);
    const ignored = await this.ignoredBy(userId);
    for (const m of memberships) if (m.pos > upTo) upTo = m.pos; // committed, so everything below is too
    // Only rooms whose membership moved after `since` can have membership changes in range.
    const changes = since === null || !memberships.some((m) => m.pos > after) ? [] : await memberStore.selectMembershipChanges(this.db, userId, after, upTo);
    let forgottenSet: Set<RoomId> | null = null;
    const forgotten = async () => (forgottenSet ??= await directory.selectForgotten(this.db, userId));
    const changed = new Map<RoomId, { prev: string; now: string; pos: number }>();
    for (const c of changes) {
      const e = changed.get(c.roomId);
      if (e) { e.now = c.membership; e.pos = c.pos; } else changed.set(c.roomId, { prev: c.prev, now: c.membership, pos: c.pos });
    }

    const allowed = (r: RoomId) => roomAllowed(r, f.room);
    const join: Json = {};
    const invite: Json = {};
    const knock: Json = {};
    const leave: Json = {};

    // Which joined rooms need a timeline read, and which need a full (initial) view.
    const fullRooms: RoomId[] = [];
    const deltaRooms: RoomId[] = [];
    for (const m of memberships) {
      if (m.membership !== "join" || !allowed(m.roomId)) continue;
      const ch = changed.get(m.roomId);
      if (initial || (ch && ch.prev !== "join")) fullRooms.push(m.roomId);
      else {
        const last = this.notifier.roomLastPos(m.roomId);
        if (last === null ? after < this.notifier.startPos : last > after) deltaRooms.push(m.roomId);
      }
    }

    const now = Date.now();
    // Timeline events carry their bundled aggregations (relations.ts).
    const bundled = new Map<string, events.EventRow>();
    const addBundles = (rows: events.EventRow[]) => { for (const r of rows) bundled.set(r.event.event_id, r); };
    // Each event's text is built once and shared by every user it goes to (raw-json.ts); the
    // sending device's own copy (transaction_id) and event_fields filters are built per user.
    const ser = (r: events.EventRow): ClientEvent => {
      const row = bundled.get(r.event.event_id) ?? r;
      if (!f.event_fields && f.event_format !== "federation" && !(row.txn && row.event.sender === who.userId)) return eventJsonWithAge(row.event, now) as unknown as ClientEvent;
      return pickFields(serialize(row, who, now) as unknown as Json, f.event_fields) as unknown as ClientEvent;
    };

    // Full views: state before the timeline, and the timeline.
    if (fullRooms.length) {
      // Current state and the latest events from the rooms held in memory (no parsing of a
      // big room's member list per sync); one query per section for the others.
      await this.cache.loadMany(fullRooms);
      const recent = new Map<RoomId, events.EventRow[]>();
      const stateMap = new Map<RoomId, events.EventRow[]>();
      const needRecent: RoomId[] = [];
      const needState: RoomId[] = [];
      for (const roomId of fullRooms) {
        const room = this.cache.peek(roomId);
        if (room && room.lastPos <= upTo) stateMap.set(roomId, [...room.state.values()]);
        else needState.push(roomId);
        const mem = room ? room.recent.filter((r) => r.pos <= upTo) : [];
        if (room && mem.length >= limit + 1) recent.set(roomId, mem.slice(-(limit + 1)));
        else needRecent.push(roomId);
      }
      const [fromDb, stateDb, visMap] = await Promise.all([
        needRecent.length ? events.selectRecentEventsMany(this.db, needRecent, -1, upTo, limit + 1) : new Map<RoomId, events.EventRow[]>(),
        needState.length ? events.selectCurrentStateMany(this.db, needState) : new Map<RoomId, events.EventRow[]>(),
        Visibility.loadMany(this.db, fullRooms, userId),
      ]);
      for (const [k, v] of fromDb) recent.set(k, v);
      for (const [k, v] of stateDb) stateMap.set(k, v);
      addBundles(await this.relations.bundle([...recent.values()].flat(), userId, upTo, null, visMap));
      for (const roomId of fullRooms) {
        const rows = recent.get(roomId) ?? [];
        const vis = visMap.get(roomId)!;
        // A filtered timeline reads further back for its limit in an initial sync; a room just
        // joined keeps the newest events' window, marked limited (as the reference does).
        const first = timeline(rows, limit, vis, tlFilter, ignored);
        const tl = since === null && restricts(tlFilter) ? await refill(this.db, roomId, first, -1, upTo, limit, vis, tlFilter, ignored) : first;
        const start = tl.events.length ? tl.firstPos : upTo + 1;
        const current = stateMap.get(roomId) ?? [];
        const state = lazyFilter(await stateBefore(this.db, roomId, current, sa ? upTo + 1 : start), tl.events, userId, lazy, f);
        if (lz) noteLazySent(lz, roomId, state, tl.events);
        join[roomId] = {
          timeline: { events: tl.events.map(ser), limited: tl.limited, prev_batch: formatToken(start - 1) },
          [stateKey]: { events: state.map(ser) },
          ephemeral: { events: [] },
          account_data: { events: [] },
          summary: summary(current.filter((r) => r.event.type === "m.room.member").map((r) => r.event), userId, isNamed(current.map((r) => r.event))),
        };
      }
    }

    // Incremental views of rooms the user stayed in.
    if (deltaRooms.length) {
      // From the rooms' recent events in memory where they reach back far enough; else one query.
      const recent = new Map<RoomId, events.EventRow[]>();
      const missing: RoomId[] = [];
      for (const roomId of deltaRooms) {
        const mem = this.cache.peek(roomId)?.recentBetween(after, upTo) ?? null;
        if (mem) recent.set(roomId, mem.slice(-(limit + 1)));
        else missing.push(roomId);
      }
      // Joined throughout the range unless the membership moved in it: then every child is visible.
      for (const [roomId, rows] of recent) addBundles(await this.relations.bundle(rows, userId, upTo, this.cache.peek(roomId), changed.has(roomId) ? undefined : "all"));
      if (missing.length) {
        const fromDb = await events.selectRecentEventsMany(this.db, missing, after, upTo, limit + 1);
        for (const [k, v] of fromDb) recent.set(k, v);
        addBundles(await this.relations.bundle([...fromDb.values()].flat(), userId, upTo, null, missing.some((r) => changed.has(r)) ? undefined : "all"));
      }
      for (const roomId of deltaRooms) {
        const rows = recent.get(roomId);
        if (!rows?.length) continue;
        const vis = changed.has(roomId) ? await Visibility.load(this.db, roomId, userId) : null;
        const cur = vis ? await this.cache.get(roomId) : null;
        const tl = await refill(this.db, roomId, timeline(rows, limit, vis, tlFilter, ignored, limit + 1, cur), after, upTo, limit, vis, tlFilter, ignored, cur);
        let state: events.EventRow[] = [];
        if (sa) state = await events.selectStateChangesBetween(this.db, roomId, after, upTo + 1);
        else if (tl.limited && tl.events.length) {
          const tlIds = new Set(tl.events.map((r) => r.event.event_id));
          state = (await events.selectStateChangesBetween(this.db, roomId, after, tl.firstPos)).filter((r) => !tlIds.has(r.event.event_id));
        }
        const membersChanged = rows.some((r) => r.event.type === "m.room.member");
        const room = membersChanged || lz ? await this.cache.get(roomId) : null;
        if (lz) {
          state = lazyIncremental(state, tl.events, room, lz, f, !!sa);
          noteLazySent(lz, roomId, state, tl.events);
        } else state = lazyFilter(state, tl.events, userId, false, f);
        // Nothing of it to show (the filter or an ignore hid every new event): no section.
        if (!tl.events.length && !state.length) continue;
        join[roomId] = {
          timeline: { events: tl.events.map(ser), limited: tl.limited, prev_batch: formatToken((tl.events.length ? tl.firstPos : after + 1) - 1) },
          [stateKey]: { events: state.map(ser) },
          ephemeral: { events: [] },
          account_data: { events: [] },
          ...(room && membersChanged ? { summary: summary([...room.interested].map((u) => room.get("m.room.member", u)!), userId, isNamed([room.get("m.room.name", ""), room.get("m.room.canonical_alias", "")].filter((e) => !!e) as ClientEvent[])) } : {}),
        };
      }
    }

    // Invites and knocks: in an initial sync, or when they happened in the range.
    await putInvites(invite, knock, memberships.filter((m) => allowed(m.roomId) && (initial || changed.get(m.roomId)?.now === m.membership)), this.cache, userId, ignored);

    // Rooms left (or banned from): in an incremental sync when it happened in the range; in an
    // initial sync only with include_leave.
    for (const m of memberships) {
      if ((m.membership !== "leave" && m.membership !== "ban") || !allowed(m.roomId)) continue;
      const ch = changed.get(m.roomId);
      if (initial ? !f.room?.include_leave : !ch || ch.prev === "leave") continue;
      if (!initial && ch!.prev === m.membership) continue;
      if ((await forgotten()).has(m.roomId)) continue;
      const rows = await events.selectRoomEvents(this.db, m.roomId, initial ? -1 : after, m.pos, "b", limit + 1);
      rows.reverse();
      const vis = await Visibility.load(this.db, m.roomId, userId);
      const tl = timeline(rows, limit, vis, tlFilter, ignored);
      const start = tl.events.length ? tl.firstPos : m.pos;
      // Joined at the token: what changed between it and the timeline, as for a joined room;
      // else (joined and left in the range, an invite) the whole state, as for a room just joined.
      const end = sa ? m.pos + 1 : start;
      const stateRows = initial || ch!.prev !== "join" ? await events.selectStateAt(this.db, m.roomId, end)
        : (await events.selectStateChangesBetween(this.db, m.roomId, after, end)).filter((r) => sa || !tl.events.some((e) => e.event.event_id === r.event.event_id));
      leave[m.roomId] = {
        timeline: { events: tl.events.map(ser), limited: tl.limited, prev_batch: formatToken(start - 1) },
        [stateKey]: { events: lazyFilter(stateRows, tl.events, userId, lazy, f).map(ser) },
        account_data: { events: [] },
      };
    }

    // Receipts (ephemeral), in rooms the user is joined to.
    const joinedNow = memberships.filter((m) => m.membership === "join" && allowed(m.roomId)).map((m) => m.roomId);
    const emptyJoin = (): Json => ({ timeline: { events: [], limited: false, prev_batch: formatToken(upTo) }, [stateKey]: { events: [] }, ephemeral: { events: [] }, account_data: { events: [] } });
    if (matchesEventFilter({ type: "m.typing", sender: userId }, f.room?.ephemeral)) {
      for (const [roomId, all] of this.typing.forSync(joinedNow, initial ? null : sinceTyping)) {
        // Ignored users are not seen typing; a room where only they type has no news.
        const users = ignored.size ? all.filter((u) => !ignored.has(u)) : all;
        if (users.length === 0 && all.length > 0) continue;
        const section = (join[roomId] ??= emptyJoin()) as Json;
        (section.ephemeral as { events: Json[] }).events.push({ type: "m.typing", content: { user_ids: users } });
      }
    }
    if (matchesEventFilter({ type: "m.receipt", sender: userId }, f.room?.ephemeral)) {
      for (const [roomId, content] of await this.receipts.forSync(userId, joinedNow, initial ? -1 : after, upTo, ignored)) {
        const section = (join[roomId] ??= emptyJoin()) as Json;
        (section.ephemeral as { events: Json[] }).events.push({ type: "m.receipt", content });
      }
    }

    // Account data, global and per room.
    const ad = initial || this.notifier.accountDataChanged(userId, after) ? await accountData.selectAccountDataSince(this.db, userId, initial ? -1 : after, upTo) : [];
    const globalAd = placeAccountData(ad, f, userId, join, leave,
      (roomId) => memberships.some((m) => m.roomId === roomId && m.membership === "join") && allowed(roomId as RoomId), emptyJoin);

    // Unread counts for every joined room in the response.
    const joinIds = Object.keys(join) as RoomId[];
    if (joinIds.length) putUnread(join, await this.unread.counts(userId, joinIds, upTo), f.room?.timeline?.unread_thread_notifications === true);

    // Who came and went in any joined room (whatever the filter shows): presence and device lists.
    const moves = initial ? { joined: new Set<UserId>(), left: new Set<string>() }
      : await membershipMoves(this.db, this.cache, this.notifier, memberships.filter((m) => m.membership === "join").map((m) => m.roomId), userId, after, upTo);
    const met = new Set<UserId>(moves.joined); // users who came to share a room with this one in the range
    // Members of rooms just joined are newly met too.
    for (const roomId of initial ? [] : fullRooms) {
      const joined = this.cache.peek(roomId)?.joined;
      if (joined && joined.size <= this.presence.maxRoomMembers) for (const u of joined) met.add(u); // rooms that share presence
    }
    const presenceEvents = (await this.presence.forSync(userId, initial ? null : sincePresence, met))
      .filter((e) => matchesEventFilter({ type: "m.presence", sender: String(e.sender) }, f.presence));

    // Encryption plumbing: to-device messages, whose keys changed, one-time key counts.
    const ack = o.since === null ? null : (o.sinceToDevice ?? o.since);
    const td = await this.keys.toDeviceForSync(who, ack, upTo);
    const lists = initial ? { changed: [], left: [] } : await deviceListDelta(this.keys, this.notifier, this.cache, this.members, userId, changed, moves, after, upTo);
    const otk = who.deviceId ? await this.keys.counts(userId, who.deviceId) : { counts: {}, unusedFallback: [] };
    if (f.event_format === "federation") await federationFormat(this.db, [join, leave]);
    return {
      // The third counter: to-device acknowledged up to here (less than the position when
      // more messages wait than one response carries).
      next_batch: formatToken(upTo, [typingSerial, presenceSerial, td.more && td.lastPos !== null ? td.lastPos : upTo]),
      rooms: { join, invite, leave, knock },
      account_data: { events: globalAd },
      presence: { events: presenceEvents },
      to_device: { events: td.events },
      device_lists: lists,
      device_one_time_keys_count: otk.counts,
      device_unused_fallback_key_types: otk.unusedFallback,
    };
  }
}
