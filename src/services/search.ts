// POST /search, category room_events. https://spec.matrix.org/latest/client-server-api/#server-side-search
// Postgres full-text search over the user's rooms, filtered by history visibility; pages by a
// keyset (rank and position, or position), so every match appears exactly once across pages.
import type { Config } from "../config/schema.js";
import { MatrixError } from "../http/errors.js";
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId } from "../matrix/ids.js";
import { SEARCH_KEYS, searchQuery } from "../matrix/search-text.js";
import { formatToken } from "../matrix/tokens.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import * as store from "../store/search.js";
import type { MembershipCache } from "./memberships.js";
import type { RelationService } from "./relations.js";
import { serialize } from "./room-read.js";
import type { RoomStateCache } from "./room-state.js";
import type { Requester } from "./tokens.js";
import { Visibility } from "./visibility.js";

export interface RoomEventsCriteria {
  search_term: string;
  keys?: string[];
  filter?: { rooms?: string[]; not_rooms?: string[]; senders?: string[]; not_senders?: string[]; types?: string[]; not_types?: string[]; limit?: number };
  order_by?: "rank" | "recent";
  event_context?: { before_limit?: number; after_limit?: number; include_profile?: boolean };
  include_state?: boolean;
  groupings?: { group_by?: { key?: string }[] };
}

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;
const COUNT_CAP = 10_000;
/** From this many matches on, a term is "common": searched in position order (store/search.ts). */
const DENSE = 2000;

interface Cursor { o: "rank" | "recent"; r: number; p: number }

type Json = Record<string, unknown>;

export class SearchService {
  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly members: MembershipCache,
    private readonly cache: RoomStateCache,
    private readonly relations: RelationService,
  ) {}

  async search(who: Requester, c: RoomEventsCriteria, nextBatch: string | undefined): Promise<Json> {
    const order = c.order_by ?? "rank";
    const cursor = nextBatch !== undefined ? decodeCursor(nextBatch, order) : null;
    const q = searchQuery(c.search_term);
    if (q.terms > this.config.search.max_terms) throw new MatrixError(400, "M_INVALID_PARAM", `The search has more than ${this.config.search.max_terms} terms`);
    const limit = Math.min(Math.max(c.filter?.limit ?? DEFAULT_LIMIT, 1), MAX_LIMIT);
    // The user's rooms: joined ones, and ones they left (visibility decides up to when).
    const mine = (await this.members.get(who.userId)).filter((m) => m.membership === "join" || m.membership === "leave" || m.membership === "ban");
    let roomIds = mine.map((m) => m.roomId);
    if (c.filter?.rooms) roomIds = roomIds.filter((r) => c.filter!.rooms!.includes(r));
    if (c.filter?.not_rooms) roomIds = roomIds.filter((r) => !c.filter!.not_rooms!.includes(r));
    const empty = { count: 0, highlights: q.highlights, results: [] as Json[] };
    if (roomIds.length === 0 || q.query.trim() === "" || !this.config.search.enabled) return { search_categories: { room_events: empty } };
    // Matches are counted and read only where the user may see them: the count is no oracle
    // for words said before they joined or after they left.
    const visMap = await Visibility.loadMany(this.db, roomIds as RoomId[], who.userId);
    const visible: { roomId: RoomId; lo: number; hi: number }[] = [];
    roomIds = roomIds.filter((roomId) => {
      const ranges = visMap.get(roomId as RoomId)!.ranges();
      if (ranges.length === 1 && ranges[0]![0] < 0 && ranges[0]![1] === Number.MAX_SAFE_INTEGER) return true; // all of it
      for (const [lo, hi] of ranges) visible.push({ roomId: roomId as RoomId, lo, hi });
      return ranges.length > 0;
    });
    if (roomIds.length === 0) return { search_categories: { room_events: empty } };
    const params: store.SearchParams = {
      language: this.config.search.language, query: q.query, roomIds, visible, keys: c.keys?.length ? c.keys : [...SEARCH_KEYS],
      senders: c.filter?.senders, notSenders: c.filter?.not_senders, types: c.filter?.types, notTypes: c.filter?.not_types,
      order, after: cursor ? { rank: cursor.r, pos: cursor.p } : null, limit: limit + 1, timeoutMs: this.config.search.statement_timeout_ms,
    };
    // Matches the user may not see are skipped (checked again per event); keep reading pages until the page is full.
    const results: store.SearchRow[] = [];
    let more = false;
    let count: number;
    try {
      count = await store.countMatches(this.db, params, COUNT_CAP);
      const dense = count >= DENSE;
      scan: for (let round = 0; ; round++) {
        const rows = await store.searchEvents(this.db, { ...params, dense });
        for (const r of rows) {
          if (results.length === limit) { more = true; break scan; }
          params.after = { rank: r.rank, pos: r.pos };
          if (visMap.get(r.roomId)?.canSee(r.event, r.pos)) results.push(r);
        }
        if (rows.length < params.limit) break; // no more matches
        if (round === 9) { more = true; break; } // bounded work per request: the rest on the next page
      }
    } catch (e) {
      if ((e as { code?: string }).code === "57014") throw new MatrixError(400, "M_UNKNOWN", "The search took too long: use more specific terms");
      throw e;
    }
    const now = Date.now();
    const bundled = await this.relations.bundle(results, who.userId, undefined, null, visMap);
    const out: Json[] = [];
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      const item: Json = { rank: r.rank, result: serialize(bundled[i]!, who, now) };
      if (c.event_context) item.context = await this.context(who, r, visMap.get(r.roomId)!, c.event_context, now);
      out.push(item);
    }
    const at = params.after;
    const section: Json = {
      count,
      highlights: q.highlights,
      results: out,
      ...(more && at ? { next_batch: encodeCursor({ o: order, r: at.rank, p: at.pos }) } : {}),
    };
    if (c.include_state) {
      const state: Json = {};
      for (const roomId of new Set(results.map((r) => r.roomId))) {
        const room = await this.cache.get(roomId);
        if (room?.membership(who.userId) === "join") state[roomId] = [...room.state.values()].map((e) => serialize({ pos: e.pos, event: e.event }, who, now));
      }
      section.state = state;
    }
    const groupBy = (c.groupings?.group_by ?? []).map((g) => g.key).filter((k): k is "room_id" | "sender" => k === "room_id" || k === "sender");
    if (groupBy.length) {
      const groups: Json = {};
      for (const key of groupBy) {
        const g: Record<string, { results: string[]; order: number }> = {};
        results.forEach((r) => {
          const k = key === "room_id" ? r.roomId : r.event.sender;
          (g[k] ??= { results: [], order: Object.keys(g).length + 1 }).results.push(r.event.event_id);
        });
        if (section.next_batch) for (const v of Object.values(g)) Object.assign(v, { next_batch: section.next_batch });
        groups[key] = g;
      }
      section.groups = groups;
    }
    return { search_categories: { room_events: section } };
  }

  private async context(who: Requester, r: store.SearchRow, vis: Visibility, o: NonNullable<RoomEventsCriteria["event_context"]>, now: number): Promise<Json> {
    const before = Math.min(Math.max(o.before_limit ?? 5, 0), 100);
    const after = Math.min(Math.max(o.after_limit ?? 5, 0), 100);
    const [b, f] = await Promise.all([
      before ? events.selectRoomEvents(this.db, r.roomId, -1, r.pos - 1, "b", before) : [],
      after ? events.selectRoomEvents(this.db, r.roomId, r.pos, Number.MAX_SAFE_INTEGER, "f", after) : [],
    ]);
    const bv = b.filter((x) => vis.canSee(x.event, x.pos));
    const fv = f.filter((x) => vis.canSee(x.event, x.pos));
    const ctx: Json = {
      start: formatToken((bv.length ? bv[bv.length - 1]!.pos : r.pos) - 1),
      end: formatToken(fv.length ? fv[fv.length - 1]!.pos : r.pos),
      events_before: bv.map((x) => serialize(x, who, now)),
      events_after: fv.map((x) => serialize(x, who, now)),
    };
    if (o.include_profile) {
      // The senders' profiles as they were at the result (historic, as the spec asks).
      const senders = [...new Set([r.event.sender, ...bv.map((x) => x.event.sender), ...fv.map((x) => x.event.sender)])];
      const rows = await events.selectStateBeforeKeys(this.db, r.roomId, senders.map((s) => ({ type: "m.room.member", stateKey: s })), r.pos + 1);
      const info: Json = {};
      for (const row of rows) {
        const ev = row.event as ClientEvent;
        info[ev.state_key!] = {
          ...(typeof ev.content.displayname === "string" ? { displayname: ev.content.displayname } : {}),
          ...(typeof ev.content.avatar_url === "string" ? { avatar_url: ev.content.avatar_url } : {}),
        };
      }
      ctx.profile_info = info;
    }
    return ctx;
  }
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

function decodeCursor(s: string, order: "rank" | "recent"): Cursor {
  try {
    const c = JSON.parse(Buffer.from(s, "base64url").toString("utf8")) as Cursor;
    if (c.o === order && typeof c.r === "number" && Number.isFinite(c.r) && Number.isSafeInteger(c.p)) return c;
  } catch { /* fall through */ }
  throw new MatrixError(400, "M_INVALID_PARAM", "Invalid next_batch");
}

