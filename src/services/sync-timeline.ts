// The pieces of a room's section in /sync: which timeline events are shown, the state before
// them, and which of that state lazy-loaded members keep.
import { matchesEventFilter, type Filter, type RoomEventFilter } from "../matrix/filter.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import type { LazyMembers } from "./lazy-members.js";
import type { RoomState } from "./room-state.js";
import type { Visibility } from "./visibility.js";

export type Timeline = ReturnType<typeof timeline>;

/**
 * Keeps the last `limit` visible, matching events; `limited` when older ones were cut. `rows`
 * are the newest `window` events of the range or fewer (all of it). Under a filter that keeps
 * only some events, the limit counts the events it keeps (spec: filters), and the timeline is
 * limited only when more of those came before.
 */
export function timeline(rows: events.EventRow[], limit: number, vis: Visibility | null, f: RoomEventFilter | undefined, ignored?: Set<string>, window = limit + 1, current?: RoomState | null) {
  // Events of the room's current state are always shown (sent while the user was away or
  // not): a client must be able to rebuild the current state from what it was sent.
  const isCurrent = (r: events.EventRow) => r.event.state_key !== undefined && current?.entry(r.event.type, r.event.state_key)?.event.event_id === r.event.event_id;
  let visible = vis ? rows.filter((r) => vis.canSee(r.event, r.pos) || isCurrent(r)) : rows;
  visible = visible.filter((r) => matchesEventFilter(r.event, f));
  // m.ignored_user_list: ignored users' messages are not shown (their state changes are).
  if (ignored?.size) visible = visible.filter((r) => r.event.state_key !== undefined || !ignored.has(r.event.sender));
  const cut = rows.length >= window;
  // From the newest limit + 1 events: limited when they were not all. From a longer window
  // (a filtered timeline read further back): when more matching events than the limit, or
  // the window did not reach the start.
  const limited = limit >= 0 && (window > limit + 1 ? visible.length > limit || cut : cut);
  const kept = visible.slice(Math.max(0, visible.length - limit));
  return { events: kept, limited, firstPos: kept.length ? kept[0]!.pos : 0, short: (restricts(f) || vis !== null) && cut && kept.length < limit && window === limit + 1 };
}

/** Does the timeline filter keep only some events? */
export function restricts(f: RoomEventFilter | undefined): boolean {
  return !!f && (f.types !== undefined || !!f.not_types?.length || f.senders !== undefined || !!f.not_senders?.length || f.contains_url !== undefined);
}

/** How far back a filtered timeline reads to fill its limit. */
export const FILTERED_WINDOW = 500;

/**
 * A timeline that came out short of its limit from the newest limit + 1 events (a filter, or
 * history the user may not see, hid some): read further back (up to FILTERED_WINDOW events)
 * for more it shows.
 */
export async function refill(db: Db, roomId: RoomId, tl: Timeline, after: number, upTo: number, limit: number, vis: Visibility | null, f: RoomEventFilter | undefined, ignored?: Set<string>, current?: RoomState | null): Promise<Timeline> {
  if (!tl.short) return tl;
  const rows = (await events.selectRoomEvents(db, roomId, after, upTo, "b", FILTERED_WINDOW)).reverse();
  return timeline(rows, limit, vis, f, ignored, FILTERED_WINDOW, current);
}

/**
 * The state just before the timeline starts, from the current state: keys changed at or
 * after `start` are looked up as they were before it.
 */
export async function stateBefore(db: Db, roomId: RoomId, current: events.EventRow[], start: number): Promise<events.EventRow[]> {
  const keep = current.filter((r) => r.pos < start);
  const later = current.filter((r) => r.pos >= start);
  if (later.length) {
    const before = await events.selectStateBeforeKeys(db, roomId, later.map((r) => ({ type: r.event.type, stateKey: r.event.state_key! })), start);
    keep.push(...before);
  }
  return keep;
}

/** Lazy-loading members: only the membership events of the timeline's senders (and the user). */
export function lazyFilter(state: events.EventRow[], timeline: events.EventRow[], userId: UserId, lazy: boolean, f: Filter): events.EventRow[] {
  let out = state.filter((r) => matchesEventFilter(r.event, f.room?.state));
  if (!lazy) return out;
  const senders = new Set<string>(timeline.map((r) => r.event.sender));
  senders.add(userId);
  out = out.filter((r) => r.event.type !== "m.room.member" || senders.has(r.event.state_key!));
  return out;
}

/** What lazy loading needs to know of a device: what it was sent, and whether to resend. */
export interface LazyDevice { members: LazyMembers; device: string; redundant: boolean }

/**
 * Lazy members in an incremental sync of a room the user stays in: every state change of the
 * gap (members who joined or left in it included), and the membership of each timeline sender
 * the device has not been sent (all of them with include_redundant_members).
 */
export function lazyIncremental(state: events.EventRow[], tl: events.EventRow[], room: RoomState | null, lz: LazyDevice, f: Filter, toEnd = false): events.EventRow[] {
  const out = state.filter((r) => matchesEventFilter(r.event, f.room?.state));
  if (!room) return out;
  const have = new Set(out.filter((r) => r.event.type === "m.room.member").map((r) => r.event.state_key!));
  const first = tl.length ? tl[0]!.pos : Number.MAX_SAFE_INTEGER;
  for (const r of tl) {
    const s = r.event.sender;
    if (have.has(s) || (!lz.redundant && lz.members.has(lz.device, room.roomId, s))) continue;
    have.add(s);
    // A membership that changed within the timeline is in it (and in `state`, before `toEnd`:
    // state up to the timeline's end, already carries every change of the range).
    const e = room.entry("m.room.member", s);
    if (e && (toEnd || e.pos < first) && matchesEventFilter(e.event, f.room?.state)) out.push({ pos: e.pos, event: e.event, txn: null });
  }
  return out;
}

/** Notes the members whose membership a room's section carries (state and timeline). */
export function noteLazySent(lz: LazyDevice, roomId: RoomId, state: events.EventRow[], tl: events.EventRow[]): void {
  const sent: string[] = [];
  for (const r of [...state, ...tl]) if (r.event.type === "m.room.member" && r.event.state_key !== undefined) sent.push(r.event.state_key);
  lz.members.sent(lz.device, roomId, sent);
}

/**
 * event_format "federation" (spec: filters): each timeline and state event of these room
 * sections as the homeserver holds it (prev_events, auth_events, depth, hashes, signatures),
 * with its event ID and its unsigned data. One query for all of them.
 */
export async function federationFormat(db: Db, sections: Record<string, unknown>[]): Promise<void> {
  type Section = { timeline?: { events: Record<string, unknown>[] }; state?: { events: Record<string, unknown>[] } };
  const lists = sections.flatMap((rooms) => Object.values(rooms as Record<string, Section>)).flatMap((s) => [s.timeline?.events, s.state?.events]).filter((l): l is Record<string, unknown>[] => !!l);
  const ids = lists.flatMap((l) => l.map((e) => String(e.event_id)));
  if (ids.length === 0) return;
  const pdus = await events.selectPdus(db, ids);
  for (const l of lists) {
    for (let i = 0; i < l.length; i++) {
      const e = l[i]!;
      const pdu = pdus.get(String(e.event_id));
      if (pdu) l[i] = { ...pdu, event_id: e.event_id, ...(e.unsigned ? { unsigned: e.unsigned } : {}) };
    }
  }
}
