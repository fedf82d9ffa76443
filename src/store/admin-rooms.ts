// Reads and writes of the rooms admin API: the room list with its state summary, blocks,
// deletions and their status, and purging a room's rows.
import type { RoomId } from "../matrix/ids.js";
import { containsPattern, type Queryable } from "./db.js";

export interface AdminRoom {
  room_id: string; name: string | null; canonical_alias: string | null; joined_members: number; joined_local_members: number;
  version: string; creator: string; encryption: string | null; federatable: boolean; public: boolean; join_rules: string | null;
  guest_access: string | null; history_visibility: string | null; state_events: number; room_type: string | null;
  topic: string | null; avatar: string | null;
}

const SUMMARY = `
  WITH st AS (
    SELECT cs.room_id, cs.type, e.json->'content' AS c FROM current_state cs JOIN events e ON e.event_id = cs.event_id
    WHERE cs.state_key = '' AND cs.type IN ('m.room.name', 'm.room.canonical_alias', 'm.room.join_rules', 'm.room.guest_access',
      'm.room.history_visibility', 'm.room.encryption', 'm.room.create', 'm.room.topic', 'm.room.avatar') %ROOM%),
  pv AS (
    SELECT room_id,
      max(c->>'name') FILTER (WHERE type = 'm.room.name') AS name,
      max(c->>'alias') FILTER (WHERE type = 'm.room.canonical_alias') AS canonical_alias,
      max(c->>'join_rule') FILTER (WHERE type = 'm.room.join_rules') AS join_rules,
      max(c->>'guest_access') FILTER (WHERE type = 'm.room.guest_access') AS guest_access,
      max(c->>'history_visibility') FILTER (WHERE type = 'm.room.history_visibility') AS history_visibility,
      max(c->>'algorithm') FILTER (WHERE type = 'm.room.encryption') AS encryption,
      max(c->>'type') FILTER (WHERE type = 'm.room.create') AS room_type,
      bool_and(coalesce((c->>'m.federate')::boolean, true)) FILTER (WHERE type = 'm.room.create') AS federatable,
      max(c->>'topic') FILTER (WHERE type = 'm.room.topic') AS topic,
      max(c->>'url') FILTER (WHERE type = 'm.room.avatar') AS avatar
    FROM st GROUP BY room_id),
  mc AS (
    SELECT room_id,
      count(*) FILTER (WHERE type = 'm.room.member' AND membership = 'join')::int AS joined_members,
      count(*) FILTER (WHERE type = 'm.room.member' AND membership = 'join' AND state_key LIKE ?)::int AS joined_local_members,
      count(*)::int AS state_events
    FROM current_state cs WHERE true %ROOM% GROUP BY room_id),
  x AS (
    SELECT r.room_id, pv.name, pv.canonical_alias, coalesce(mc.joined_members, 0) AS joined_members,
      coalesce(mc.joined_local_members, 0) AS joined_local_members, r.room_version AS version, r.creator, pv.encryption,
      coalesce(pv.federatable, true) AS federatable, r.is_public AS public, pv.join_rules, pv.guest_access, pv.history_visibility,
      coalesce(mc.state_events, 0) AS state_events, pv.room_type, pv.topic, pv.avatar
    FROM rooms r LEFT JOIN pv USING (room_id) LEFT JOIN mc USING (room_id) %ROOMR%)`;

export const ROOM_ORDERS: Record<string, [string, "asc" | "desc"]> = {
  name: ["name", "asc"], alphabetical: ["name", "asc"], canonical_alias: ["canonical_alias", "asc"], joined_members: ["joined_members", "desc"],
  size: ["joined_members", "desc"], joined_local_members: ["joined_local_members", "desc"], version: ["version", "desc"], creator: ["creator", "asc"],
  encryption: ["encryption", "asc"], federatable: ["federatable", "desc"], public: ["public", "desc"], join_rules: ["join_rules", "asc"],
  guest_access: ["guest_access", "asc"], history_visibility: ["history_visibility", "asc"], state_events: ["state_events", "desc"],
};

const summary = (one: boolean) => SUMMARY.replaceAll("%ROOM%", one ? "AND cs.room_id = ?" : "").replace("%ROOMR%", one ? "WHERE r.room_id = ?" : "");

export interface RoomListQuery { from: number; limit: number; orderBy: string; dir: "f" | "b"; search: string | null; publicRooms: boolean | null; emptyRooms: boolean | null }

export async function listRooms(q: Queryable, serverName: string, o: RoomListQuery): Promise<{ rooms: AdminRoom[]; total: number }> {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (o.search) {
    const like = containsPattern(o.search);
    where.push("(name ILIKE ? OR split_part(substr(canonical_alias, 2), ':', 1) ILIKE ? OR room_id LIKE ?)");
    args.push(like, like, like);
  }
  if (o.publicRooms !== null) where.push(o.publicRooms ? "public" : "NOT public");
  if (o.emptyRooms !== null) where.push(o.emptyRooms ? "joined_members = 0" : "joined_members > 0");
  const filter = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const [col, natural] = ROOM_ORDERS[o.orderBy] ?? ROOM_ORDERS.name!;
  const dir = (o.dir === "b") !== (natural === "desc") ? "DESC" : "ASC";
  const local = `%:${serverName}`;
  const rows = await q.raw(`${summary(false)} SELECT * FROM x ${filter} ORDER BY ${col} ${dir} NULLS LAST, room_id LIMIT ? OFFSET ?`, [local, ...args, o.limit, o.from]);
  const count = await q.raw(`${summary(false)} SELECT count(*)::int AS n FROM x ${filter}`, [local, ...args]);
  return { rooms: rows.rows.map(shape), total: Number(count.rows[0].n) };
}

export async function selectRoomSummary(q: Queryable, serverName: string, roomId: RoomId): Promise<AdminRoom | null> {
  const r = await q.raw(`${summary(true)} SELECT * FROM x`, [roomId, `%:${serverName}`, roomId, roomId]);
  return r.rows[0] ? shape(r.rows[0]) : null;
}

const shape = (r: Record<string, unknown>): AdminRoom => ({
  room_id: String(r.room_id), name: (r.name as string) ?? null, canonical_alias: (r.canonical_alias as string) ?? null,
  joined_members: Number(r.joined_members), joined_local_members: Number(r.joined_local_members), version: String(r.version),
  creator: String(r.creator), encryption: (r.encryption as string) ?? null, federatable: r.federatable !== false, public: r.public === true,
  join_rules: (r.join_rules as string) ?? null, guest_access: (r.guest_access as string) ?? null,
  history_visibility: (r.history_visibility as string) ?? null, state_events: Number(r.state_events), room_type: (r.room_type as string) ?? null,
  topic: (r.topic as string) ?? null, avatar: (r.avatar as string) ?? null,
});

export async function selectMembers(q: Queryable, roomId: RoomId): Promise<string[]> {
  const rows = await q("current_state").where({ room_id: roomId, type: "m.room.member", membership: "join" }).orderBy("state_key").select("state_key");
  return rows.map((r: { state_key: string }) => r.state_key);
}

/** Local users with a membership that keeps them in the room's life (joined, invited, knocking). */
export async function selectLocalMembers(q: Queryable, roomId: RoomId, serverName: string): Promise<{ userId: string; membership: string }[]> {
  const rows = await q("current_state").where({ room_id: roomId, type: "m.room.member" }).whereIn("membership", ["join", "invite", "knock"])
    .andWhereLike("state_key", `%:${serverName}`).orderBy("state_key").select("state_key", "membership");
  return rows.map((r: { state_key: string; membership: string }) => ({ userId: r.state_key, membership: r.membership }));
}

export async function isBlocked(q: Queryable, roomId: string): Promise<{ user_id: string } | null> {
  return (await q("blocked_rooms").where({ room_id: roomId }).first("user_id")) ?? null;
}

export async function setBlocked(q: Queryable, roomId: string, userId: string, block: boolean): Promise<void> {
  if (block) await q("blocked_rooms").insert({ room_id: roomId, user_id: userId, created_ts: Date.now() }).onConflict("room_id").ignore();
  else await q("blocked_rooms").where({ room_id: roomId }).delete();
}

export interface Deletion { delete_id: string; room_id: string; status: string; error?: string; shutdown_room: Record<string, unknown> }

export async function insertDeletion(q: Queryable, deleteId: string, roomId: string): Promise<void> {
  await q("room_deletions").insert({ delete_id: deleteId, room_id: roomId, status: "scheduled", created_ts: Date.now() });
}

export async function updateDeletion(q: Queryable, deleteId: string, set: { status: string; error?: string | null; result?: Record<string, unknown> }): Promise<void> {
  await q("room_deletions").where({ delete_id: deleteId }).update({ ...set, ...(set.result ? { result: JSON.stringify(set.result) } : {}) });
}

const EMPTY_RESULT = { kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null };
const deletionShape = (r: { delete_id: string; room_id: string; status: string; error: string | null; result: Record<string, unknown> | null }): Deletion => ({
  delete_id: r.delete_id, room_id: r.room_id, status: r.status, ...(r.error ? { error: r.error } : {}), shutdown_room: r.result ?? EMPTY_RESULT,
});

/** Deletions of the last day (Synapse keeps the status that long). */
export async function selectDeletions(q: Queryable, where: { room_id?: string; delete_id?: string }): Promise<Deletion[]> {
  const rows = await q("room_deletions").where(where).where("created_ts", ">", Date.now() - 24 * 3600 * 1000).orderBy("created_ts");
  return rows.map(deletionShape);
}

/**
 * Removes every row of the room from every table that has a room_id column (found from the
 * catalogue, so a table added later is covered without touching this).
 */
export async function purgeRoom(q: Queryable, roomId: RoomId, keep: string[] = []): Promise<void> {
  const tables = await q.raw(
    `SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
     WHERE c.column_name = 'room_id' AND c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'`,
  );
  for (const { table_name: name } of tables.rows as { table_name: string }[]) {
    if (keep.includes(name)) continue;
    await q.raw("DELETE FROM ?? WHERE room_id = ?", [name, roomId]);
  }
}

/**
 * Deletes the room's non-state events before the cutoff, except its latest event and, when
 * `keepServer` is given, the events of that server's users; their relation rows go with them.
 * Returns how many events went.
 */
export async function purgeHistory(q: Queryable, roomId: RoomId, cutoff: { col: "pos" | "origin_server_ts"; value: number }, keepServer: string | null): Promise<number> {
  const gone = await q.raw(
    `DELETE FROM events e WHERE e.room_id = ? AND e.${cutoff.col === "pos" ? "pos" : "origin_server_ts"} < ? AND e.state_key IS NULL
       AND e.event_id <> coalesce((SELECT head_event_id FROM rooms WHERE room_id = ?), '')
       AND (?::text IS NULL OR e.sender NOT LIKE '%:' || ?::text)
     RETURNING e.event_id`,
    [roomId, cutoff.value, roomId, keepServer, keepServer],
  );
  const ids = gone.rows.map((r: { event_id: string }) => r.event_id);
  if (ids.length) await q.raw(`DELETE FROM event_relations WHERE event_id = ANY(?::text[]) OR relates_to = ANY(?::text[])`, [ids, ids]);
  return ids.length;
}
