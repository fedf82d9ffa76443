// Event reports for the admin API (Synapse's /_synapse/admin/v1/event_reports shapes), read
// from what POST /rooms/{roomId}/report/{eventId} stored. Reports of users are not event reports.
import { containsPattern, type Queryable } from "./db.js";

const SELECT = `
  SELECT r.id, r.created_ts AS received_ts, r.room_id, r.event_id, r.reporter AS user_id, r.reason, r.score, e.sender, e.json AS event_json,
    (SELECT ev.json->'content'->>'name' FROM current_state cs JOIN events ev ON ev.event_id = cs.event_id
      WHERE cs.room_id = r.room_id AND cs.type = 'm.room.name' AND cs.state_key = '') AS name,
    (SELECT ev.json->'content'->>'alias' FROM current_state cs JOIN events ev ON ev.event_id = cs.event_id
      WHERE cs.room_id = r.room_id AND cs.type = 'm.room.canonical_alias' AND cs.state_key = '') AS canonical_alias
  FROM reports r LEFT JOIN events e ON e.event_id = r.event_id
  WHERE r.event_id IS NOT NULL`;

const shape = (r: Record<string, unknown>, withEvent: boolean) => ({
  id: Number(r.id), received_ts: Number(r.received_ts), room_id: r.room_id, name: r.name ?? null, event_id: r.event_id,
  user_id: r.user_id, reason: r.reason ?? null, score: r.score ?? null, sender: r.sender ?? null, canonical_alias: r.canonical_alias ?? null,
  ...(withEvent ? { event_json: r.event_json ? { ...(r.event_json as Record<string, unknown>), room_id: r.room_id } : null } : {}),
});

export async function listReports(q: Queryable, o: { from: number; limit: number; dir: "f" | "b"; userId: string | null; roomId: string | null }) {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (o.userId) { where.push("r.reporter LIKE ?"); args.push(containsPattern(o.userId)); }
  if (o.roomId) { where.push("r.room_id LIKE ?"); args.push(containsPattern(o.roomId)); }
  const extra = where.length ? ` AND ${where.join(" AND ")}` : "";
  const dir = o.dir === "f" ? "ASC" : "DESC";
  const rows = await q.raw(`${SELECT}${extra} ORDER BY r.created_ts ${dir}, r.id ${dir} LIMIT ? OFFSET ?`, [...args, o.limit, o.from]);
  const count = await q.raw(`SELECT count(*)::int AS n FROM reports r WHERE r.event_id IS NOT NULL${extra}`, args);
  return { reports: rows.rows.map((r: Record<string, unknown>) => shape(r, false)), total: Number(count.rows[0].n) };
}

export async function selectReport(q: Queryable, id: number) {
  const r = await q.raw(`${SELECT} AND r.id = ?`, [id]);
  return r.rows[0] ? shape(r.rows[0], true) : null;
}

export async function deleteReport(q: Queryable, id: number): Promise<boolean> {
  return (await q("reports").where({ id }).whereNotNull("event_id").delete()) > 0;
}
