// Simplified sliding sync (MSC4186): one room's result. What the connection was sent of the
// room (RoomSent) decides between a first, complete view (`initial`) and only what changed:
// new events, state changes the room's config asks for, and fields whose value moved.
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import { eventJsonWithAge } from "../matrix/raw-json.js";
import { formatToken } from "../matrix/tokens.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import type { Membership } from "./memberships.js";
import type { RelationService } from "./relations.js";
import { serialize } from "./room-read.js";
import type { RoomState } from "./room-state.js";
import { exactKeys, sameState, wants, type Combined } from "./sliding-request.js";
import { strippedState, summary } from "./sync-shape.js";
import { refill, stateBefore, timeline } from "./sync-timeline.js";
import type { Requester } from "./tokens.js";
import { Visibility } from "./visibility.js";

type Json = Record<string, unknown>;

/** The event types whose arrival moves a room's bump_stamp (MSC4186). */
export const BUMP_TYPES = new Set(["m.room.create", "m.room.message", "m.room.encrypted", "m.sticker", "m.call.invite", "m.poll.start", "m.beacon_info"]);

/** What a connection holds of a room: never mutated once a snapshot keeps it (a new copy instead). */
export interface RoomSent {
  /** The client has the room up to this stream position. */
  pos: number;
  combined: Combined;
  membership: string;
  name?: string | null;
  avatar?: string | null;
  heroes?: string;
  counts?: string;
  unread?: string;
  isDm?: boolean;
  bump?: number;
  /** Lazy members: whose membership the connection was sent. */
  members: ReadonlySet<string>;
}

export interface RoomCtx {
  db: Db;
  relations: RelationService;
  who: Requester;
  ignored: Set<string>;
  now: number;
  upTo: number;
  /** The connection's previous position (null: its first response); events after it are live. */
  prevPos: number | null;
  legacy: boolean;
  dm: boolean;
  bump: number;
  /** Read for all the response's rooms at once (prefetch): visibility, and first views' latest events. */
  vis: ReadonlyMap<RoomId, Visibility>;
  recent: ReadonlyMap<RoomId, events.EventRow[]>;
}

/** Does the room's result need the user's visibility (a range reaching before a join or after a leave)? */
export function needsVisibility(m: Membership, sent: RoomSent | undefined, combined: Combined): boolean {
  if (m.membership === "invite" || m.membership === "knock") return false;
  return isFirstView(m, sent) || combined.timelineLimit > sent!.combined.timelineLimit || sent!.membership !== m.membership || m.membership !== "join";
}

/** A first, complete view: never sent, or (re)joined after an invite, a knock or nothing. */
export function isFirstView(m: Membership, sent: RoomSent | undefined): boolean {
  return !sent || (sent.membership !== "join" && sent.membership !== "leave" && sent.membership !== "ban") || (sent.membership !== "join" && m.membership === "join");
}

/**
 * The room's result, or null when the connection already has all of it. Returns the record
 * of what the connection now holds either way.
 */
export async function roomResult(c: RoomCtx, m: Membership, room: RoomState, combined: Combined, sent: RoomSent | undefined): Promise<{ json: Json | null; sent: RoomSent; vis?: Visibility | null }> {
  const userId = c.who.userId;
  if (m.membership === "invite" || m.membership === "knock") {
    const same = sent && sent.membership === m.membership && sent.pos >= m.pos;
    const next: RoomSent = { pos: c.upTo, combined, membership: m.membership, members: new Set(), isDm: c.dm, bump: m.pos };
    if (same) return { json: null, sent: { ...sent, pos: c.upTo, combined } };
    const own = room.get("m.room.member", userId)!;
    return {
      json: {
        initial: true, membership: m.membership, bump_stamp: m.pos,
        [c.legacy ? "invite_state" : "stripped_state"]: strippedState(room, own),
        ...(c.dm ? { is_dm: true } : {}),
      },
      sent: next,
    };
  }
  // Joined now, or joined once (left, kicked, banned): events up to the leave only.
  const upper = m.membership === "join" ? c.upTo : Math.min(c.upTo, m.pos);
  const initial = isFirstView(m, sent);
  const expanded = !initial && combined.timelineLimit > sent!.combined.timelineLimit;
  const grew = !initial && !sameState(combined, sent!.combined);
  const moved = !initial && ((m.membership === "join" ? room.lastPos : m.pos) > sent!.pos || sent!.membership !== m.membership);
  if (!initial && !expanded && !grew && !moved) return { json: null, sent: { ...sent!, pos: Math.max(sent!.pos, upper), combined } };

  const limit = combined.timelineLimit;
  const after = initial || expanded ? -1 : sent!.pos;
  // Visibility matters when the range reaches before the user joined or after they left.
  const vis = needsVisibility(m, sent, combined) ? c.vis.get(room.roomId) ?? await Visibility.load(c.db, room.roomId, userId) : null;
  // The newest limit + 1 events of the range, from memory when it holds them (as /sync).
  let all: events.EventRow[] | null;
  if (after < 0) {
    const mem = room.recent.filter((r) => r.pos <= upper);
    all = mem.length >= limit + 1 ? mem : c.recent.get(room.roomId) ?? null;
  } else all = room.recentBetween(after, upper);
  all ??= (await events.selectRecentEventsMany(c.db, [room.roomId], after, upper, limit + 1)).get(room.roomId) ?? [];
  const rows = all.slice(-(limit + 1));
  /** Every event of the range is in `rows` (so are its state changes). */
  const covered = after >= 0 && all.length <= limit;
  const tl = await refill(c.db, room.roomId, timeline(rows, limit, vis, undefined, c.ignored), after, upper, limit, vis, undefined, c.ignored);
  const ser = serializer(c);

  // State: all the config asks for (first view), else what changed and what it newly asks for.
  const current = await stateAt(c.db, room, upper);
  // A limited timeline makes the client drop what it knew of the members (MSC: lazy members):
  // the senders' memberships are sent again.
  const members = new Set(initial || tl.limited ? [] : sent!.members);
  let state: events.EventRow[];
  // Did anyone's membership move (heroes and counts then are looked at again)?
  let membersMoved = initial || !sent!.counts;
  if (initial) state = pick(current, combined);
  else {
    const changes = covered ? latestPerKey(rows)
      : await events.selectStateChangesBetween(c.db, room.roomId, sent!.pos, upper + 1);
    if (changes.some((r) => r.event.type === "m.room.member")) membersMoved = true;
    state = changes.filter((r) => wants(combined, r.event.type, r.event.state_key!)
      || (combined.lazy && !tl.limited && r.event.type === "m.room.member"));
    if (grew) {
      const had = new Set(state.map((r) => r.event.event_id));
      for (const r of pick(current, combined)) {
        if (!had.has(r.event.event_id) && !wants(sent!.combined, r.event.type, r.event.state_key!)) state.push(r);
      }
    }
  }
  if (combined.lazy) {
    // The senders of the timeline and the targets of its membership events (MSC: lazy members).
    const need = new Set<string>();
    for (const r of tl.events) {
      need.add(r.event.sender);
      if (r.event.type === "m.room.member" && r.event.state_key) need.add(r.event.state_key);
    }
    const have = new Set(state.filter((r) => r.event.type === "m.room.member").map((r) => r.event.state_key!));
    for (const u of need) {
      if (have.has(u) || members.has(u)) continue;
      const e = current.get(`m.room.member\u0000${u}`);
      if (e) state.push(e);
    }
  }
  for (const r of state) if (r.event.type === "m.room.member") members.add(r.event.state_key!);

  // Names, heroes and counts as of the timeline's end: a room the user left shows nothing later.
  const at = (type: string, key = "") => current.get(`${type}\u0000${key}`)?.event;
  const name = strField(at("m.room.name"), "name");
  const avatar = strField(at("m.room.avatar"), "url");
  let heroes = sent?.heroes;
  let counts = sent?.counts;
  if (membersMoved || (typeof name === "string") !== (typeof sent?.name === "string")) {
    const memberEvents = upper >= room.lastPos
      ? [...room.interested].map((u) => room.get("m.room.member", u)).filter((e): e is ClientEvent => !!e)
      : [...current.values()].map((r) => r.event).filter((e) => e.type === "m.room.member" && (e.content.membership === "join" || e.content.membership === "invite"));
    const sum = summary(memberEvents, userId, typeof name === "string");
    heroes = sum["m.heroes"] ? JSON.stringify((sum["m.heroes"] as string[]).map((u) => hero(at("m.room.member", u), u))) : undefined;
    counts = JSON.stringify([sum["m.joined_member_count"], sum["m.invited_member_count"]]);
  }
  const [joinedCount, invitedCount] = JSON.parse(counts!) as [number, number];
  const first = initial;
  const changed = <T>(now: T, before: T | undefined) => first || now !== before;
  const json: Json = {
    ...(first ? { initial: true } : {}),
    ...(changed(m.membership, sent?.membership) ? { membership: m.membership } : {}),
    ...(changed(name, sent?.name) && (name !== null || !first) && name !== undefined ? { name } : {}),
    ...(changed(avatar, sent?.avatar) && (avatar !== null || !first) && avatar !== undefined ? { avatar } : {}),
    ...(heroes !== undefined && changed(heroes, sent?.heroes) ? { heroes: JSON.parse(heroes) } : {}),
    ...(changed(c.dm, sent?.isDm) && (c.dm || !first) ? { is_dm: c.dm } : {}),
    ...(changed(c.bump, sent?.bump) ? { bump_stamp: c.bump } : {}),
    ...(changed(counts, sent?.counts) ? { joined_count: joinedCount, invited_count: invitedCount } : {}),
    required_state: state.map(ser),
    // Serialised by the caller, once every room's events have their bundled aggregations.
    timeline: tl.events,
    prev_batch: formatToken(tl.events.length ? tl.firstPos - 1 : upper),
    ...(tl.limited ? { limited: true } : {}),
    num_live: c.prevPos === null ? 0 : tl.events.filter((r) => r.pos > c.prevPos!).length,
    ...(expanded ? { [c.legacy ? "unstable_expanded_timeline" : "expanded_timeline"]: true } : {}),
  };
  return { json, vis, sent: { pos: upper, combined, membership: m.membership, name, avatar, heroes, counts, isDm: c.dm, bump: c.bump, members, unread: sent?.unread } };
}

/** The last change of each state key among events (oldest first). */
function latestPerKey(rows: events.EventRow[]): events.EventRow[] {
  const m = new Map<string, events.EventRow>();
  for (const r of rows) if (r.event.state_key !== undefined) m.set(`${r.event.type}\u0000${r.event.state_key}`, r);
  return [...m.values()];
}

/** An event as the user is sent it: the shared text, or the sending device's own copy (its transaction ID). */
export function serializer(c: { who: Requester; now: number }): (r: events.EventRow) => unknown {
  return (r) => (r.txn && r.event.sender === c.who.userId ? serialize(r, c.who, c.now) : eventJsonWithAge(r.event, c.now));
}

/** A string field of a state event: the value, null when the event is there without it, undefined when there is no event. */
function strField(e: ClientEvent | undefined, field: string): string | null | undefined {
  if (!e) return undefined;
  const v = e.content[field];
  return typeof v === "string" && v !== "" ? v : null;
}

function hero(member: ClientEvent | undefined, userId: string): Json {
  const c = member?.content ?? {};
  return {
    user_id: userId,
    ...(typeof c.displayname === "string" ? { displayname: c.displayname } : {}),
    ...(typeof c.avatar_url === "string" ? { avatar_url: c.avatar_url } : {}),
  };
}

/** The room's state at `upTo`, keyed "type\0state_key" (the cache's current state when nothing came later). */
async function stateAt(db: Db, room: RoomState, upTo: number): Promise<Map<string, events.EventRow>> {
  const rows = [...room.state.values()].map((e) => ({ pos: e.pos, event: e.event, txn: null }));
  const at = room.lastPos <= upTo ? rows : await stateBefore(db, room.roomId, rows, upTo + 1);
  return new Map(at.map((r) => [`${r.event.type}\u0000${r.event.state_key}`, r]));
}

/** The state a config asks for: exact keys looked up, else every entry tested. */
function pick(state: Map<string, events.EventRow>, c: Combined): events.EventRow[] {
  const exact = exactKeys(c);
  if (exact) {
    const out: events.EventRow[] = [];
    for (const p of exact) {
      const r = state.get(`${p.type}\u0000${p.key}`);
      if (r && wants(c, p.type!, p.key!) && !out.includes(r)) out.push(r);
    }
    return out;
  }
  return [...state.values()].filter((r) => wants(c, r.event.type, r.event.state_key!));
}

/** The position of the room's latest event of a bumping type, from memory when it holds one. */
export function bumpFromMemory(room: RoomState): number | null {
  for (let i = room.recent.length - 1; i >= 0; i--) if (BUMP_TYPES.has(room.recent[i]!.event.type)) return room.recent[i]!.pos;
  return null;
}

export type { RoomId, UserId };
