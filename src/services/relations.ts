// Relations: bundled aggregations on served events, GET /relations and GET /threads.
// https://spec.matrix.org/latest/client-server-api/#aggregations-of-child-events
// https://spec.matrix.org/latest/client-server-api/#threading
//
// Bundles (unsigned."m.relations"): m.replace (the latest edit, whole), m.thread (latest
// reply, count, whether the user took part), m.reference (the referring IDs) and, as Synapse
// still does, m.annotation (reaction keys with counts). Events from the room's recent events
// in memory get theirs from memory (every relation to them is newer, so in memory too): a sync
// wake-up costs no query. Others get theirs from event_relations, one query per page.
import { MatrixError } from "../http/errors.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import { relationOf } from "../matrix/relations.js";
import { formatToken, parseToken } from "../matrix/tokens.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import * as store from "../store/relations.js";
import type { Notifier } from "./notifier.js";
import type { RoomReadService } from "./room-read.js";
import { serialize } from "./room-read.js";
import type { RoomState } from "./room-state.js";
import type { Requester } from "./tokens.js";
import { Visibility } from "./visibility.js";
import { isErased } from "./erasure.js";
import type { ClientEvent } from "../matrix/events.js";

type Rel = Record<string, unknown>;

export class RelationService {
  constructor(private readonly db: Db, private readonly notifier: Notifier, private readonly reader: RoomReadService) {}

  /**
   * The rows with their bundled aggregations (as seen at `upTo`); unchanged rows are returned as
   * they are. Only relations the user may see count: a reply or reaction sent while they were
   * away (history_visibility) is not counted, shown as a thread's latest event or offered as
   * an edit. `seen` is the user's visibility per room if the caller has it, or "all" when the
   * caller knows the user saw every event from the rows on (joined throughout).
   */
  /** The room version of a room (for the redacted form of an erased user's events); set by the services. */
  versionOf: (roomId: RoomId) => string = () => "10";

  /**
   * Rows as the user is shown them: with their bundled aggregations, and an erased user's
   * events redacted for whoever was not joined when they were sent (erasure.ts). `seen`:
   * the Visibility of each room if loaded, or "all" when the user was joined throughout.
   */
  async bundle(rows: events.EventRow[], userId: UserId, upTo = this.notifier.currentPos, room?: RoomState | null,
    seen?: ReadonlyMap<RoomId, Visibility> | "all"): Promise<events.EventRow[]> {
    const out = await this.aggregations(rows, userId, upTo, room, seen);
    if (seen === "all" || !out.some((r) => isErased(r.event.sender) || erasedInBundle(r).length)) return out;
    const byRoom = new Map<RoomId, events.EventRow[]>();
    for (const r of out) { const id = r.event.room_id as RoomId; byRoom.set(id, [...(byRoom.get(id) ?? []), r]); }
    const missing = [...byRoom.keys()].filter((r) => !seen?.has(r));
    const loaded = missing.length ? await Visibility.loadMany(this.db, missing, userId) : new Map<RoomId, Visibility>();
    const visOf = (roomId: RoomId) => seen?.get(roomId) ?? loaded.get(roomId)!;
    // The events carried inside others (a thread's latest event, the latest edit) too.
    const inner = out.flatMap(erasedInBundle);
    const innerRows = inner.length ? await events.selectEventsByIds(this.db, inner.map((e) => e.event_id)) : new Map<string, events.EventRow>();
    const shown = new Map<string, events.EventRow>();
    for (const [roomId, list] of byRoom) {
      const vis = visOf(roomId);
      for (const r of vis.present(list, this.versionOf(roomId))) shown.set(r.event.event_id, r);
    }
    return out.map((r) => {
      const row = shown.get(r.event.event_id) ?? r;
      const hidden = erasedInBundle(r);
      if (!hidden.length) return row;
      const roomId = r.event.room_id as RoomId;
      const rel = { ...(row.event.unsigned?.["m.relations"] as Record<string, Record<string, unknown>>) };
      const redo = (e: ClientEvent) => {
        const inRow = innerRows.get(e.event_id);
        const seenAs = inRow ? visOf(roomId).present([inRow], this.versionOf(roomId))[0]! : null;
        return seenAs && seenAs !== inRow ? serialize(seenAs, null) : e;
      };
      if (rel["m.thread"]?.latest_event && hidden.includes(rel["m.thread"].latest_event as ClientEvent)) rel["m.thread"] = { ...rel["m.thread"], latest_event: redo(rel["m.thread"].latest_event as ClientEvent) };
      if (rel["m.replace"] && hidden.includes(rel["m.replace"] as unknown as ClientEvent)) rel["m.replace"] = redo(rel["m.replace"] as unknown as ClientEvent) as unknown as Record<string, unknown>;
      return { ...row, event: { ...row.event, unsigned: { ...row.event.unsigned, "m.relations": rel } } };
    });
  }

  private async aggregations(rows: events.EventRow[], userId: UserId, upTo: number, room: RoomState | null | undefined,
    seen: ReadonlyMap<RoomId, Visibility> | "all" | undefined): Promise<events.EventRow[]> {
    const targets = rows.filter((r) => !r.event.unsigned?.redacted_because && r.event.state_key === undefined);
    if (targets.length === 0) return rows;
    // Parents from which on the user saw everything need no check of their children (newer).
    const open: events.EventRow[] = [];
    const guarded = new Map<RoomId, { vis: Visibility; rows: events.EventRow[] }>();
    if (seen === "all") open.push(...targets);
    else {
      const roomIds = [...new Set(targets.map((r) => r.event.room_id as RoomId))];
      const missing = roomIds.filter((r) => !seen?.has(r));
      const loaded = missing.length ? await Visibility.loadMany(this.db, missing, userId) : new Map<RoomId, Visibility>();
      for (const r of targets) {
        const roomId = r.event.room_id as RoomId;
        const vis = seen?.get(roomId) ?? loaded.get(roomId)!;
        if (r.pos >= vis.openSince()) open.push(r);
        else {
          const g = guarded.get(roomId) ?? { vis, rows: [] };
          g.rows.push(r);
          guarded.set(roomId, g);
        }
      }
    }
    const agg = new Map<string, Rel>();
    if (open.length) {
      const fromMemory = room && open.every((r) => r.pos > room.recentFloor && r.event.room_id === room.roomId);
      const got = fromMemory ? this.fromMemory(room!, open, userId, upTo) : await this.fromDb(open, userId, upTo);
      for (const [k, v] of got) agg.set(k, v);
    }
    for (const [roomId, g] of guarded) {
      const children = await store.selectChildren(this.db, roomId, g.rows.map((r) => r.event.event_id), null, null, -1, upTo + 1, "f", MAX_GUARDED_CHILDREN);
      const visible = children.filter((c) => g.vis.canSee(c.event, c.pos));
      for (const [k, v] of aggregate(visible, g.rows, userId)) agg.set(k, v);
    }
    if (agg.size === 0) return rows;
    return rows.map((r) => {
      const rel = agg.get(r.event.event_id);
      return rel ? { ...r, event: { ...r.event, unsigned: { ...(r.event.unsigned ?? {}), "m.relations": rel } } } : r;
    });
  }

  private fromMemory(room: RoomState, parents: events.EventRow[], userId: UserId, upTo: number): Map<string, Rel> {
    return aggregate(room.recent.filter((r) => r.pos <= upTo), parents, userId);
  }

  private async fromDb(parents: events.EventRow[], userId: UserId, upTo: number): Promise<Map<string, Rel>> {
    const a = await store.selectAggregates(this.db, parents.map((r) => ({ eventId: r.event.event_id, roomId: r.event.room_id })), userId, upTo);
    const out = new Map<string, Rel>();
    if (a.annotations.size + a.edits.size + a.threads.size + a.references.size === 0) return out;
    const full = await events.selectEventsByIds(this.db, [...a.edits.values(), ...[...a.threads.values()].map((t) => t.latest)]);
    const get = (p: string) => { let o = out.get(p); if (!o) out.set(p, (o = {})); return o; };
    for (const [p, l] of a.annotations) get(p)["m.annotation"] = { chunk: l };
    for (const [p, id] of a.edits) { const r = full.get(id); if (r) get(p)["m.replace"] = serialize(r, null); }
    const roots = await events.selectEventsByIds(this.db, [...a.threads.keys()]);
    for (const [p, t] of a.threads) {
      const r = full.get(t.latest);
      if (r) get(p)["m.thread"] = { latest_event: serialize(r, null), count: t.count, current_user_participated: t.participated || roots.get(p)?.event.sender === userId };
    }
    for (const [p, l] of a.references) get(p)["m.reference"] = { chunk: l.map((event_id) => ({ event_id })) };
    return out;
  }

  /** GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]] */
  async relations(who: Requester, roomId: RoomId, eventId: string, relType: string | null, eventType: string | null,
    o: { from?: string; to?: string; limit?: number; dir?: "f" | "b"; recurse?: boolean }): Promise<Record<string, unknown>> {
    // The parent must be visible to the user (404 otherwise, like /event).
    await this.reader.visibleEvent(who, roomId, eventId);
    const dir = o.dir ?? "b";
    const limit = Math.min(Math.max(o.limit ?? 50, 1), 1000);
    const fromPos = o.from !== undefined ? parseToken(o.from, "from").pos : null;
    const toPos = o.to !== undefined ? parseToken(o.to, "to").pos : null;
    // A token at position p splits the stream after p (as /messages and /sync tokens do):
    // backwards from it means pos <= p, forwards means pos > p.
    const after = dir === "f" ? fromPos ?? -1 : toPos ?? -1;
    const before = dir === "f" ? (toPos !== null ? toPos + 1 : Number.MAX_SAFE_INTEGER) : (fromPos !== null ? fromPos + 1 : Number.MAX_SAFE_INTEGER);
    const vis = await Visibility.load(this.db, roomId, who.userId);
    // recurse: children of children too, up to three levels (as Synapse); the type filters
    // apply at every level.
    const depthMax = o.recurse ? 3 : 1;
    const found: events.EventRow[] = [];
    let parents = [eventId];
    let depth = 0;
    while (depth < depthMax && parents.length) {
      const rows = await store.selectChildren(this.db, roomId, parents, relType, eventType, after, before, dir, limit + 1);
      depth++;
      found.push(...rows);
      parents = rows.map((r) => r.event.event_id);
    }
    found.sort((x, y) => (dir === "b" ? y.pos - x.pos : x.pos - y.pos));
    const visible = found.filter((r) => vis.canSee(r.event, r.pos));
    const page = visible.slice(0, limit);
    const last = page[page.length - 1];
    const chunk = (await this.bundle(page, who.userId, undefined, null, new Map([[roomId, vis]]))).map((r) => serialize(r, who));
    return {
      chunk,
      ...(visible.length > limit && last ? { next_batch: formatToken(dir === "b" ? last.pos - 1 : last.pos) } : {}),
      ...(o.from !== undefined ? { prev_batch: o.from } : {}),
      ...(o.recurse ? { recursion_depth: depth } : {}),
    };
  }

  /** GET /rooms/{roomId}/threads */
  async threads(who: Requester, roomId: RoomId, include: "all" | "participated", from: string | undefined, limit: number): Promise<Record<string, unknown>> {
    await this.reader.access(who.userId, roomId);
    let before = Number.MAX_SAFE_INTEGER;
    if (from !== undefined) {
      const m = /^t(\d{1,18})$/.exec(from);
      if (!m) throw new MatrixError(400, "M_INVALID_PARAM", "Invalid from token");
      before = Number(m[1]);
    }
    const n = Math.min(Math.max(limit, 1), 100);
    const roots = await store.selectThreads(this.db, roomId, include === "participated" ? who.userId : null, before, n + 1);
    const page = roots.slice(0, n);
    const found = await events.selectEventsByIds(this.db, page.map((r) => r.root));
    const vis = await Visibility.load(this.db, roomId, who.userId);
    // A root is an event of this room (a reply from another room relates to nothing here).
    const rows = page.map((r) => found.get(r.root)).filter((r): r is events.EventRow => !!r && r.event.room_id === roomId && vis.canSee(r.event, r.pos));
    const chunk = (await this.bundle(rows, who.userId, undefined, null, new Map([[roomId, vis]]))).map((r) => serialize(r, who));
    return { chunk, ...(roots.length > n ? { next_batch: `t${page[page.length - 1]!.latest}` } : {}) };
  }
}


/** At most this many children of parents the user did not see throughout are read to count theirs. */
const MAX_GUARDED_CHILDREN = 5000;

/**
 * The aggregations of `parents` from their children among `rows` (in position order): the
 * latest edit, thread replies (count, latest, whether the user took part), references and
 * reaction keys with counts.
 */
function aggregate(rows: Iterable<events.EventRow>, parents: events.EventRow[], userId: UserId): Map<string, Rel> {
  const want = new Map<string, events.EventRow>(parents.map((r) => [r.event.event_id, r]));
  const ann = new Map<string, Map<string, { type: string; key: string; count: number }>>();
  const edits = new Map<string, events.EventRow>();
  const threads = new Map<string, { count: number; latest: events.EventRow; participated: boolean }>();
  const refs = new Map<string, string[]>();
  for (const r of rows) {
    const rel = relationOf(r.event.content);
    if (!rel || !want.has(rel.relatesTo)) continue;
    const p = rel.relatesTo;
    if (rel.relType === "m.annotation" && rel.key !== null) {
      const m = ann.get(p) ?? new Map();
      const k = `${r.event.type}\u0000${rel.key}`;
      const cur = m.get(k) ?? { type: r.event.type, key: rel.key, count: 0 };
      cur.count++;
      m.set(k, cur);
      ann.set(p, m);
    } else if (rel.relType === "m.replace") edits.set(p, r);
    else if (rel.relType === "m.thread") {
      const t = threads.get(p) ?? { count: 0, latest: r, participated: false };
      t.count++;
      t.latest = r;
      t.participated ||= r.event.sender === userId;
      threads.set(p, t);
    } else if (rel.relType === "m.reference") refs.set(p, [...(refs.get(p) ?? []), r.event.event_id]);
  }
  const out = new Map<string, Rel>();
  const get = (p: string) => { let o = out.get(p); if (!o) out.set(p, (o = {})); return o; };
  for (const [p, m] of ann) get(p)["m.annotation"] = { chunk: [...m.values()] };
  for (const [p, r] of edits) get(p)["m.replace"] = serialize(r, null);
  for (const [p, t] of threads) {
    get(p)["m.thread"] = { latest_event: serialize(t.latest, null), count: t.count, current_user_participated: t.participated || want.get(p)!.event.sender === userId };
  }
  for (const [p, l] of refs) get(p)["m.reference"] = { chunk: l.map((event_id) => ({ event_id })) };
  return out;
}

/** Events of erased users carried in a row's bundle: its thread's latest event, its latest edit. */
function erasedInBundle(r: events.EventRow): ClientEvent[] {
  const rel = r.event.unsigned?.["m.relations"] as Record<string, Record<string, unknown>> | undefined;
  if (!rel) return [];
  const out: ClientEvent[] = [];
  const latest = rel["m.thread"]?.latest_event as ClientEvent | undefined;
  if (latest && isErased(latest.sender)) out.push(latest);
  const edit = rel["m.replace"] as unknown as ClientEvent | undefined;
  if (edit && typeof edit.sender === "string" && isErased(edit.sender)) out.push(edit);
  return out;
}
