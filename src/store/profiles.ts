// profile_fields table.
import type { UserId } from "../matrix/ids.js";
import type { Queryable } from "./db.js";

export async function selectProfile(q: Queryable, userId: UserId): Promise<Record<string, unknown>> {
  const rows: { key: string; value: unknown }[] = await q("profile_fields").where({ user_id: userId }).select("key", "value");
  const out: Record<string, unknown> = {};
  for (const r of rows) out[r.key] = r.value;
  return out;
}

export async function upsertProfileField(q: Queryable, userId: UserId, key: string, value: unknown): Promise<void> {
  await q.raw(
    `INSERT INTO profile_fields (user_id, key, value) VALUES (?, ?, ?::jsonb)
     ON CONFLICT (user_id, key) DO UPDATE SET value = EXCLUDED.value`,
    [userId, key, JSON.stringify(value)],
  );
}

export async function deleteProfileField(q: Queryable, userId: UserId, key: string): Promise<void> {
  await q("profile_fields").where({ user_id: userId, key }).delete();
}

export async function deleteProfile(q: Queryable, userId: UserId): Promise<void> {
  await q("profile_fields").where({ user_id: userId }).delete();
}
