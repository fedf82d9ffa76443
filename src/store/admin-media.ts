// Media rows for the media admin API: listing a user's uploads, finding old or large ones,
// the media a room's events point at, quarantine and protection flags.
import type { RoomId, UserId } from "../matrix/ids.js";
import { containsPattern, type Queryable } from "./db.js";

export const MEDIA_ORDERS: Record<string, string> = {
  media_id: "media_id", upload_name: "filename", created_ts: "created_ts", last_access_ts: "created_ts", media_length: "size",
  media_type: "content_type", quarantined_by: "quarantined_by", safe_from_quarantine: "safe_from_quarantine",
};

export interface MediaListQuery { from: number; limit: number; orderBy: string; dir: "f" | "b" }

const shape = (r: Record<string, unknown>) => ({
  media_id: String(r.media_id), media_type: (r.content_type as string) ?? "application/octet-stream", media_length: r.size === null ? 0 : Number(r.size),
  upload_name: (r.filename as string) ?? null, created_ts: Number(r.created_ts), last_access_ts: null,
  quarantined_by: (r.quarantined_by as string) ?? null, safe_from_quarantine: r.safe_from_quarantine === true,
});

export async function listUserMedia(q: Queryable, userId: UserId, o: MediaListQuery) {
  const col = MEDIA_ORDERS[o.orderBy] ?? "created_ts";
  const dir = o.dir === "b" ? "desc" : "asc";
  const rows = await q("media").where({ user_id: userId }).orderBy([{ column: col, order: dir }, { column: "media_id", order: "asc" }]).limit(o.limit).offset(o.from);
  const c = await q.raw("SELECT count(*)::int AS n FROM media WHERE user_id = ?", [userId]);
  return { media: rows.map(shape), total: Number(c.rows[0].n) };
}

export async function selectMedia(q: Queryable, mediaId: string) {
  const r = await q("media").where({ media_id: mediaId }).first();
  return r ? shape(r) : null;
}

/**
 * Media older than `before` and larger than `sizeGt` bytes, not protected; with `keepProfiles`,
 * not the avatar of any user or room (Synapse's keep_profiles).
 */
export async function selectOldMedia(q: Queryable, before: number, sizeGt: number, keepProfiles: boolean): Promise<string[]> {
  const r = await q.raw(
    `SELECT media_id FROM media m WHERE created_ts < ? AND coalesce(size, 0) > ? AND NOT safe_from_quarantine
       AND (NOT ? OR NOT EXISTS (SELECT 1 FROM profile_fields p WHERE p.key = 'avatar_url' AND p.value #>> '{}' LIKE '%/' || m.media_id))`,
    [before, sizeGt, keepProfiles],
  );
  return r.rows.map((x: { media_id: string }) => x.media_id);
}

/** Quarantines (by is the admin) or releases (by null) media; protected media is never quarantined. Returns how many changed. */
export async function quarantine(q: Queryable, ids: string[], by: string | null): Promise<number> {
  if (!ids.length) return 0;
  const b = q("media").whereIn("media_id", ids);
  if (by !== null) b.where({ safe_from_quarantine: false });
  return b.update({ quarantined_by: by });
}

export async function protect(q: Queryable, mediaId: string, safe: boolean): Promise<void> {
  await q("media").where({ media_id: mediaId }).update({ safe_from_quarantine: safe });
}

export async function userMediaIds(q: Queryable, userId: UserId): Promise<string[]> {
  return (await q("media").where({ user_id: userId }).select("media_id")).map((r: { media_id: string }) => r.media_id);
}

/** This server's media that the room's events point at (content.url, and info.thumbnail_url). */
export async function roomMediaIds(q: Queryable, roomId: RoomId, serverName: string): Promise<string[]> {
  const prefix = `mxc://${serverName}/`;
  const r = await q.raw(
    `SELECT DISTINCT substr(u, ?) AS id FROM (
       SELECT json->'content'->>'url' AS u FROM events WHERE room_id = ?
       UNION SELECT json->'content'->'info'->>'thumbnail_url' FROM events WHERE room_id = ?) x
     WHERE u LIKE ?`,
    [prefix.length + 1, roomId, roomId, `${prefix}%`],
  );
  return r.rows.map((x: { id: string }) => x.id).filter((id: string) => /^[A-Za-z0-9_-]+$/.test(id));
}

/** Per user: how many uploads and how many bytes (the media statistics admin API). */
export async function userStatistics(q: Queryable, o: { from: number; limit: number; orderBy: string; dir: "f" | "b"; search: string | null }) {
  const args: (string | number)[] = [];
  let where = "";
  if (o.search) {
    const like = containsPattern(o.search);
    where = "WHERE user_id ILIKE ? OR displayname ILIKE ?";
    args.push(like, like);
  }
  const base = `WITH x AS (
      SELECT m.user_id, count(*)::int AS media_count, coalesce(sum(m.size), 0)::bigint AS media_length,
        (SELECT value #>> '{}' FROM profile_fields p WHERE p.user_id = m.user_id AND p.key = 'displayname') AS displayname
      FROM media m GROUP BY m.user_id)`;
  const dir = o.dir === "b" ? "DESC" : "ASC";
  const rows = await q.raw(`${base} SELECT * FROM x ${where} ORDER BY ${o.orderBy} ${dir} NULLS LAST, user_id LIMIT ? OFFSET ?`, [...args, o.limit, o.from]);
  const count = await q.raw(`${base} SELECT count(*)::int AS n FROM x ${where}`, args);
  return {
    users: rows.rows.map((r: { user_id: string; displayname: string | null; media_count: number; media_length: string }) => ({ user_id: r.user_id, displayname: r.displayname, media_count: Number(r.media_count), media_length: Number(r.media_length) })),
    total: Number(count.rows[0].n),
  };
}
