// device_keys, one_time_keys, fallback_keys, cross_signing_keys, device_list_changes, to_device.
import type { UserId } from "../matrix/ids.js";
import type { Db, Queryable } from "./db.js";
import { takePositions } from "./events.js";

type Json = Record<string, unknown>;

export async function upsertDeviceKeys(q: Queryable, userId: UserId, deviceId: string, keys: Json): Promise<boolean> {
  const r = await q.raw(
    `INSERT INTO device_keys (user_id, device_id, keys) VALUES (?, ?, ?::jsonb)
     ON CONFLICT (user_id, device_id) DO UPDATE SET keys = EXCLUDED.keys WHERE device_keys.keys IS DISTINCT FROM EXCLUDED.keys
     RETURNING 1`, [userId, deviceId, JSON.stringify(keys)]);
  return r.rows.length > 0;
}

export async function insertOneTimeKeys(q: Queryable, userId: UserId, deviceId: string, keys: { algorithm: string; keyId: string; key: unknown }[]): Promise<void> {
  if (keys.length === 0) return;
  await q.raw(
    `INSERT INTO one_time_keys (user_id, device_id, algorithm, key_id, key)
     SELECT ?, ?, a, k, v::jsonb FROM unnest(?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS x(a, k, v, n) ORDER BY n ON CONFLICT DO NOTHING`,
    [userId, deviceId, keys.map((k) => k.algorithm), keys.map((k) => k.keyId), keys.map((k) => JSON.stringify(k.key))]);
}

export async function upsertFallbackKey(q: Queryable, userId: UserId, deviceId: string, algorithm: string, keyId: string, key: unknown): Promise<void> {
  await q.raw(
    `INSERT INTO fallback_keys (user_id, device_id, algorithm, key_id, key, used) VALUES (?, ?, ?, ?, ?::jsonb, false)
     ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = EXCLUDED.key_id, key = EXCLUDED.key,
       used = CASE WHEN fallback_keys.key_id = EXCLUDED.key_id THEN fallback_keys.used ELSE false END`,
    [userId, deviceId, algorithm, keyId, JSON.stringify(key)]);
}

export async function countOneTimeKeys(q: Queryable, userId: UserId, deviceId: string): Promise<{ counts: Record<string, number>; unusedFallback: string[] }> {
  const [c, f] = await Promise.all([
    q.raw(`SELECT algorithm, count(*)::int AS n FROM one_time_keys WHERE user_id = ? AND device_id = ? GROUP BY algorithm`, [userId, deviceId]),
    q.raw(`SELECT algorithm FROM fallback_keys WHERE user_id = ? AND device_id = ? AND NOT used`, [userId, deviceId]),
  ]);
  return {
    counts: Object.fromEntries(c.rows.map((r: { algorithm: string; n: number }) => [r.algorithm, Number(r.n)])),
    unusedFallback: f.rows.map((r: { algorithm: string }) => r.algorithm),
  };
}

/** Takes one one-time key (the first uploaded first: MSC4225), or else the fallback key (marked used). */
export async function claimKey(q: Queryable, userId: string, deviceId: string, algorithm: string): Promise<{ keyId: string; key: unknown } | null> {
  const r = await q.raw(
    `DELETE FROM one_time_keys WHERE ctid = (
       SELECT ctid FROM one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ? ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING key_id, key`, [userId, deviceId, algorithm]);
  if (r.rows[0]) return { keyId: r.rows[0].key_id, key: r.rows[0].key };
  const f = await q.raw(
    `UPDATE fallback_keys SET used = true WHERE user_id = ? AND device_id = ? AND algorithm = ? RETURNING key_id, key`, [userId, deviceId, algorithm]);
  return f.rows[0] ? { keyId: f.rows[0].key_id, key: f.rows[0].key } : null;
}

export async function selectDeviceKeys(q: Queryable, userIds: string[]): Promise<{ userId: string; deviceId: string; keys: Json; displayName: string | null }[]> {
  if (userIds.length === 0) return [];
  const r = await q.raw(
    `SELECT k.user_id, k.device_id, k.keys, d.display_name FROM device_keys k
     LEFT JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id
     WHERE k.user_id = ANY(?::text[])`, [userIds]);
  return r.rows.map((x: { user_id: string; device_id: string; keys: Json; display_name: string | null }) => ({ userId: x.user_id, deviceId: x.device_id, keys: x.keys, displayName: x.display_name }));
}

export async function deleteDeviceKeys(q: Queryable, userId: UserId, deviceIds: string[]): Promise<void> {
  for (const t of ["device_keys", "one_time_keys", "fallback_keys", "to_device"]) {
    await q.raw(`DELETE FROM ${t} WHERE user_id = ? AND device_id = ANY(?::text[])`, [userId, deviceIds]);
  }
}

export async function selectCrossSigning(q: Queryable, userIds: string[]): Promise<{ userId: string; kind: string; key: Json }[]> {
  if (userIds.length === 0) return [];
  const r = await q.raw(`SELECT user_id, kind, key FROM cross_signing_keys WHERE user_id = ANY(?::text[])`, [userIds]);
  return r.rows.map((x: { user_id: string; kind: string; key: Json }) => ({ userId: x.user_id, kind: x.kind, key: x.key }));
}

export async function upsertCrossSigning(q: Queryable, userId: UserId, kind: string, key: Json): Promise<void> {
  await q.raw(`INSERT INTO cross_signing_keys (user_id, kind, key) VALUES (?, ?, ?::jsonb) ON CONFLICT (user_id, kind) DO UPDATE SET key = EXCLUDED.key`, [userId, kind, JSON.stringify(key)]);
}

/** Records that a user's devices or keys changed; returns the stream position. Call last in a transaction. */
export async function noteDeviceListChange(q: Queryable, userId: UserId): Promise<number> {
  const pos = await takePositions(q, 1);
  await q.raw(`INSERT INTO device_list_changes (user_id, pos) VALUES (?, ?)`, [userId, pos]);
  return pos;
}

export async function selectDeviceListChanges(q: Queryable, userIds: string[], after: number, upTo: number): Promise<string[]> {
  if (userIds.length === 0) return [];
  const r = await q.raw(`SELECT DISTINCT user_id FROM device_list_changes WHERE user_id = ANY(?::text[]) AND pos > ? AND pos <= ?`, [userIds, after, upTo]);
  return r.rows.map((x: { user_id: string }) => x.user_id);
}

export async function selectStreamDeviceListChanges(q: Queryable, after: number, upTo: number): Promise<{ userId: UserId; pos: number }[]> {
  const r = await q.raw(`SELECT user_id, pos FROM device_list_changes WHERE pos > ? AND pos <= ? ORDER BY pos`, [after, upTo]);
  return r.rows.map((x: { user_id: UserId; pos: string }) => ({ userId: x.user_id, pos: Number(x.pos) }));
}

/** Stores to-device messages (one stream position for the lot), once per (sender, device, txnId). Null if a retry. */
export async function insertToDevice(db: Db, sender: UserId, senderDevice: string, txnId: string, type: string, messages: { userId: string; deviceId: string; content: unknown }[]): Promise<number | null> {
  return db.transaction(async (trx) => {
    const t = await trx.raw(`INSERT INTO to_device_txns (sender, device_id, txn_id, created_ts) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1`, [sender, senderDevice, txnId, Date.now()]);
    if (t.rows.length === 0) return null;
    if (messages.length === 0) return 0;
    const pos = await takePositions(trx, 1);
    await trx.raw(
      `INSERT INTO to_device (user_id, device_id, pos, sender, type, content)
       SELECT u, d, ?, ?, ?, c::jsonb FROM unnest(?::text[], ?::text[], ?::text[]) AS x(u, d, c) ON CONFLICT DO NOTHING`,
      [pos, sender, type, messages.map((m) => m.userId), messages.map((m) => m.deviceId), messages.map((m) => JSON.stringify(m.content))]);
    return pos;
  });
}

export async function selectToDevice(q: Queryable, userId: UserId, deviceId: string, after: number, upTo: number, limit: number): Promise<{ pos: number; sender: string; type: string; content: Json }[]> {
  const r = await q.raw(`SELECT pos, sender, type, content FROM to_device WHERE user_id = ? AND device_id = ? AND pos > ? AND pos <= ? ORDER BY pos LIMIT ?`, [userId, deviceId, after, upTo, limit]);
  return r.rows.map((x: { pos: string; sender: string; type: string; content: Json }) => ({ pos: Number(x.pos), sender: x.sender, type: x.type, content: x.content }));
}

export async function deleteToDevice(q: Queryable, userId: UserId, deviceId: string, upTo: number): Promise<void> {
  await q.raw(`DELETE FROM to_device WHERE user_id = ? AND device_id = ? AND pos <= ?`, [userId, deviceId, upTo]);
}

/** To-device messages on the stream in (after, upTo], oldest first (application service transactions). */
export async function selectToDeviceRange(q: Queryable, after: number, upTo: number, limit: number): Promise<{ userId: UserId; deviceId: string; pos: number; sender: string; type: string; content: Json }[]> {
  const r = await q.raw(`SELECT user_id, device_id, pos, sender, type, content FROM to_device WHERE pos > ? AND pos <= ? ORDER BY pos LIMIT ?`, [after, upTo, limit]);
  return r.rows.map((x: { user_id: UserId; device_id: string; pos: string; sender: string; type: string; content: Json }) => ({ userId: x.user_id, deviceId: x.device_id, pos: Number(x.pos), sender: x.sender, type: x.type, content: x.content }));
}

/** Delivered to an application service: no device of it will ever sync them. */
export async function deleteToDeviceRows(q: Queryable, rows: { userId: string; deviceId: string; pos: number }[]): Promise<void> {
  if (rows.length === 0) return;
  await q.raw(`DELETE FROM to_device t USING unnest(?::text[], ?::text[], ?::bigint[]) AS d(u, dv, p) WHERE t.user_id = d.u AND t.device_id = d.dv AND t.pos = d.p`,
    [rows.map((r) => r.userId), rows.map((r) => r.deviceId), rows.map((r) => r.pos)]);
}

export async function selectStreamToDevice(q: Queryable, after: number, upTo: number): Promise<{ userId: UserId; pos: number }[]> {
  const r = await q.raw(`SELECT DISTINCT user_id, pos FROM to_device WHERE pos > ? AND pos <= ? ORDER BY pos`, [after, upTo]);
  return r.rows.map((x: { user_id: UserId; pos: string }) => ({ userId: x.user_id, pos: Number(x.pos) }));
}
