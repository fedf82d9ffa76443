// sliding_sync_connections: a connection's last response, for the other processes.
import type { Queryable } from "./db.js";

export async function upsertConnection(q: Queryable, key: string, userId: string, data: Buffer, now: number): Promise<void> {
  await q.raw(
    `INSERT INTO sliding_sync_connections (conn_key, user_id, data, updated_ts) VALUES (?, ?, ?, ?)
     ON CONFLICT (conn_key) DO UPDATE SET data = EXCLUDED.data, updated_ts = EXCLUDED.updated_ts`, [key, userId, data, now]);
}

export async function selectConnection(q: Queryable, key: string): Promise<Buffer | null> {
  const r = await q.raw(`SELECT data FROM sliding_sync_connections WHERE conn_key = ?`, [key]);
  return r.rows[0]?.data ?? null;
}

export async function deleteIdleConnections(q: Queryable, before: number): Promise<void> {
  await q.raw(`DELETE FROM sliding_sync_connections WHERE updated_ts < ?`, [before]);
}
