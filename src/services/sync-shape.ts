// The shape of a /sync response: room summaries, and whether a response carries anything.
import type { ClientEvent } from "../matrix/events.js";
import { matchesEventFilter, type Filter } from "../matrix/filter.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import type { RoomState, RoomStateCache } from "./room-state.js";
import { roomMatesOf, type Membership, type MembershipCache } from "./memberships.js";
import type { Db } from "../store/db.js";
import type { Notifier } from "./notifier.js";
import * as memberStore from "../store/memberships.js";
import type { KeyService } from "./e2ee.js";

type Json = Record<string, unknown>;

/** What a /sync (or a WebSocket sync subscription) asks for. */
export interface SyncOptions {
  since: number | null;
  /** The typing and presence serials of the `since` token (0 if it had none). */
  sinceTyping?: number;
  sincePresence?: number;
  /** The to-device position the token acknowledges (defaults to its stream position). */
  sinceToDevice?: number;
  /** set_presence: how this sync marks the user (default online; offline leaves it as it is). */
  setPresence?: "online" | "unavailable" | "offline";
  timeoutMs: number;
  fullState: boolean;
  /**
   * use_state_after (v1.16, MSC4222): each room's state up to the end of its timeline, under
   * this key ("state_after", or the unstable name matrix-js-sdk asks for), instead of `state`.
   */
  stateAfter?: "state_after" | "org.matrix.msc4222.state_after";
  /** The WebSocket's own follow-up syncs: the client acknowledges with `ack` frames instead. */
  noAck?: boolean;
  filter: Filter;
  /** The client went away. */
  signal?: AbortSignal;
  /** The server is stopping: answer now. */
  shutdown?: AbortSignal;
}


/** Puts each room's unread counts into its section (threaded: main timeline and threads apart). */
export function putUnread(join: Json, counts: Map<string, { total: Json | object; main: Json | object; threads: Record<string, unknown> }>, threaded: boolean): void {
  for (const [roomId, u] of counts) {
    const section = join[roomId] as Json;
    if (threaded) {
      section.unread_notifications = u.main;
      if (Object.keys(u.threads).length) section.unread_thread_notifications = u.threads;
    } else section.unread_notifications = u.total;
  }
}

/**
 * Room summary (spec: counts, and m.heroes when the room has neither a name nor a canonical
 * alias to be called by) from the room's membership events.
 */
export function summary(members: ClientEvent[], userId: UserId, named = false): Json {
  let joined = 0;
  let invited = 0;
  const heroes: string[] = [];
  for (const ev of [...members].sort((a, b) => (a.state_key! < b.state_key! ? -1 : 1))) {
    const m = ev.content.membership;
    if (m === "join") joined++;
    else if (m === "invite") invited++;
    else continue;
    if (ev.state_key !== userId && heroes.length < 5) heroes.push(ev.state_key!);
  }
  return { ...(named ? {} : { "m.heroes": heroes }), "m.joined_member_count": joined, "m.invited_member_count": invited };
}

export function isEmpty(res: Json): boolean {
  const rooms = res.rooms as Record<string, Json>;
  return Object.keys(rooms.join!).length === 0 && Object.keys(rooms.invite!).length === 0 && Object.keys(rooms.leave!).length === 0
    && Object.keys(rooms.knock!).length === 0
    && ((res.account_data as { events: unknown[] }).events.length === 0)
    && ((res.presence as { events: unknown[] }).events.length === 0)
    && ((res.to_device as { events: unknown[] }).events.length === 0)
    && ((res.device_lists as { changed: unknown[]; left: unknown[] }).changed.length === 0)
    && ((res.device_lists as { changed: unknown[]; left: unknown[] }).left.length === 0);
}

/** The room state an invitee or knocker sees (spec: stripped state). */
const STRIPPED_TYPES = ["m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar", "m.room.canonical_alias", "m.room.encryption", "m.room.topic"];

/**
 * The stripped state of an invite or knock (spec: stripped state): the room's name, avatar,
 * rules and so on, the inviter's own membership (so a client can show who invited and name a
 * direct chat after them), and the user's membership event itself, last.
 */
/** Invites and knocks: the room's stripped state and the user's own membership event. */
export async function putInvites(invite: Json, knock: Json, memberships: Membership[], cache: RoomStateCache, userId: UserId, ignored: ReadonlySet<string>): Promise<void> {
  for (const m of memberships) {
    if (m.membership !== "invite" && m.membership !== "knock") continue;
    const room = await cache.get(m.roomId);
    if (!room) continue;
    const own = room.get("m.room.member", userId)!;
    if (m.membership === "invite" && ignored.has(own.sender)) continue; // invites from ignored users are not shown
    const stripped = strippedState(room, own);
    if (m.membership === "invite") invite[m.roomId] = { invite_state: { events: stripped } };
    else knock[m.roomId] = { knock_state: { events: stripped } };
  }
}

export function strippedState(room: RoomState, own: ClientEvent): Json[] {
  const strip = (e: ClientEvent): Json => ({ type: e.type, state_key: e.state_key, content: e.content, sender: e.sender });
  const out = STRIPPED_TYPES.map((t) => room.get(t, "")).filter((e): e is ClientEvent => !!e).map(strip);
  const inviter = own.sender !== own.state_key ? room.get("m.room.member", own.sender) : undefined;
  if (inviter) out.push(strip(inviter));
  out.push({ ...strip(own), event_id: own.event_id, origin_server_ts: own.origin_server_ts });
  return out;
}

/**
 * Account data changes into the response: global ones returned, room ones into their room's
 * section (a joined room without one gets an otherwise empty section). Filters apply.
 */
export function placeAccountData(ad: { type: string; roomId: string; content: unknown }[], f: Filter, userId: UserId, join: Json, leave: Json,
  joined: (roomId: string) => boolean, emptyJoin: () => Json): Json[] {
  const globalAd: Json[] = [];
  for (const a of ad) {
    const evt = { type: a.type, content: a.content };
    if (a.roomId === "") {
      if (matchesEventFilter({ type: a.type, sender: userId }, f.account_data)) globalAd.push(evt);
      continue;
    }
    if (!matchesEventFilter({ type: a.type, sender: userId }, f.room?.account_data)) continue;
    const section = join[a.roomId] ?? leave[a.roomId];
    if (section) ((section as Json).account_data as { events: Json[] }).events.push(evt);
    else if (joined(a.roomId)) join[a.roomId] = { ...emptyJoin(), account_data: { events: [evt] } };
  }
  return globalAd;
}

/** Does the room have a name or canonical alias (so clients need no heroes to name it)? */
export function isNamed(state: Iterable<ClientEvent>): boolean {
  for (const e of state) {
    if (e.state_key !== "") continue;
    if (e.type === "m.room.name" && typeof e.content.name === "string" && e.content.name !== "") return true;
    if (e.type === "m.room.canonical_alias" && typeof e.content.alias === "string" && e.content.alias !== "") return true;
  }
  return false;
}

/**
 * Users this one may no longer share a room with (device_lists.left): members of rooms they
 * left in the range, and those who left rooms they are in (`candidates`), who now share none.
 */
export async function usersLeft(changed: Map<RoomId, { prev: string; now: string }>, candidates: Set<string>, userId: UserId,
  cache: RoomStateCache, members: MembershipCache): Promise<string[]> {
  const maybe = new Set(candidates);
  for (const [roomId, ch] of changed) {
    if (ch.prev !== "join" || (ch.now !== "leave" && ch.now !== "ban")) continue;
    const room = await cache.get(roomId);
    if (room) for (const u of room.joined) if (u !== userId) maybe.add(u);
  }
  if (maybe.size === 0) return [];
  const mates = await roomMatesOf(members, cache, userId);
  return [...maybe].filter((u) => !mates.has(u as UserId));
}

/**
 * Who joined (not a mere profile change) and who left any of the user's joined rooms in
 * (after, upTo], whatever the room filter shows: device lists and the presence of people newly
 * met follow membership everywhere. From the rooms' recent events in memory; one query for
 * rooms whose range is not in memory.
 */
export async function membershipMoves(db: Db, cache: RoomStateCache, notifier: Notifier, roomIds: RoomId[], userId: UserId, after: number, upTo: number): Promise<{ joined: Set<UserId>; left: Set<string> }> {
  const joined = new Set<UserId>();
  const left = new Set<string>();
  const note = (who: string, membership: unknown, prev: unknown) => {
    if (who === userId) return;
    if (membership === "join" && prev !== "join") joined.add(who as UserId);
    else if (membership === "leave" || membership === "ban") left.add(who);
  };
  const scan: RoomId[] = [];
  for (const roomId of roomIds) {
    const last = notifier.roomLastPos(roomId);
    if (last !== null ? last <= after : after >= notifier.startPos) continue;
    const rows = cache.peek(roomId)?.recentBetween(after, upTo);
    if (!rows) { scan.push(roomId); continue; }
    for (const r of rows) {
      if (r.event.type !== "m.room.member" || r.event.state_key === undefined) continue;
      note(r.event.state_key, r.event.content.membership, (r.event.unsigned?.prev_content as { membership?: unknown } | undefined)?.membership ?? "leave");
    }
  }
  for (const m of await memberStore.selectMemberChangesInRooms(db, scan, after, upTo)) note(m.userId, m.membership, m.prev);
  return { joined, left };
}

/**
 * device_lists for a range (/sync and sliding sync's e2ee extension): whose keys changed among
 * room-mates, people who came to share a room (joins seen in the rooms, `moves`), and members
 * of rooms the user joined; `left`: who no longer shares any room with the user.
 */
export async function deviceListDelta(keys: KeyService, notifier: Notifier, cache: RoomStateCache, members: MembershipCache, userId: UserId,
  changed: ReadonlyMap<RoomId, { prev: string; now: string }>, moves: { joined: ReadonlySet<UserId>; left: ReadonlySet<string> }, after: number, upTo: number,
): Promise<{ changed: string[]; left: string[] }> {
  const out = new Set<string>();
  // Key changes include the user's own (a new or deleted device of theirs); the rest is others.
  if (notifier.deviceListsChanged(userId, after)) for (const u of await keys.changedUsers(userId, after, upTo)) out.add(u);
  for (const u of moves.joined) if (u !== userId) out.add(u);
  for (const [roomId, ch] of changed) {
    if (ch.now !== "join" || ch.prev === "join") continue;
    const room = await cache.get(roomId);
    if (room) for (const u of room.joined) if (u !== userId) out.add(u);
  }
  const left = await usersLeft(new Map(changed), new Set(moves.left), userId, cache, members);
  return { changed: [...out].filter((u) => !left.includes(u)), left };
}
