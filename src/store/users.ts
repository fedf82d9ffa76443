// users table.
import type { UserId } from "../matrix/ids.js";
import type { Queryable } from "./db.js";

export interface UserRow {
  userId: UserId;
  passwordHash: string | null;
  isGuest: boolean;
  isAdmin: boolean;
  deactivated: boolean;
  appserviceId: string | null;
  createdTs: number;
  shadowBanned?: boolean;
  locked?: boolean;
}

interface Raw {
  user_id: string; password_hash: string | null; is_guest: boolean; is_admin: boolean;
  deactivated: boolean; appservice_id: string | null; created_ts: number; shadow_banned?: boolean; locked?: boolean;
}

const fromRow = (r: Raw): UserRow => ({
  userId: r.user_id as UserId, passwordHash: r.password_hash, isGuest: r.is_guest, isAdmin: r.is_admin,
  deactivated: r.deactivated, appserviceId: r.appservice_id, createdTs: r.created_ts, shadowBanned: r.shadow_banned === true, locked: r.locked === true,
});

/** Inserts a user; returns false if the ID is taken (case-insensitively, as Synapse does). */
export async function insertUser(q: Queryable, u: Omit<UserRow, "createdTs" | "deactivated">): Promise<boolean> {
  const res = await q.raw(
    `INSERT INTO users (user_id, password_hash, is_guest, is_admin, appservice_id, created_ts)
     SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM users WHERE lower(user_id) = lower(?))
     ON CONFLICT (user_id) DO NOTHING`,
    [u.userId, u.passwordHash, u.isGuest, u.isAdmin, u.appserviceId, Date.now(), u.userId],
  );
  return (res.rowCount ?? 0) === 1;
}

/** Makes a guest a full account with this password; false if it was not a guest. */
export async function upgradeGuest(q: Queryable, userId: UserId, passwordHash: string): Promise<boolean> {
  const r = await q.raw(`UPDATE users SET is_guest = false, password_hash = ? WHERE user_id = ? AND is_guest RETURNING user_id`, [passwordHash, userId]);
  return r.rows.length > 0;
}

/** Which of these users are guests. */
export async function selectGuests(q: Queryable, userIds: string[]): Promise<UserId[]> {
  if (userIds.length === 0) return [];
  const r = await q.raw(`SELECT user_id FROM users WHERE is_guest AND user_id = ANY(?::text[])`, [userIds]);
  return r.rows.map((x: { user_id: UserId }) => x.user_id);
}

export async function selectUser(q: Queryable, userId: UserId): Promise<UserRow | null> {
  const r = await q<Raw>("users").where({ user_id: userId }).first();
  return r ? fromRow(r) : null;
}

/** Finds a user by ID ignoring case: logins type "Alice" for "@alice:…". */
export async function selectUserCaseInsensitive(q: Queryable, userId: string): Promise<UserRow | null> {
  const exact = await q<Raw>("users").where({ user_id: userId }).first();
  if (exact) return fromRow(exact);
  const rows = await q<Raw>("users").whereRaw("lower(user_id) = lower(?)", [userId]).limit(2);
  return rows.length === 1 ? fromRow(rows[0]!) : null;
}

export async function userIdTaken(q: Queryable, userId: UserId): Promise<boolean> {
  const r = await q("users").whereRaw("lower(user_id) = lower(?)", [userId]).first("user_id");
  return !!r;
}

export async function updatePasswordHash(q: Queryable, userId: UserId, hash: string | null): Promise<void> {
  await q("users").where({ user_id: userId }).update({ password_hash: hash });
}

export async function markDeactivated(q: Queryable, userId: UserId): Promise<void> {
  await q("users").where({ user_id: userId }).update({ deactivated: true, password_hash: null });
}

/** The next free numeric localpart (guests get numeric IDs, as in Synapse). */
export async function nextGuestLocalpart(q: Queryable): Promise<string> {
  const r = await q.raw("SELECT nextval('guest_localparts') AS n");
  return String(r.rows[0].n);
}
