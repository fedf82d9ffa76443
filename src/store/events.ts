// events, current_state, rooms, event_txns: the room write path and its reads.
import type { ClientEvent, Pdu } from "../matrix/events.js";
import type { EventId, RoomId, UserId } from "../matrix/ids.js";
import type { Queryable } from "./db.js";
import type { Relation } from "../matrix/relations.js";
import type { SearchDoc } from "../matrix/search-text.js";

export interface EventRow {
  pos: number;
  event: ClientEvent;
  /** The sending device and its transaction ID (for unsigned.transaction_id). */
  txn?: { device: string; id: string } | null;
}

const COLS = "pos, json, txn_device, txn_id";
interface RawRow { pos: number | string; json: ClientEvent; txn_device: string | null; txn_id: string | null; room_id?: RoomId }
const fromRaw = (r: RawRow): EventRow => ({ pos: Number(r.pos), event: r.json, txn: r.txn_device ? { device: r.txn_device, id: r.txn_id! } : null });

export interface NewEventRow {
  eventId: EventId;
  type: string;
  stateKey: string | null;
  sender: UserId;
  depth: number;
  ts: number;
  membership: string | null;
  json: ClientEvent;
  pdu: Pdu;
  txn: { userId: UserId; deviceId: string; txnId: string } | null;
  /** Full-text search document (null: not searchable, or search is off). */
  search?: SearchDoc | null;
  /** content."m.relates_to", kept in event_relations. */
  relation?: Relation | null;
  /** A redaction: the event it redacts and that event's redacted form, written in the same statement. */
  redaction?: { target: EventId; json: ClientEvent } | null;
  /** A valid edit: the original's search text becomes the edit's new text. */
  edit?: { target: EventId; search: SearchDoc | null } | null;
}

export interface RoomRow {
  roomId: RoomId;
  roomVersion: string;
  creator: UserId;
  isPublic: boolean;
  headEventId: EventId | null;
  headDepth: number;
}

export async function insertRoom(q: Queryable, roomId: RoomId, version: string, creator: UserId): Promise<void> {
  await q("rooms").insert({ room_id: roomId, room_version: version, creator, created_ts: Date.now() });
}

export async function selectRoom(q: Queryable, roomId: RoomId): Promise<RoomRow | null> {
  const r = await q("rooms").where({ room_id: roomId }).first();
  if (!r) return null;
  return { roomId: r.room_id, roomVersion: r.room_version, creator: r.creator, isPublic: r.is_public, headEventId: r.head_event_id, headDepth: r.head_depth };
}

/** Several rooms with the last position of each (loading many rooms into memory at once). */
export async function selectRoomsWithMaxPos(q: Queryable, roomIds: RoomId[]): Promise<(RoomRow & { maxPos: number })[]> {
  if (roomIds.length === 0) return [];
  const res = await q.raw(
    `SELECT r.*, coalesce((SELECT max(pos) FROM events e WHERE e.room_id = r.room_id), 0) AS max_pos
       FROM rooms r WHERE r.room_id = ANY(?::text[])`, [roomIds]);
  return res.rows.map((r: Record<string, unknown>) => ({
    roomId: r.room_id as RoomId, roomVersion: r.room_version as string, creator: r.creator as string, isPublic: r.is_public as boolean,
    headEventId: r.head_event_id as EventId | null, headDepth: r.head_depth as number, maxPos: Number(r.max_pos),
  }));
}

export interface RoomBatch {
  roomId: RoomId;
  /** The head the batch was built on; the append happens only if it is still the head. */
  expectedHead: EventId | null;
  rows: NewEventRow[];
}

/**
 * Appends batches of events to several rooms in one statement: moves each room's head (only
 * where it is still the batch's `expectedHead`: optimistic concurrency across processes),
 * takes stream positions, inserts the events, updates current state and records the send
 * transaction IDs. Rooms whose head moved get nothing written (their positions are left as
 * gaps, which readers skip). The stream counter row is locked by this statement until commit,
 * so positions are handed out in commit order (docs/architecture.md).
 * Returns each appended room's first position; a room missing from the map had a conflict.
 */
export async function appendEvents(q: Queryable, batches: RoomBatch[], searchLanguage = "english"): Promise<Map<RoomId, number>> {
  const rows: (NewEventRow & { roomId: RoomId })[] = [];
  const firstIndex = new Map<RoomId, number>();
  const stateIdx = new Map<string, number>();
  for (const b of batches) {
    firstIndex.set(b.roomId, rows.length + 1);
    for (const r of b.rows) {
      // current_state takes one row per (room, type, state_key): the last of the batch wins.
      if (r.stateKey !== null) stateIdx.set(`${b.roomId}\u0000${r.type}\u0000${r.stateKey}`, rows.length);
      rows.push({ ...r, roomId: b.roomId });
    }
  }
  const st = [...stateIdx.values()].sort((a, b) => a - b);
  const txns = rows.map((r, i) => ({ r, i })).filter((x) => x.r.txn);
  const rels = rows.map((r, i) => ({ r, i })).filter((x) => x.r.relation);
  const reds = rows.filter((r) => r.redaction);
  const edits = rows.filter((r) => r.edit);
  const res = await q.raw(
    `WITH v AS (
       SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[]) AS v(room_id, expected, new_head, new_depth)
     ), r AS (
       UPDATE rooms SET head_event_id = v.new_head, head_depth = v.new_depth FROM v
       WHERE rooms.room_id = v.room_id AND rooms.head_event_id IS NOT DISTINCT FROM v.expected
       RETURNING rooms.room_id
     ), c AS (
       UPDATE stream_counter SET pos = pos + ? WHERE EXISTS (SELECT 1 FROM r) RETURNING pos - ? AS base
     ), ins AS (
       INSERT INTO events (pos, event_id, room_id, type, state_key, sender, depth, origin_server_ts, membership, json, pdu, txn_device, txn_id, search_key, search_vector)
       SELECT c.base + e.i, e.event_id, e.room_id, e.type, e.state_key, e.sender, e.depth, e.ts, e.membership, e.json::jsonb, e.pdu::jsonb, e.txn_device, e.txn_id,
              e.skey, CASE WHEN e.skey IS NULL THEN NULL ELSE to_tsvector(?::regconfig, e.stext) || to_tsvector('simple', e.scjk) END
       FROM c, unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
         AS e(i, room_id, event_id, type, state_key, sender, depth, ts, membership, json, pdu, txn_device, txn_id, skey, stext, scjk)
       WHERE e.room_id IN (SELECT room_id FROM r)
     ), rel AS (
       INSERT INTO event_relations (event_id, room_id, relates_to, rel_type, type, sender, key, pos)
       SELECT x.event_id, x.room_id, x.relates_to, x.rel_type, x.type, x.sender, x.key, c.base + x.i
       FROM c, unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
         AS x(i, event_id, room_id, relates_to, rel_type, type, sender, key)
       WHERE x.room_id IN (SELECT room_id FROM r)
       ON CONFLICT DO NOTHING
     ), red AS (
       UPDATE events SET json = x.json::jsonb, redacted_by = x.by, search_vector = NULL
       FROM unnest(?::text[], ?::text[], ?::text[], ?::text[]) AS x(room_id, target, json, by)
       WHERE events.event_id = x.target AND events.room_id = x.room_id AND x.room_id IN (SELECT room_id FROM r) AND events.redacted_by IS NULL
     ), redrel AS (
       DELETE FROM event_relations WHERE event_id IN (
         SELECT x.target FROM unnest(?::text[], ?::text[]) AS x(room_id, target) WHERE x.room_id IN (SELECT room_id FROM r))
     ), ed AS (
       UPDATE events SET search_vector = CASE WHEN x.stext IS NULL THEN NULL ELSE to_tsvector(?::regconfig, x.stext) || to_tsvector('simple', x.scjk) END
       FROM unnest(?::text[], ?::text[], ?::text[], ?::text[]) AS x(room_id, target, stext, scjk)
       WHERE events.event_id = x.target AND events.room_id = x.room_id AND x.room_id IN (SELECT room_id FROM r) AND events.redacted_by IS NULL
     ), st AS (
       INSERT INTO current_state (room_id, type, state_key, event_id, pos, membership)
       SELECT s.room_id, s.type, s.state_key, s.event_id, c.base + s.i, s.membership
       FROM c, unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) AS s(i, room_id, type, state_key, event_id, membership)
       WHERE s.room_id IN (SELECT room_id FROM r)
       ON CONFLICT (room_id, type, state_key) DO UPDATE
         SET event_id = EXCLUDED.event_id, pos = EXCLUDED.pos, membership = EXCLUDED.membership
     ), tx AS (
       INSERT INTO event_txns (user_id, device_id, txn_id, event_id, created_ts)
       SELECT t.user_id, t.device_id, t.txn_id, t.event_id, ?
       FROM c, unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) AS t(room_id, user_id, device_id, txn_id, event_id)
       WHERE t.room_id IN (SELECT room_id FROM r)
     )
     SELECT (SELECT base FROM c) AS base, ARRAY(SELECT room_id FROM r) AS ok`,
    [
      batches.map((b) => b.roomId), batches.map((b) => b.expectedHead),
      batches.map((b) => b.rows[b.rows.length - 1]!.eventId), batches.map((b) => b.rows[b.rows.length - 1]!.depth),
      rows.length, rows.length,
      searchLanguage,
      rows.map((_, i) => i + 1), rows.map((r) => r.roomId), rows.map((r) => r.eventId), rows.map((r) => r.type), rows.map((r) => r.stateKey),
      rows.map((r) => r.sender), rows.map((r) => r.depth), rows.map((r) => r.ts), rows.map((r) => r.membership),
      rows.map((r) => JSON.stringify(r.json)), rows.map((r) => JSON.stringify(r.pdu)),
      rows.map((r) => r.txn?.deviceId ?? null), rows.map((r) => r.txn?.txnId ?? null),
      rows.map((r) => r.search?.key ?? null), rows.map((r) => r.search?.text ?? null), rows.map((r) => r.search?.cjk ?? null),
      rels.map((x) => x.i + 1), rels.map((x) => x.r.eventId), rels.map((x) => x.r.roomId), rels.map((x) => x.r.relation!.relatesTo),
      rels.map((x) => x.r.relation!.relType), rels.map((x) => x.r.type), rels.map((x) => x.r.sender), rels.map((x) => x.r.relation!.key),
      reds.map((r) => r.roomId), reds.map((r) => r.redaction!.target), reds.map((r) => JSON.stringify(r.redaction!.json)), reds.map((r) => r.eventId),
      reds.map((r) => r.roomId), reds.map((r) => r.redaction!.target),
      searchLanguage,
      edits.map((r) => r.roomId), edits.map((r) => r.edit!.target), edits.map((r) => r.edit!.search?.text ?? null), edits.map((r) => r.edit!.search?.cjk ?? null),
      st.map((i) => i + 1), st.map((i) => rows[i]!.roomId), st.map((i) => rows[i]!.type), st.map((i) => rows[i]!.stateKey),
      st.map((i) => rows[i]!.eventId), st.map((i) => rows[i]!.membership),
      Date.now(),
      txns.map((x) => x.r.roomId), txns.map((x) => x.r.txn!.userId), txns.map((x) => x.r.txn!.deviceId), txns.map((x) => x.r.txn!.txnId), txns.map((x) => x.r.eventId),
    ] as never,
    // A named (prepared) statement: its text never changes, so Postgres plans it once per
    // connection instead of once per send (planning cost more than running it).
  ).options({ name: "ganglion_append_events" });
  const row = res.rows[0] as { base: number | null; ok: RoomId[] } | undefined;
  const out = new Map<RoomId, number>();
  if (!row || row.base === null) return out;
  for (const roomId of row.ok) out.set(roomId, Number(row.base) + firstIndex.get(roomId)!);
  return out;
}

export async function selectTxnEvents(q: Queryable, userId: UserId, deviceId: string, txnIds: string[]): Promise<Map<string, EventId>> {
  if (txnIds.length === 0) return new Map();
  const rows = await q("event_txns").where({ user_id: userId, device_id: deviceId }).whereIn("txn_id", txnIds).select("txn_id", "event_id");
  return new Map(rows.map((r: { txn_id: string; event_id: EventId }) => [r.txn_id, r.event_id]));
}

/** The current state of a room, as client events with their positions. */
export async function selectCurrentState(q: Queryable, roomId: RoomId): Promise<EventRow[]> {
  const res = await q.raw(
    `SELECT e.pos, e.json, e.txn_device, e.txn_id FROM current_state cs JOIN events e ON e.event_id = cs.event_id WHERE cs.room_id = ?`, [roomId]);
  return res.rows.map(fromRaw);
}

/** Current state of several rooms, in one query (sync). */
export async function selectCurrentStateMany(q: Queryable, roomIds: RoomId[], types?: string[]): Promise<Map<RoomId, EventRow[]>> {
  const out = new Map<RoomId, EventRow[]>();
  if (roomIds.length === 0) return out;
  const res = await q.raw(
    `SELECT cs.room_id, e.pos, e.json, e.txn_device, e.txn_id FROM current_state cs JOIN events e ON e.event_id = cs.event_id
     WHERE cs.room_id = ANY(?::text[]) ${types ? "AND cs.type = ANY(?::text[])" : ""}`,
    types ? [roomIds, types] : [roomIds]);
  for (const r of res.rows as RawRow[]) {
    let list = out.get(r.room_id!);
    if (!list) out.set(r.room_id!, (list = []));
    list.push(fromRaw(r));
  }
  return out;
}

export async function selectEventsByIds(q: Queryable, ids: string[]): Promise<Map<string, EventRow>> {
  const out = new Map<string, EventRow>();
  if (ids.length === 0) return out;
  const res = await q.raw(`SELECT ${COLS} FROM events WHERE event_id = ANY(?::text[])`, [ids]);
  for (const r of res.rows as RawRow[]) out.set(r.json.event_id, fromRaw(r));
  return out;
}

/** The stored PDUs (federation format) of these events. */
export async function selectPdus(q: Queryable, ids: string[]): Promise<Map<string, Record<string, unknown>>> {
  const res = await q.raw(`SELECT event_id, pdu FROM events WHERE event_id = ANY(?::text[])`, [ids]);
  return new Map(res.rows.map((r: { event_id: string; pdu: Record<string, unknown> }) => [r.event_id, r.pdu]));
}

export async function selectEventById(q: Queryable, id: string): Promise<EventRow | null> {
  return (await selectEventsByIds(q, [id])).get(id) ?? null;
}

/**
 * Events of a room in a position range, newest first (dir b) or oldest first (dir f).
 * `after` < pos <= `upTo`.
 */
export async function selectRoomEvents(q: Queryable, roomId: RoomId, after: number, upTo: number, dir: "b" | "f", limit: number): Promise<EventRow[]> {
  const res = await q.raw(
    `SELECT ${COLS} FROM events WHERE room_id = ? AND pos > ? AND pos <= ? ORDER BY pos ${dir === "b" ? "DESC" : "ASC"} LIMIT ?`,
    [roomId, after, upTo, limit]);
  return res.rows.map(fromRaw);
}

/** The last `limit` events (after `after`, up to `upTo`) of each room, in one query. Oldest first per room. */
export async function selectRecentEventsMany(q: Queryable, roomIds: RoomId[], after: number, upTo: number, limit: number): Promise<Map<RoomId, EventRow[]>> {
  const out = new Map<RoomId, EventRow[]>();
  if (roomIds.length === 0) return out;
  const res = await q.raw(
    `SELECT r.room_id, e.pos, e.json, e.txn_device, e.txn_id FROM unnest(?::text[]) AS r(room_id)
     CROSS JOIN LATERAL (
       SELECT pos, json, txn_device, txn_id FROM events WHERE room_id = r.room_id AND pos > ? AND pos <= ? ORDER BY pos DESC LIMIT ?
     ) e`,
    [roomIds, after, upTo, limit]);
  for (const r of res.rows as RawRow[]) {
    let list = out.get(r.room_id!);
    if (!list) out.set(r.room_id!, (list = []));
    list.push(fromRaw(r));
  }
  for (const list of out.values()) list.sort((a, b) => a.pos - b.pos);
  return out;
}

/** The state event for (type, state_key) in force just before position `beforePos`. */
export async function selectStateBefore(q: Queryable, roomId: RoomId, type: string, stateKey: string, beforePos: number): Promise<EventRow | null> {
  const res = await q.raw(
    `SELECT ${COLS} FROM events WHERE room_id = ? AND type = ? AND state_key = ? AND pos < ? ORDER BY pos DESC LIMIT 1`,
    [roomId, type, stateKey, beforePos]);
  const r = res.rows[0];
  return r ? fromRaw(r) : null;
}

/** The whole room state just before `beforePos` (linear history: the last event per key). */
export async function selectStateAt(q: Queryable, roomId: RoomId, beforePos: number, types?: string[]): Promise<EventRow[]> {
  const res = await q.raw(
    `SELECT DISTINCT ON (type, state_key) ${COLS} FROM events
     WHERE room_id = ? AND state_key IS NOT NULL AND pos < ? ${types ? "AND type = ANY(?::text[])" : ""}
     ORDER BY type, state_key, pos DESC`,
    types ? [roomId, beforePos, types] : [roomId, beforePos]);
  return res.rows.map(fromRaw);
}

/** Every state event of given types in a room (for visibility timelines: membership of one user, history visibility). */
export async function selectStateHistory(q: Queryable, roomId: RoomId, type: string, stateKey: string): Promise<{ pos: number; content: Record<string, unknown> }[]> {
  const res = await q.raw(
    `SELECT pos, json->'content' AS content FROM events WHERE room_id = ? AND type = ? AND state_key = ? ORDER BY pos`,
    [roomId, type, stateKey]);
  return res.rows.map((r: { pos: number; content: Record<string, unknown> }) => ({ pos: Number(r.pos), content: r.content }));
}

/** For each (type, state_key), the state event in force just before `beforePos`. */
export async function selectStateBeforeKeys(q: Queryable, roomId: RoomId, keys: { type: string; stateKey: string }[], beforePos: number): Promise<EventRow[]> {
  if (keys.length === 0) return [];
  const res = await q.raw(
    `SELECT DISTINCT ON (e.type, e.state_key) e.pos, e.json, e.txn_device, e.txn_id
     FROM unnest(?::text[], ?::text[]) AS k(type, state_key)
     JOIN events e ON e.room_id = ? AND e.type = k.type AND e.state_key = k.state_key AND e.pos < ?
     ORDER BY e.type, e.state_key, e.pos DESC`,
    [keys.map((k) => k.type), keys.map((k) => k.stateKey), roomId, beforePos]);
  return res.rows.map(fromRaw);
}

export async function selectCurrentPosition(q: Queryable): Promise<number> {
  const res = await q.raw(`SELECT pos FROM stream_counter`);
  return Number(res.rows[0].pos);
}

/** Takes `n` stream positions for a non-event write (account data, receipts...). Returns the first. */
export async function takePositions(q: Queryable, n: number): Promise<number> {
  const res = await q.raw(`UPDATE stream_counter SET pos = pos + ? RETURNING pos - ? + 1 AS first`, [n, n]);
  return Number(res.rows[0].first);
}

/** The latest state event per key changed in `after` < pos < `before` (sync: state a limited timeline skipped). */
export async function selectStateChangesBetween(q: Queryable, roomId: RoomId, after: number, before: number): Promise<EventRow[]> {
  const res = await q.raw(
    `SELECT DISTINCT ON (type, state_key) ${COLS} FROM events
     WHERE room_id = ? AND state_key IS NOT NULL AND pos > ? AND pos < ?
     ORDER BY type, state_key, pos DESC`, [roomId, after, before]);
  return res.rows.map(fromRaw);
}

/** Each room's last position of an event of these types (rooms with none are left out). */
export async function selectLastPosOfTypes(q: Queryable, roomIds: RoomId[], types: string[]): Promise<Map<RoomId, number>> {
  if (roomIds.length === 0) return new Map();
  const res = await q.raw(`SELECT room_id, max(pos) AS pos FROM events WHERE room_id = ANY(?::text[]) AND type = ANY(?::text[]) GROUP BY room_id`, [roomIds, types]);
  return new Map(res.rows.map((r: { room_id: RoomId; pos: string | number }) => [r.room_id, Number(r.pos)]));
}

/** The first event at or after (dir f) / at or before (dir b) a timestamp. */
/** The events nearest `ts` in direction `dir`, nearest first, at most up to position `maxPos`. */
export async function selectEventsByTimestamp(q: Queryable, roomId: RoomId, ts: number, dir: "f" | "b", maxPos: number, limit: number): Promise<EventRow[]> {
  const res = await q.raw(
    `SELECT ${COLS} FROM events WHERE room_id = ? AND origin_server_ts ${dir === "f" ? ">=" : "<="} ? AND pos <= ?
     ORDER BY origin_server_ts ${dir === "f" ? "ASC" : "DESC"}, pos ${dir === "f" ? "ASC" : "DESC"} LIMIT ?`, [roomId, ts, maxPos, limit]);
  return res.rows.map(fromRaw);
}

export async function selectRoomMaxPos(q: Queryable, roomId: RoomId): Promise<number> {
  const res = await q.raw(`SELECT coalesce(max(pos), 0) AS m FROM events WHERE room_id = ?`, [roomId]);
  return Number(res.rows[0].m);
}

/** One user's membership history and the visibility history of several rooms, in one query. */
export async function selectVisibilityHistories(q: Queryable, roomIds: RoomId[], userId: UserId): Promise<{ roomId: RoomId; type: string; pos: number; content: Record<string, unknown> }[]> {
  if (roomIds.length === 0) return [];
  const res = await q.raw(
    `SELECT room_id, type, pos, json->'content' AS content FROM events
     WHERE room_id = ANY(?::text[]) AND (
       (type = 'm.room.member' AND state_key = ?) OR (type = 'm.room.history_visibility' AND state_key = ''))
     ORDER BY pos`, [roomIds, userId]);
  return res.rows.map((r: { room_id: RoomId; type: string; pos: number; content: Record<string, unknown> }) => ({ roomId: r.room_id, type: r.type, pos: Number(r.pos), content: r.content }));
}

export interface StreamEventRow extends EventRow { roomId: RoomId; depth: number }

/** Every room's events in (after, upTo], oldest first, at most `limit`: how a process follows writes of the others. */
export async function selectStreamEvents(q: Queryable, after: number, upTo: number, limit: number): Promise<StreamEventRow[]> {
  const res = await q.raw(
    `SELECT ${COLS}, room_id, depth FROM events WHERE pos > ? AND pos <= ? ORDER BY pos LIMIT ?`, [after, upTo, limit]);
  return res.rows.map((r: RawRow & { depth: string | number }) => ({ ...fromRaw(r), roomId: r.room_id!, depth: Number(r.depth) }));
}

/** For each room, its newest events (at most `limit`) after the room's own position, up to `upTo`; newest first. */
export async function selectEventsAfterEach(q: Queryable, rooms: { roomId: RoomId; after: number }[], upTo: number, limit: number): Promise<Map<RoomId, EventRow[]>> {
  const out = new Map<RoomId, EventRow[]>();
  if (rooms.length === 0) return out;
  const res = await q.raw(
    `SELECT r.room_id, e.pos, e.json, e.txn_device, e.txn_id FROM unnest(?::text[], ?::bigint[]) AS r(room_id, after)
     CROSS JOIN LATERAL (
       SELECT pos, json, txn_device, txn_id FROM events WHERE room_id = r.room_id AND pos > r.after AND pos <= ? ORDER BY pos DESC LIMIT ?
     ) e ORDER BY e.pos DESC`,
    [rooms.map((r) => r.roomId), rooms.map((r) => r.after), upTo, limit]);
  for (const r of res.rows as RawRow[]) {
    let list = out.get(r.room_id!);
    if (!list) out.set(r.room_id!, (list = []));
    list.push(fromRaw(r));
  }
  return out;
}

/** Events of several rooms before `before`, newest first, not sent by `notSender` (GET /notifications). */
export async function selectEventsInRoomsBefore(q: Queryable, roomIds: RoomId[], notSender: string, before: number, limit: number): Promise<StreamEventRow[]> {
  const res = await q.raw(
    `SELECT ${COLS}, room_id, depth FROM events WHERE room_id = ANY(?::text[]) AND pos < ? AND sender <> ? ORDER BY pos DESC LIMIT ?`,
    [roomIds, before, notSender, limit]);
  return res.rows.map((r: RawRow & { depth: string | number }) => ({ ...fromRaw(r), roomId: r.room_id!, depth: Number(r.depth) }));
}
