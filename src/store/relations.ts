// event_relations: reactions, edits, threads and references, and their aggregations.
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId } from "../matrix/ids.js";
import type { Queryable } from "./db.js";
import type { EventRow } from "./events.js";

export async function hasAnnotation(q: Queryable, relatesTo: string, sender: string, type: string, key: string): Promise<boolean> {
  const r = await q.raw(
    `SELECT 1 FROM event_relations WHERE relates_to = ? AND rel_type = 'm.annotation' AND sender = ? AND type = ? AND key = ? LIMIT 1`,
    [relatesTo, sender, type, key]);
  return r.rows.length > 0;
}

export interface Aggregates {
  annotations: Map<string, { type: string; key: string; count: number }[]>;
  /** Parent → the latest edit's event ID. */
  edits: Map<string, string>;
  /** Thread root → replies, latest reply, whether the user took part. */
  threads: Map<string, { count: number; latest: string; participated: boolean }>;
  references: Map<string, string[]>;
}

/**
 * The aggregations of several parents at once, counting only relations at or below `upTo` and
 * in the parent's own room (a relation from another room relates to nothing).
 */
export async function selectAggregates(q: Queryable, parents: { eventId: string; roomId: string }[], userId: string, upTo: number): Promise<Aggregates> {
  const out: Aggregates = { annotations: new Map(), edits: new Map(), threads: new Map(), references: new Map() };
  if (parents.length === 0) return out;
  const res = await q.raw(
    `WITH p AS (SELECT * FROM unnest(?::text[], ?::text[]) AS p(id, room)),
     r AS (SELECT r.* FROM event_relations r JOIN p ON r.relates_to = p.id AND r.room_id = p.room WHERE r.pos <= ?)
     SELECT relates_to, 'a' AS kind, type, key, count(*)::int AS n, NULL AS id, false AS mine
       FROM r WHERE rel_type = 'm.annotation' GROUP BY relates_to, type, key
     UNION ALL
     (SELECT DISTINCT ON (relates_to) relates_to, 'e', NULL, NULL, 0, event_id, false
       FROM r WHERE rel_type = 'm.replace' ORDER BY relates_to, pos DESC)
     UNION ALL
     SELECT relates_to, 't', NULL, NULL, count(*)::int, (array_agg(event_id ORDER BY pos DESC))[1], bool_or(sender = ?)
       FROM r WHERE rel_type = 'm.thread' GROUP BY relates_to
     UNION ALL
     SELECT relates_to, 'r', NULL, NULL, 0, event_id, false
       FROM r WHERE rel_type = 'm.reference'`,
    [parents.map((x) => x.eventId), parents.map((x) => x.roomId), upTo, userId]);
  for (const r of res.rows as { relates_to: string; kind: string; type: string; key: string; n: number; id: string; mine: boolean }[]) {
    if (r.kind === "a") {
      const l = out.annotations.get(r.relates_to) ?? [];
      l.push({ type: r.type, key: r.key, count: r.n });
      out.annotations.set(r.relates_to, l);
    } else if (r.kind === "e") out.edits.set(r.relates_to, r.id);
    else if (r.kind === "t") out.threads.set(r.relates_to, { count: r.n, latest: r.id, participated: r.mine });
    else {
      const l = out.references.get(r.relates_to) ?? [];
      l.push(r.id);
      out.references.set(r.relates_to, l);
    }
  }
  return out;
}

/** Children of `parent` (optionally of one relation type and event type), in position order within (from, to). */
export async function selectChildren(q: Queryable, roomId: RoomId, parents: string[], relType: string | null, eventType: string | null,
  after: number, before: number, dir: "f" | "b", limit: number): Promise<(EventRow & { relatesTo: string })[]> {
  const res = await q.raw(
    `SELECT e.pos, e.json, e.txn_device, e.txn_id, r.relates_to FROM event_relations r JOIN events e ON e.event_id = r.event_id
     WHERE r.relates_to = ANY(?::text[]) AND r.room_id = ? AND (?::text IS NULL OR r.rel_type = ?) AND (?::text IS NULL OR r.type = ?)
       AND r.pos > ? AND r.pos < ?
     ORDER BY r.pos ${dir === "b" ? "DESC" : "ASC"} LIMIT ?`,
    [parents, roomId, relType, relType, eventType, eventType, after, before, limit]);
  return res.rows.map((r: { pos: string; json: ClientEvent; txn_device: string | null; txn_id: string | null; relates_to: string }) => ({
    pos: Number(r.pos), event: r.json, txn: r.txn_device ? { device: r.txn_device, id: r.txn_id! } : null, relatesTo: r.relates_to,
  }));
}

/** Thread roots of a room by latest activity (newest first), before position `before`. */
export async function selectThreads(q: Queryable, roomId: RoomId, participant: string | null, before: number, limit: number): Promise<{ root: string; latest: number }[]> {
  const res = await q.raw(
    `SELECT t.relates_to AS root, max(t.pos) AS latest FROM event_relations t
     WHERE t.room_id = ? AND t.rel_type = 'm.thread'
     GROUP BY t.relates_to
     HAVING max(t.pos) < ? AND (?::text IS NULL OR bool_or(t.sender = ?)
       OR EXISTS (SELECT 1 FROM events e WHERE e.event_id = t.relates_to AND e.sender = ?))
     ORDER BY latest DESC LIMIT ?`,
    [roomId, before, participant, participant, participant, limit]);
  return res.rows.map((r: { root: string; latest: string }) => ({ root: r.root, latest: Number(r.latest) }));
}
