// uia_sessions and registration_nonces tables.
import type { Queryable } from "./db.js";

export interface UiaSessionRow { sessionId: string; purpose: string; userId: string | null; completed: string[]; createdTs: number; params?: Record<string, unknown> | null; result?: Record<string, unknown> | null }

export async function insertUiaSession(q: Queryable, s: Omit<UiaSessionRow, "createdTs" | "completed">): Promise<void> {
  await q("uia_sessions").insert({ session_id: s.sessionId, purpose: s.purpose, user_id: s.userId, completed: JSON.stringify([]), created_ts: Date.now() });
}

export async function selectUiaSession(q: Queryable, sessionId: string): Promise<UiaSessionRow | null> {
  const r = await q("uia_sessions").where({ session_id: sessionId }).first();
  if (!r) return null;
  return { sessionId: r.session_id, purpose: r.purpose, userId: r.user_id, completed: r.completed as string[], createdTs: r.created_ts, params: r.params ?? null, result: r.result ?? null };
}

/** What a session remembers of its request (the first parameters given), or its outcome. */
export async function setUiaData(q: Queryable, sessionId: string, data: { params?: Record<string, unknown>; result?: Record<string, unknown> }): Promise<void> {
  const set: Record<string, string> = {};
  if (data.params) set.params = JSON.stringify(data.params);
  if (data.result) set.result = JSON.stringify(data.result);
  if (Object.keys(set).length) await q("uia_sessions").where({ session_id: sessionId }).update(set);
}

export async function addUiaCompleted(q: Queryable, sessionId: string, stage: string): Promise<void> {
  await q.raw(
    `UPDATE uia_sessions SET completed = completed || jsonb_build_array(?::text)
     WHERE session_id = ? AND NOT completed @> jsonb_build_array(?::text)`,
    [stage, sessionId, stage],
  );
}

export async function deleteUiaSession(q: Queryable, sessionId: string): Promise<void> {
  await q("uia_sessions").where({ session_id: sessionId }).delete();
}

export async function deleteExpiredUiaSessions(q: Queryable, olderThanTs: number): Promise<void> {
  await q("uia_sessions").where("created_ts", "<", olderThanTs).delete();
}

export async function insertNonce(q: Queryable, nonce: string): Promise<void> {
  await q("registration_nonces").insert({ nonce, created_ts: Date.now() });
}

/** Consumes a nonce: true if it existed and was younger than maxAgeMs. */
export async function takeNonce(q: Queryable, nonce: string, maxAgeMs: number): Promise<boolean> {
  const rows = await q("registration_nonces").where({ nonce }).delete().returning("created_ts");
  await q("registration_nonces").where("created_ts", "<", Date.now() - maxAgeMs).delete();
  const r = rows[0] as { created_ts: number } | undefined;
  return !!r && Date.now() - r.created_ts <= maxAgeMs;
}
