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
import type { ReceiptRow } from "../store/receipts.js";
import { lazyKey, type LazyMembers } from "./lazy-members.js";
import type { MembershipCache } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import type { RoomState, RoomStateCache } from "./room-state.js";
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
  ignored: ReadonlySet<string> | undefined;
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
  shared: SharedWake;
  /** Receipt changes of a room in (after, upTo] from memory, or null when only the table knows. */
  receiptsSince(roomId: RoomId, after: number, upTo: number): ReceiptRow[] | null;
}

/** The response, or null when the general path must answer. */
export async function quickDelta(d: QuickDeps, q: QuickInput): Promise<Json | null> {
  const plan = quickPlan(d, q);
  if (!plan) return null;
  const counts = plan.sections.length ? await d.unread.counts(q.who.userId, plan.sections.map((x) => x.roomId), q.upTo) : null;
  return finish(d, q, plan, counts);
}

/**
 * quickDelta without waiting for anything: null also when the user's unread counts are not in
 * memory. A woken WebSocket answers from this synchronously (no async chain per connection).
 */
export function quickDeltaNow(d: QuickDeps, q: QuickInput): Json | null {
  const plan = quickPlan(d, q);
  if (!plan) return null;
  let counts: Map<RoomId, Unread> | null = null;
  if (plan.sections.length) {
    counts = d.unread.countsNow(q.who.userId, plan.sections.map((x) => x.roomId), q.upTo);
    if (!counts) return null;
  }
  return finish(d, q, plan, counts);
}

interface Plan { sections: Section[]; lazySent: [RoomId, string[]][]; keys: { counts: Record<string, number>; unusedFallback: string[] }; now: number }

function quickPlan(d: QuickDeps, q: QuickInput): Plan | null {
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
  const sections: Section[] = [];
  const lazySent: [RoomId, string[]][] = [];
  const shared = d.shared.at(upTo);
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
    // Receipts from the recent ones in memory (receipt-log.ts), as the general path shows them.
    let receipt: string | null = null;
    if (n.receiptsChanged(m.roomId, after)) {
      const rows = d.receiptsSince(m.roomId, after, upTo);
      if (!rows) return null;
      receipt = receiptText(rows, userId, f);
    }
    // New events since the token (none known to this process since it started: it cannot tell).
    const last = n.roomLastPos(m.roomId);
    if (last === null && after < n.startPos) return null;
    let tl: SharedTimeline | null = null;
    let room: RoomState | undefined;
    if (last !== null && last > after) {
      room = d.cache.peek(m.roomId);
      if (!room) return null;
      tl = shared.timeline(room, after, upTo, f, q.limit);
      if (!tl) return null;
      if (tl.kept.length === 0) tl = null; // the filter hides every new event: no timeline (as the general path)
      else if (tl.txnSenders.has(userId)) return null; // this device's own send carries its transaction_id
    }
    if (!tl) {
      // Receipts alone: the general path's empty section around them.
      if (receipt) sections.push({ roomId: m.roomId, timeline: emptyTimeline(upTo), state: [], receipt });
      continue;
    }
    // Lazy members: the membership of each sender this device was not sent, from the current
    // state (no state changed in the range), as lazyIncremental gives it on the general path.
    const state: ClientEvent[] = [];
    if (lazy) {
      const sent: string[] = [];
      for (const r of tl.kept) {
        const s = r.event.sender;
        if (d.lazyMembers.has(device, m.roomId, s) || sent.includes(s)) continue;
        const e = room!.entry("m.room.member", s);
        if (!e || e.pos >= tl.firstPos || !matchesEventFilter(e.event, f.room?.state)) continue;
        sent.push(s);
        state.push(e.event);
      }
      // Noted only once the whole answer is known (a later room may still decline).
      if (sent.length) lazySent.push([m.roomId, sent]);
    }
    sections.push({ roomId: m.roomId, timeline: tl.text, state, receipt });
  }
  return { sections, lazySent, keys, now: shared.now };
}

function finish(d: QuickDeps, q: QuickInput, plan: Plan, counts: Map<RoomId, Unread> | null): Json {
  const join: Json = {};
  const threaded = q.filter.room?.timeline?.unread_thread_notifications === true;
  for (const x of plan.sections) join[x.roomId] = sectionJson(x, plan.now, counts?.get(x.roomId), threaded, q.stateKey);
  const device = lazyKey(q.who);
  for (const [roomId, sent] of plan.lazySent) d.lazyMembers.sent(device, roomId, sent);
  return {
    next_batch: formatToken(q.upTo, [q.typingSerial, Math.max(q.sincePresence, q.presenceSettled), q.upTo]),
    rooms: { join, invite: {}, leave: {}, knock: {} },
    account_data: { events: [] },
    presence: { events: [] },
    to_device: { events: [] },
    device_lists: { changed: [], left: [] },
    device_one_time_keys_count: plan.keys.counts,
    device_unused_fallback_key_types: plan.keys.unusedFallback,
  };
}

/**
 * A response of finish()'s shape as text, in JSON.stringify's key order, without its walk
 * over the value and the fragments' swap (stringifyJson): what a pushed frame carries.
 */
export function quickText(res: Json): string {
  const join = (res.rooms as { join: Record<string, RawJson> }).join;
  let t = `{"next_batch":${JSON.stringify(res.next_batch)},"rooms":{"join":{`;
  let i = 0;
  for (const roomId in join) t += `${i++ ? "," : ""}${JSON.stringify(roomId)}:${join[roomId]!.json}`;
  return `${t}},"invite":{},"leave":{},"knock":{}},"account_data":{"events":[]},"presence":{"events":[]},"to_device":{"events":[]},`
    + `"device_lists":{"changed":[],"left":[]},"device_one_time_keys_count":${JSON.stringify(res.device_one_time_keys_count)},`
    + `"device_unused_fallback_key_types":${JSON.stringify(res.device_unused_fallback_key_types)}}`;
}

/** A room's new events as one wake-up shows them to every member with the same timeline filter. */
interface SharedTimeline { kept: EventRow[]; firstPos: number; text: string; txnSenders: Set<string> }

/**
 * What every user woken for the same new events shares: each room's timeline text for a
 * (token, position, filter), built by the first of them and reused by the rest. It lives for
 * one position (a later commit starts a new one) and at most SHARED_TEXT_MS (ages stay near).
 */
export class SharedWake {
  private upTo = -1;
  now = 0;
  private readonly rooms = new Map<string, SharedTimeline | null>();

  at(upTo: number): this {
    const now = Date.now();
    if (upTo !== this.upTo || now - this.now > SHARED_TEXT_MS || this.rooms.size > 10_000) {
      this.upTo = upTo;
      this.now = now;
      this.rooms.clear();
    }
    return this;
  }

  /** The room's timeline after `after`, or null when it needs the general path. */
  timeline(room: RoomState, after: number, upTo: number, f: Filter, limit: number): SharedTimeline | null {
    const key = `${room.roomId}|${after}|${limit}|${filterKey(f.room?.timeline)}`;
    let t = this.rooms.get(key);
    if (t === undefined) this.rooms.set(key, (t = buildTimeline(room, after, upTo, f, limit, this.now)));
    return t;
  }
}

const SHARED_TEXT_MS = 250;

const emptyTimeline = (upTo: number) => `{"timeline":{"events":[],"limited":false,"prev_batch":${JSON.stringify(formatToken(upTo))}},`;

/**
 * The m.receipt event of these changes as the user sees it (ReceiptService.forSync): others'
 * private receipts and the user's own delivered marks left out; null when nothing is left or
 * the filter hides receipts.
 */
function receiptText(rows: ReceiptRow[], userId: string, f: Filter): string | null {
  if (!matchesEventFilter({ type: "m.receipt", sender: userId }, f.room?.ephemeral)) return null;
  const content: Record<string, Record<string, Record<string, unknown>>> = {};
  let any = false;
  for (const r of rows) {
    if (r.type === "m.read.private" && r.userId !== userId) continue;
    if (r.type === "org.ganglion.delivered" && r.userId === userId) continue;
    const byType = (content[r.eventId] ??= {});
    (byType[r.type] ??= {})[r.userId] = { ts: r.ts, ...(r.threadId ? { thread_id: r.threadId } : {}) };
    any = true;
  }
  return any ? JSON.stringify({ type: "m.receipt", content }) : null;
}

const filterKeys = new WeakMap<object, string>();
function filterKey(f: object | undefined): string {
  if (!f) return "";
  let k = filterKeys.get(f);
  if (k === undefined) filterKeys.set(f, (k = JSON.stringify(f)));
  return k;
}

function buildTimeline(room: RoomState, after: number, upTo: number, f: Filter, limit: number, now: number): SharedTimeline | null {
  const rows = room.recentBetween(after, upTo);
  if (!rows) return null;
  if (rows.length > limit) return null; // limited: the state section is needed
  const shown: EventRow[] = [];
  const txnSenders = new Set<string>();
  for (const r of rows) {
    if (!plain(r)) return null;
    if (r.txn) txnSenders.add(r.event.sender);
    if (!matchesEventFilter(r.event, f.room?.timeline)) continue;
    shown.push(r);
  }
  const kept = shown.slice(Math.max(0, shown.length - limit));
  const firstPos = kept.length ? kept[0]!.pos : after + 1;
  let t = '{"timeline":{"events":[';
  for (let i = 0; i < kept.length; i++) t += (i ? "," : "") + eventTextWithAge(kept[i]!.event, now);
  t += `],"limited":false,"prev_batch":${JSON.stringify(formatToken(firstPos - 1))}},`;
  return { kept, firstPos, text: t, txnSenders };
}

interface Section { roomId: RoomId; timeline: string; state: ClientEvent[]; receipt: string | null }
type Unread = { total: Json | object; main: Json | object; threads: Record<string, unknown> };

/**
 * A room's section as one text, assembled from each event's shared text (its age added) and
 * this user's unread counts, in the general path's shape and key order: a wake-up builds no
 * object per event and the response's stringify meets one fragment per room.
 */
function sectionJson(x: Section, now: number, u: Unread | undefined, threaded: boolean, stateKey: string): RawJson {
  // No state changed in the range: the state at the timeline's start and at its end are the same.
  let t = `${x.timeline}${JSON.stringify(stateKey)}:{"events":[`;
  for (let i = 0; i < x.state.length; i++) t += (i ? "," : "") + eventTextWithAge(x.state[i]!, now);
  t += `]},"ephemeral":{"events":[${x.receipt ?? ""}]},"account_data":{"events":[]}`;
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
 * aggregations). (The sender's own send, whose copy carries the transaction_id, is declined
 * per user: txnSenders.)
 */
function plain(r: EventRow): boolean {
  const e = r.event;
  if (e.type === "m.room.member" || e.type === "m.room.redaction" || e.state_key !== undefined) return false;
  return e.content["m.relates_to"] === undefined;
}
