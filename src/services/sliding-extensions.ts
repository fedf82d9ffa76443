// Simplified sliding sync's extensions: to_device (MSC3885), e2ee (MSC3884), account_data
// (MSC3959), receipts (MSC3960), typing (MSC3961). Each is on while its sticky config says
// `enabled: true`; the room-scoped ones cover the rooms of the lists and subscriptions their
// `lists` / `rooms` name (all of them when absent or "*").
import { invalidParam } from "../http/errors.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import * as accountData from "../store/account-data.js";
import type { Db } from "../store/db.js";
import * as memberStore from "../store/memberships.js";
import type { KeyService } from "./e2ee.js";
import type { Membership, MembershipCache } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import type { ReceiptService } from "./receipts.js";
import type { RoomStateCache } from "./room-state.js";
import type { Snapshot } from "./sliding-sync.js";
import { deviceListDelta, membershipMoves } from "./sync-shape.js";
import type { Requester } from "./tokens.js";
import type { TypingService } from "./typing.js";

type Json = Record<string, unknown>;
type Config = Record<string, unknown>;

export interface ExtensionDeps {
  db: Db;
  notifier: Notifier;
  keys: KeyService;
  receipts: ReceiptService;
  typing: TypingService;
  cache: RoomStateCache;
  members: MembershipCache;
}

export interface ExtensionInput {
  who: Requester;
  /** The connection's sticky configs, this request's merged in. */
  conn: Record<string, Config>;
  /** This request's own configs (to_device's `since` is per request). */
  request: Record<string, Config>;
  prev: Snapshot | null;
  upTo: number;
  typingSerial: number;
  memberships: Membership[];
  lists: Map<string, RoomId[]>;
  subscribed: RoomId[];
  sentRooms: RoomId[];
  initialRooms: RoomId[];
  /** The user's ignored users: their receipts and typing are not shown. */
  ignored: ReadonlySet<string>;
}

const on = (c: Config | undefined): c is Config => c?.enabled === true;

export async function extensionResults(d: ExtensionDeps, x: ExtensionInput): Promise<{ body: Json; news: boolean }> {
  const body: Json = {};
  let news = false;
  const userId = x.who.userId;
  const after = x.prev?.pos ?? -1;
  const joined = new Set(x.memberships.filter((m) => m.membership === "join").map((m) => m.roomId));

  const td = x.conn.to_device;
  if (on(td)) {
    const since = x.request.to_device?.since;
    if (since !== undefined && (typeof since !== "string" || !/^\d{1,16}$/.test(since))) throw invalidParam("to_device.since is not a token this server gave");
    const r = await d.keys.toDeviceForSync(x.who, since === undefined ? null : Number(since), x.upTo);
    body.to_device = { next_batch: String(r.more && r.lastPos !== null ? r.lastPos : x.upTo), events: r.events };
    if (r.events.length) news = true;
  }

  if (on(x.conn.e2ee)) {
    const lists = x.prev ? await deviceLists(d, userId, x.memberships, after, x.upTo) : { changed: [], left: [] };
    const otk = x.who.deviceId ? await d.keys.counts(userId, x.who.deviceId) : { counts: {}, unusedFallback: [] };
    body.e2ee = { device_lists: lists, device_one_time_keys_count: otk.counts, device_unused_fallback_key_types: otk.unusedFallback };
    if (lists.changed.length || lists.left.length) news = true;
  }

  const ad = x.conn.account_data;
  if (on(ad)) {
    const scope = scopeOf(ad, x);
    const rows = !x.prev || d.notifier.accountDataChanged(userId, after) ? await accountData.selectAccountDataSince(d.db, userId, after, x.upTo) : [];
    const first = x.prev ? x.initialRooms.filter((r) => scope.has(r)) : [];
    const byRoom: Record<string, Json[]> = {};
    const global: Json[] = [];
    const seen = new Set<string>();
    for (const a of [...rows, ...(first.length ? await accountData.selectAccountDataOfRooms(d.db, userId, first, x.upTo) : [])]) {
      const k = `${a.roomId}|${a.type}`;
      if (seen.has(k)) continue;
      seen.add(k);
      if (a.roomId === "") global.push({ type: a.type, content: a.content });
      else if (scope.has(a.roomId)) (byRoom[a.roomId] ??= []).push({ type: a.type, content: a.content });
    }
    body.account_data = { global, rooms: byRoom };
    if (global.length || Object.keys(byRoom).length) news = true;
  }

  const rc = x.conn.receipts;
  if (on(rc)) {
    const scope = [...scopeOf(rc, x)].filter((r) => joined.has(r));
    const first = new Set(x.prev ? x.initialRooms : scope);
    const out: Json = {};
    const put = (m: Map<RoomId, Record<string, unknown>>) => { for (const [roomId, content] of m) out[roomId] = { type: "m.receipt", content }; };
    put(await d.receipts.forSync(userId, scope.filter((r) => first.has(r)), -1, x.upTo, x.ignored));
    if (x.prev) put(await d.receipts.forSync(userId, scope.filter((r) => !first.has(r)), after, x.upTo, x.ignored));
    body.receipts = { rooms: out };
    if (Object.keys(out).length) news = true;
  }

  const ty = x.conn.typing;
  if (on(ty)) {
    const scope = [...scopeOf(ty, x)].filter((r) => joined.has(r));
    const first = new Set(x.prev ? x.initialRooms : scope);
    const out: Json = {};
    const put = (m: Map<RoomId, UserId[]>) => {
      for (const [roomId, all] of m) {
        const users = x.ignored.size ? all.filter((u) => !x.ignored.has(u)) : all;
        if (users.length || !all.length) out[roomId] = { type: "m.typing", content: { user_ids: users } };
      }
    };
    put(d.typing.forSync(scope.filter((r) => first.has(r)), null));
    if (x.prev) put(d.typing.forSync(scope.filter((r) => !first.has(r)), x.prev.typing));
    body.typing = { rooms: out };
    if (Object.keys(out).length) news = true;
  }
  return { body, news };
}

/** The rooms an extension covers: those of the lists and subscriptions its config names. */
function scopeOf(cfg: Config, x: ExtensionInput): Set<RoomId> {
  const names = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : null);
  const lists = names(cfg.lists);
  const rooms = names(cfg.rooms);
  const out = new Set<RoomId>();
  for (const [k, ids] of x.lists) if (!lists || lists.includes("*") || lists.includes(k)) for (const r of ids) out.add(r);
  for (const r of x.subscribed) if (!rooms || rooms.includes("*") || rooms.includes(r)) out.add(r);
  return out;
}

/**
 * Whose keys changed for this user since `after`, and who no longer shares a room (as /sync's
 * device_lists): key changes of room-mates, people who came to share a room, and members of
 * rooms the user joined.
 */
async function deviceLists(d: ExtensionDeps, userId: UserId, memberships: Membership[], after: number, upTo: number): Promise<{ changed: string[]; left: string[] }> {
  const joinedRooms = memberships.filter((m) => m.membership === "join").map((m) => m.roomId);
  const moves = await membershipMoves(d.db, d.cache, d.notifier, joinedRooms, userId, after, upTo);
  const mine = memberships.some((m) => m.pos > after) ? await memberStore.selectMembershipChanges(d.db, userId, after, upTo) : [];
  const moved = new Map<RoomId, { prev: string; now: string }>();
  for (const c of mine) {
    const e = moved.get(c.roomId);
    if (e) e.now = c.membership; else moved.set(c.roomId, { prev: c.prev, now: c.membership });
  }
  return deviceListDelta(d.keys, d.notifier, d.cache, d.members, userId, moved, moves, after, upTo);
}
