// The pieces of a room's section in /sync: which timeline events are shown, the state before
// them, and which of that state lazy-loaded members keep.
import { matchesEventFilter, type Filter, type RoomEventFilter } from "../matrix/filter.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import type { LazyMembers } from "./lazy-members.js";
import type { RoomState } from "./room-state.js";
import type { Visibility } from "./visibility.js";

/** Keeps the last `limit` visible, matching events; `limited` when older ones were cut. */
export function timeline(rows: events.EventRow[], limit: number, vis: Visibility | null, f: RoomEventFilter | undefined, ignored?: Set<string>) {
  let visible = vis ? rows.filter((r) => vis.canSee(r.event, r.pos)) : rows;
  visible = visible.filter((r) => matchesEventFilter(r.event, f));
  // m.ignored_user_list: ignored users' messages are not shown (their state changes are).
  if (ignored?.size) visible = visible.filter((r) => r.event.state_key !== undefined || !ignored.has(r.event.sender));
  const limited = rows.length > limit && limit >= 0;
  const kept = visible.slice(Math.max(0, visible.length - limit));
  return { events: kept, limited, firstPos: kept.length ? kept[0]!.pos : 0 };
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
export function lazyIncremental(state: events.EventRow[], tl: events.EventRow[], room: RoomState | null, lz: LazyDevice, f: Filter): events.EventRow[] {
  const out = state.filter((r) => matchesEventFilter(r.event, f.room?.state));
  if (!room) return out;
  const have = new Set(out.filter((r) => r.event.type === "m.room.member").map((r) => r.event.state_key!));
  const first = tl.length ? tl[0]!.pos : Number.MAX_SAFE_INTEGER;
  for (const r of tl) {
    const s = r.event.sender;
    if (have.has(s) || (!lz.redundant && lz.members.has(lz.device, room.roomId, s))) continue;
    have.add(s);
    // A membership that changed within the timeline is in it.
    const e = room.entry("m.room.member", s);
    if (e && e.pos < first && matchesEventFilter(e.event, f.room?.state)) out.push({ pos: e.pos, event: e.event, txn: null });
  }
  return out;
}

/** Notes the members whose membership a room's section carries (state and timeline). */
export function noteLazySent(lz: LazyDevice, roomId: RoomId, state: events.EventRow[], tl: events.EventRow[]): void {
  const sent: string[] = [];
  for (const r of [...state, ...tl]) if (r.event.type === "m.room.member" && r.event.state_key !== undefined) sent.push(r.event.state_key);
  lz.members.sent(lz.device, roomId, sent);
}
