// pushers and push_state.
import type { Queryable } from "./db.js";

export interface PusherRow {
  user_id: string; app_id: string; pushkey: string; kind: string; app_display_name: string; device_display_name: string;
  profile_tag: string | null; lang: string; data: Record<string, unknown>; created_ts: number;
}

export async function selectPushers(q: Queryable, userIds: string[]): Promise<PusherRow[]> {
  if (userIds.length === 0) return [];
  const r = await q.raw(`SELECT * FROM pushers WHERE user_id = ANY(?::text[])`, [userIds]);
  return r.rows.map((x: PusherRow) => ({ ...x, created_ts: Number(x.created_ts) }));
}

export async function upsertPusher(q: Queryable, p: Omit<PusherRow, "created_ts">, append: boolean, tokenId: number | null): Promise<void> {
  // Without append, this app/pushkey belongs to this user alone (spec: pushers/set).
  if (!append) await q.raw(`DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id <> ?`, [p.app_id, p.pushkey, p.user_id]);
  await q.raw(
    `INSERT INTO pushers (user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data, created_ts, access_token_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?)
     ON CONFLICT (app_id, pushkey, user_id) DO UPDATE SET kind = EXCLUDED.kind, app_display_name = EXCLUDED.app_display_name,
       device_display_name = EXCLUDED.device_display_name, profile_tag = EXCLUDED.profile_tag, lang = EXCLUDED.lang, data = EXCLUDED.data,
       access_token_id = EXCLUDED.access_token_id`,
    [p.user_id, p.app_id, p.pushkey, p.kind, p.app_display_name, p.device_display_name, p.profile_tag, p.lang, JSON.stringify(p.data), Date.now(), tokenId]);
}

export async function deletePusher(q: Queryable, userId: string | null, appId: string, pushkey: string): Promise<void> {
  if (userId) await q.raw(`DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id = ?`, [appId, pushkey, userId]);
  else await q.raw(`DELETE FROM pushers WHERE app_id = ? AND pushkey = ?`, [appId, pushkey]);
}

/** Every user with at least one HTTP pusher. */
export async function pusherOwners(q: Queryable): Promise<Set<string>> {
  const r = await q.raw(`SELECT DISTINCT user_id FROM pushers WHERE kind = 'http'`);
  return new Set(r.rows.map((x: { user_id: string }) => x.user_id));
}

export async function pushPosition(q: Queryable, currentPos: number): Promise<number> {
  await q.raw(`INSERT INTO push_state (stream_pos) VALUES (?) ON CONFLICT (id) DO NOTHING`, [currentPos]);
  const r = await q.raw(`SELECT stream_pos FROM push_state`);
  return Number(r.rows[0].stream_pos);
}

export async function setPushPosition(q: Queryable, pos: number): Promise<void> {
  await q.raw(`UPDATE push_state SET stream_pos = greatest(stream_pos, ?)`, [pos]);
}

export async function takePushLease(q: Queryable, owner: string, now: number, until: number): Promise<boolean> {
  const r = await q.raw(`UPDATE push_state SET lease_owner = ?, lease_until = ? WHERE lease_owner = ? OR lease_until < ? RETURNING 1`, [owner, until, owner, now]);
  return r.rows.length > 0;
}

export async function releasePushLease(q: Queryable, owner: string): Promise<void> {
  await q.raw(`UPDATE push_state SET lease_until = 0 WHERE lease_owner = ?`, [owner]);
}
