// devices and access_tokens tables.
import type { DeviceId, UserId } from "../matrix/ids.js";
import type { Queryable } from "./db.js";

export interface DeviceRow {
  userId: UserId;
  deviceId: DeviceId;
  displayName: string | null;
  lastSeenTs: number | null;
  lastSeenIp: string | null;
  lastSeenUserAgent?: string | null;
}

interface RawDevice { user_id: string; device_id: string; display_name: string | null; last_seen_ts: number | null; last_seen_ip: string | null; last_seen_user_agent?: string | null }
const fromDevice = (r: RawDevice): DeviceRow => ({
  userId: r.user_id as UserId, deviceId: r.device_id as DeviceId, displayName: r.display_name,
  lastSeenTs: r.last_seen_ts, lastSeenIp: r.last_seen_ip, lastSeenUserAgent: r.last_seen_user_agent ?? null,
});

/** Creates the device, or keeps it as it is (spec: the initial name is ignored for a known device). */
/** True when the device is new (not one the user had). */
export async function upsertDevice(q: Queryable, userId: UserId, deviceId: DeviceId, displayName: string | null): Promise<boolean> {
  const r = await q.raw(
    `INSERT INTO devices (user_id, device_id, display_name, created_ts) VALUES (?, ?, ?, ?)
     ON CONFLICT (user_id, device_id) DO NOTHING`,
    [userId, deviceId, displayName, Date.now()],
  );
  return (r.rowCount ?? 0) === 1;
}

export async function selectDevices(q: Queryable, userId: UserId): Promise<DeviceRow[]> {
  const rows = await q<RawDevice>("devices").where({ user_id: userId }).orderBy("created_ts");
  return rows.map(fromDevice);
}

export async function selectDevice(q: Queryable, userId: UserId, deviceId: DeviceId): Promise<DeviceRow | null> {
  const r = await q<RawDevice>("devices").where({ user_id: userId, device_id: deviceId }).first();
  return r ? fromDevice(r) : null;
}

export async function updateDeviceName(q: Queryable, userId: UserId, deviceId: DeviceId, name: string | null): Promise<boolean> {
  const n = await q("devices").where({ user_id: userId, device_id: deviceId }).update({ display_name: name });
  return n > 0;
}

export async function updateDeviceLastSeen(q: Queryable, userId: UserId, deviceId: DeviceId, ts: number, ip: string | null): Promise<void> {
  await q("devices").where({ user_id: userId, device_id: deviceId }).update({ last_seen_ts: ts, last_seen_ip: ip });
}

/** Last-seen of many devices in one statement (the token service gathers them). */
export async function updateDevicesLastSeen(q: Queryable, rows: { userId: string; deviceId: string; ts: number; ip: string | null; ua?: string | null }[]): Promise<void> {
  if (!rows.length) return;
  await q.raw(
    `UPDATE devices d SET last_seen_ts = v.ts, last_seen_ip = v.ip, last_seen_user_agent = coalesce(v.ua, d.last_seen_user_agent)
       FROM unnest(?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[]) AS v(user_id, device_id, ts, ip, ua)
      WHERE d.user_id = v.user_id AND d.device_id = v.device_id`,
    [rows.map((r) => r.userId), rows.map((r) => r.deviceId), rows.map((r) => r.ts), rows.map((r) => r.ip), rows.map((r) => r.ua ?? null)] as never,
  );
}

/** Deletes devices (their tokens go with them, by cascade). */
export async function deleteDevices(q: Queryable, userId: UserId, deviceIds: DeviceId[] | "all", except?: DeviceId): Promise<void> {
  let query = q("devices").where({ user_id: userId });
  if (deviceIds !== "all") query = query.whereIn("device_id", deviceIds);
  if (except) query = query.whereNot({ device_id: except });
  await query.delete();
}

export interface TokenRow {
  id: number;
  userId: UserId;
  deviceId: DeviceId;
  expiresTs: number | null;
  refreshedFrom: number | null;
}

interface RawToken { id: number; user_id: string; device_id: string; expires_ts: number | null; refreshed_from: number | null }
const fromToken = (r: RawToken): TokenRow => ({
  id: r.id, userId: r.user_id as UserId, deviceId: r.device_id as DeviceId, expiresTs: r.expires_ts, refreshedFrom: r.refreshed_from,
});

export async function insertToken(
  q: Queryable,
  t: { tokenHash: Buffer; refreshTokenHash: Buffer | null; userId: UserId; deviceId: DeviceId; expiresTs: number | null; refreshedFrom: number | null },
): Promise<number> {
  const [row] = await q("access_tokens").insert({
    token_hash: t.tokenHash, refresh_token_hash: t.refreshTokenHash, user_id: t.userId, device_id: t.deviceId,
    expires_ts: t.expiresTs, refreshed_from: t.refreshedFrom, created_ts: Date.now(),
  }).returning("id");
  return (row as { id: number }).id;
}

export async function selectTokenByHash(q: Queryable, hash: Buffer): Promise<TokenRow | null> {
  const r: RawToken | undefined = await q("access_tokens").where({ token_hash: hash }).first("id", "user_id", "device_id", "expires_ts", "refreshed_from");
  return r ? fromToken(r) : null;
}

/** Which of these token hashes still belong to a token of an active account (revalidation in bulk). */
export async function selectLiveTokenHashes(q: Queryable, hashes: Buffer[]): Promise<Set<string>> {
  if (!hashes.length) return new Set();
  const res = await q.raw(
    `SELECT t.token_hash FROM access_tokens t JOIN users u ON u.user_id = t.user_id
      WHERE t.token_hash = ANY(?::bytea[]) AND NOT u.deactivated`, [hashes] as never);
  return new Set(res.rows.map((r: { token_hash: Buffer }) => r.token_hash.toString("base64")));
}

export async function selectTokenByRefreshHash(q: Queryable, hash: Buffer): Promise<TokenRow | null> {
  const r: RawToken | undefined = await q("access_tokens").where({ refresh_token_hash: hash }).first("id", "user_id", "device_id", "expires_ts", "refreshed_from");
  return r ? fromToken(r) : null;
}

export async function deleteTokenById(q: Queryable, id: number): Promise<void> {
  await q("access_tokens").where({ id }).delete();
}

/** The new pair is in use: the pair it was refreshed from is no longer valid. */
/** A token replaced by a refresh: the pushers it made are now its successor's (else they would go with it). */
export async function handOverPushers(q: Queryable, fromId: number, toId: number): Promise<void> {
  await q.raw(`UPDATE pushers SET access_token_id = ? WHERE access_token_id = ?`, [toId, fromId]);
}

export async function retirePreviousToken(q: Queryable, id: number, previousId: number): Promise<void> {
  await handOverPushers(q, previousId, id);
  await q("access_tokens").where({ id: previousId }).delete();
  await q("access_tokens").where({ id }).update({ refreshed_from: null });
}

export async function deleteDeviceTokens(q: Queryable, userId: UserId, deviceId: DeviceId, exceptId?: number): Promise<void> {
  let query = q("access_tokens").where({ user_id: userId, device_id: deviceId });
  if (exceptId !== undefined) query = query.whereNot({ id: exceptId });
  await query.delete();
}
