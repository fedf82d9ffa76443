// Reads and writes of the users admin API (/_synapse/admin/v2/users and friends): listing with
// Synapse's filters and orders, details, third-party IDs, rate-limit overrides.
import type { UserId } from "../matrix/ids.js";
import { containsPattern, type Queryable } from "./db.js";

export interface AdminUser {
  name: string; user_type: string | null; is_guest: boolean; admin: boolean; deactivated: boolean; erased: boolean;
  shadow_banned: boolean; displayname: string | null; avatar_url: string | null; creation_ts: number; last_seen_ts: number | null;
  locked: boolean; appservice_id: string | null;
}

const SELECT = `
  SELECT u.user_id AS name, u.user_type, u.is_guest, u.is_admin AS admin, u.deactivated, u.erased, u.shadow_banned, u.locked,
         u.created_ts AS creation_ts, u.appservice_id,
         (SELECT value #>> '{}' FROM profile_fields p WHERE p.user_id = u.user_id AND p.key = 'displayname') AS displayname,
         (SELECT value #>> '{}' FROM profile_fields p WHERE p.user_id = u.user_id AND p.key = 'avatar_url') AS avatar_url,
         (SELECT max(last_seen_ts) FROM devices d WHERE d.user_id = u.user_id) AS last_seen_ts
  FROM users u`;

const shape = (r: Record<string, unknown>): AdminUser => ({
  name: String(r.name), user_type: (r.user_type as string | null) ?? null, is_guest: r.is_guest === true, admin: r.admin === true,
  deactivated: r.deactivated === true, erased: r.erased === true, shadow_banned: r.shadow_banned === true,
  displayname: (r.displayname as string | null) ?? null, avatar_url: (r.avatar_url as string | null) ?? null,
  creation_ts: Number(r.creation_ts), last_seen_ts: r.last_seen_ts === null || r.last_seen_ts === undefined ? null : Number(r.last_seen_ts),
  locked: r.locked === true, appservice_id: (r.appservice_id as string | null) ?? null,
});

export const USER_ORDERS: Record<string, string> = {
  name: "name", is_guest: "is_guest", admin: "admin", user_type: "user_type", deactivated: "deactivated", shadow_banned: "shadow_banned",
  displayname: "displayname", avatar_url: "avatar_url", creation_ts: "creation_ts", last_seen_ts: "last_seen_ts", locked: "locked",
};

export interface UserListQuery {
  from: number; limit: number; guests: boolean; deactivated: boolean | null; admins: boolean | null;
  name: string | null; userId: string | null; orderBy: string; dir: "f" | "b"; locked: boolean;
}

export async function listUsers(q: Queryable, o: UserListQuery): Promise<{ users: AdminUser[]; total: number }> {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (!o.guests) where.push("NOT is_guest");
  if (o.deactivated === false) where.push("NOT deactivated");
  if (o.deactivated === true) where.push("deactivated");
  if (o.admins !== null) where.push(o.admins ? "admin" : "NOT admin");
  if (!o.locked) where.push("NOT locked");
  const like = containsPattern;
  if (o.name) {
    // Localpart or display name, as Synapse's `name` filter.
    where.push("(split_part(substr(name, 2), ':', 1) ILIKE ? OR displayname ILIKE ?)");
    args.push(like(o.name), like(o.name));
  } else if (o.userId) {
    where.push("name ILIKE ?");
    args.push(like(o.userId));
  }
  const filter = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const col = USER_ORDERS[o.orderBy] ?? "name";
  const dir = o.dir === "b" ? "DESC" : "ASC";
  const base = `WITH x AS (${SELECT}) `;
  const rows = await q.raw(`${base} SELECT * FROM x ${filter} ORDER BY ${col} ${dir} NULLS LAST, name ${dir} LIMIT ? OFFSET ?`, [...args, o.limit, o.from]);
  const count = await q.raw(`${base} SELECT count(*)::int AS n FROM x ${filter}`, args);
  return { users: rows.rows.map(shape), total: Number(count.rows[0].n) };
}

export async function selectAdminUser(q: Queryable, userId: UserId): Promise<AdminUser | null> {
  const r = await q.raw(`${SELECT} WHERE u.user_id = ?`, [userId]);
  return r.rows[0] ? shape(r.rows[0]) : null;
}

export async function setFlags(q: Queryable, userId: UserId, set: { is_admin?: boolean; shadow_banned?: boolean; user_type?: string | null; locked?: boolean; deactivated?: boolean }): Promise<void> {
  if (Object.keys(set).length) await q("users").where({ user_id: userId }).update(set);
}

export interface Threepid { medium: string; address: string; added_at: number; validated_at: number }

export async function selectThreepids(q: Queryable, userId: UserId): Promise<Threepid[]> {
  const rows = await q("user_threepids").where({ user_id: userId }).orderBy("added_at").select("medium", "address", "added_at", "validated_at");
  return rows.map((r: Threepid) => ({ medium: r.medium, address: r.address, added_at: Number(r.added_at), validated_at: Number(r.validated_at) }));
}

/** Replaces the user's third-party IDs; an address another account holds is taken from it (as Synapse's admin API does). */
export async function replaceThreepids(q: Queryable, userId: UserId, list: { medium: string; address: string }[]): Promise<void> {
  await q("user_threepids").where({ user_id: userId }).delete();
  const now = Date.now();
  for (const t of list) {
    await q.raw(
      `INSERT INTO user_threepids (medium, address, user_id, validated_at, added_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (medium, address) DO UPDATE SET user_id = EXCLUDED.user_id, validated_at = EXCLUDED.validated_at, added_at = EXCLUDED.added_at`,
      [t.medium, t.address, userId, now, now],
    );
  }
}

export async function userByThreepid(q: Queryable, medium: string, address: string): Promise<UserId | null> {
  const r = await q("user_threepids").where({ medium, address }).first("user_id");
  return (r?.user_id as UserId | undefined) ?? null;
}

export async function selectRatelimit(q: Queryable, userId: UserId): Promise<{ messages_per_second: number; burst_count: number } | null> {
  const r = await q("ratelimit_overrides").where({ user_id: userId }).first("messages_per_second", "burst_count");
  return r ? { messages_per_second: Number(r.messages_per_second), burst_count: Number(r.burst_count) } : null;
}

export async function setRatelimit(q: Queryable, userId: UserId, v: { messages_per_second: number; burst_count: number } | null): Promise<void> {
  if (v === null) { await q("ratelimit_overrides").where({ user_id: userId }).delete(); return; }
  await q("ratelimit_overrides").insert({ user_id: userId, ...v }).onConflict("user_id").merge();
}

export async function selectAllRatelimits(q: Queryable): Promise<{ user_id: string; messages_per_second: number; burst_count: number }[]> {
  return q("ratelimit_overrides").select("user_id", "messages_per_second", "burst_count");
}

/** Every room the user has a membership in, with it (joined, invited, left, banned, knocking). */
export async function selectMemberships(q: Queryable, userId: UserId): Promise<Record<string, string>> {
  const rows = await q("current_state").where({ type: "m.room.member", state_key: userId }).select("room_id", "membership");
  return Object.fromEntries(rows.map((r: { room_id: string; membership: string }) => [r.room_id, r.membership]));
}

export async function selectAllAccountData(q: Queryable, userId: UserId): Promise<{ roomId: string; type: string; content: unknown }[]> {
  const rows = await q("account_data").where({ user_id: userId }).orderBy(["room_id", "type"]).select("room_id", "type", "content");
  return rows.map((r: { room_id: string; type: string; content: unknown }) => ({ roomId: r.room_id, type: r.type, content: r.content }));
}
