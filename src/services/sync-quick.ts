// The common wake-up, answered without the general machinery: new events in rooms the user
// stays in, and nothing else new for them (no membership, account data, receipts, typing,
// presence, to-device or key changes). A message to a room of thousands wakes thousands of
// connections for exactly this, so it must cost each of them little: no query, no section
// that is known to be empty, each event's text shared (raw-json.ts).
//
// It gives the answer SyncService.compute would give; anything it does not cover exactly
// (a timeline that would be limited, membership or relation events, redactions, ignored
// users, event_fields, redundant members) makes it decline, and compute answers. Changes to what an incremental
// sync returns for a joined room must be made in both.
import type { ClientEvent } from "../matrix/events.js";
import { matchesEventFilter, roomAllowed, type Filter } from "../matrix/filter.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import { RawJson, eventTextWithAge } from "../matrix/raw-json.js";
import { formatToken } from "../matrix/tokens.js";
import type { EventRow } from "../store/events.js";
import { lazyKey, type LazyMembers } from "./lazy-members.js";
import type { MembershipCache } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import type { RoomStateCache } from "./room-state.js";
import type { Requester } from "./tokens.js";
import type { UnreadService } from "./unread.js";

type Json = Record<string, unknown>;

export interface QuickInput {
  who: Requester;
  after: number;
  upTo: number;
  sinceTyping: number;
  sincePresence: number;
  /** The to-device position the token acknowledges. */
  ack: number;
  filter: Filter;
  limit: number;
  typingSerial: number;
  /** The highest presence serial every change at or below which has been announced. */
  presenceSettled: number;
  ignored: Set<string> | undefined;
  /** "state", or the use_state_after key. */
  stateKey: string;
}

export interface QuickDeps {
  notifier: Notifier;
  members: MembershipCache;
  cache: RoomStateCache;
  unread: UnreadService;
  keyCounts(userId: UserId, deviceId: string): { counts: Record<string, number>; unusedFallback: string[] } | undefined;
  lazyMembers: LazyMembers;
}

/** The response, or null when the general path must answer. */
export async function quickDelta(d: QuickDeps, q: QuickInput): Promise<Json | null> {
  const { who, after, upTo, filter: f } = q;
  const userId = who.userId;
  const n = d.notifier;
  if (!q.ignored || q.ignored.size > 0 || f.event_fields || f.event_format === "federation") return null;
  if (n.accountDataChanged(userId, after) || n.deviceListsChanged(userId, after) || n.typingNews(userId, q.sinceTyping) || n.presenceNews(userId, q.sincePresence)) return null;
  if (who.deviceId && n.toDeviceChanged(userId, q.ack)) return null;
  // Lazy members: a sender whose membership this device was not sent needs the general path.
  const lazy = f.room?.state?.lazy_load_members === true;
  if (lazy && f.room?.state?.include_redundant_members === true) return null;
  const device = lazy ? lazyKey(who) : "";
  const keys = who.deviceId ? d.keyCounts(userId, who.deviceId) : { counts: {}, unusedFallback: [] };
  if (!keys) return null;
  const memberships = d.members.peek(userId);
  if (!memberships) return null;
  const now = Date.now();
  const sections: Section[] = [];
  const lazySent: [RoomId, string[]][] = [];
  for (const m of memberships.values()) {
    if (m.pos > after) return null; // a membership change in range
    if (m.membership !== "join") continue;
    if (!roomAllowed(m.roomId, f.room)) {
      // A room the filter hides still moves device lists and presence when people come and go.
      const last = n.roomLastPos(m.roomId);
      if (last === null ? after < n.startPos : last > after) {
        const rows = d.cache.peek(m.roomId)?.recentBetween(after, upTo);
        if (!rows || rows.some((r) => r.event.type === "m.room.member")) return null;
      }
      continue;
    }
    if (n.receiptsChanged(m.roomId, after)) return null;
    // Nothing in the room since the token (or, unknown to this process, since it started).
    const last = n.roomLastPos(m.roomId);
    if (last === null) {
      if (after >= n.startPos) continue;
      return null;
    }
    if (last <= after) continue;
    const room = d.cache.peek(m.roomId);
    const rows = room?.recentBetween(after, upTo);
    if (!rows) return null;
    if (rows.length === 0) continue;
    if (rows.length > q.limit) return null; // limited: the state section is needed
    const shown: EventRow[] = [];
    for (const r of rows) {
      if (!plain(r, userId)) return null;
      if (!matchesEventFilter(r.event, f.room?.timeline)) continue;
      shown.push(r);
    }
    if (shown.length === 0) continue; // the filter hides every new event: no section (as the general path)
    const kept = shown.slice(Math.max(0, shown.length - q.limit));
    const firstPos = kept.length ? kept[0]!.pos : after + 1;
    // Lazy members: the membership of each sender this device was not sent, from the current
    // state (no state changed in the range), as lazyIncremental gives it on the general path.
    const state: ClientEvent[] = [];
    if (lazy) {
      const sent: string[] = [];
      for (const r of kept) {
        const s = r.event.sender;
        if (d.lazyMembers.has(device, m.roomId, s) || sent.includes(s)) continue;
        const e = room!.entry("m.room.member", s);
        if (!e || e.pos >= firstPos || !matchesEventFilter(e.event, f.room?.state)) continue;
        sent.push(s);
        state.push(e.event);
      }
      // Noted only once the whole answer is known (a later room may still decline).
      if (sent.length) lazySent.push([m.roomId, sent]);
    }
    sections.push({ roomId: m.roomId, kept, state, firstPos });
  }
  const join: Json = {};
  if (sections.length) {
    const counts = await d.unread.counts(userId, sections.map((x) => x.roomId), upTo);
    const threaded = f.room?.timeline?.unread_thread_notifications === true;
    for (const x of sections) join[x.roomId] = sectionJson(x, now, counts.get(x.roomId), threaded, q.stateKey);
  }
  for (const [roomId, sent] of lazySent) d.lazyMembers.sent(device, roomId, sent);
  return {
    next_batch: formatToken(upTo, [q.typingSerial, Math.max(q.sincePresence, q.presenceSettled), upTo]),
    rooms: { join, invite: {}, leave: {}, knock: {} },
    account_data: { events: [] },
    presence: { events: [] },
    to_device: { events: [] },
    device_lists: { changed: [], left: [] },
    device_one_time_keys_count: keys.counts,
    device_unused_fallback_key_types: keys.unusedFallback,
  };
}

interface Section { roomId: RoomId; kept: EventRow[]; state: ClientEvent[]; firstPos: number }
type Unread = { total: Json | object; main: Json | object; threads: Record<string, unknown> };

/**
 * A room's section as one text, assembled from each event's shared text (its age added) and
 * this user's unread counts, in the general path's shape and key order: a wake-up builds no
 * object per event and the response's stringify meets one fragment per room.
 */
function sectionJson(x: Section, now: number, u: Unread | undefined, threaded: boolean, stateKey: string): RawJson {
  let t = '{"timeline":{"events":[';
  for (let i = 0; i < x.kept.length; i++) t += (i ? "," : "") + eventTextWithAge(x.kept[i]!.event, now);
  // No state changed in the range: the state at the timeline's start and at its end are the same.
  t += `],"limited":false,"prev_batch":${JSON.stringify(formatToken(x.firstPos - 1))}},${JSON.stringify(stateKey)}:{"events":[`;
  for (let i = 0; i < x.state.length; i++) t += (i ? "," : "") + eventTextWithAge(x.state[i]!, now);
  t += ']},"ephemeral":{"events":[]},"account_data":{"events":[]}';
  if (u) {
    if (threaded) {
      t += `,"unread_notifications":${JSON.stringify(u.main)}`;
      if (Object.keys(u.threads).length) t += `,"unread_thread_notifications":${JSON.stringify(u.threads)}`;
    } else t += `,"unread_notifications":${JSON.stringify(u.total)}`;
  }
  return new RawJson(t + "}");
}

/**
 * An event the general path would serialise the same way for every member and bundle
 * nothing onto: not a membership change, a redaction or a relation (which may carry or need
 * aggregations), and not this user's own send (its copy carries the transaction_id).
 */
function plain(r: EventRow, userId: string): boolean {
  const e = r.event;
  if (e.type === "m.room.member" || e.type === "m.room.redaction" || e.state_key !== undefined) return false;
  if (e.content["m.relates_to"] !== undefined) return false;
  if (r.txn && e.sender === userId) return false;
  return true;
}
