// registration_tokens: the tokens an operator hands out for registration, and their uses.
import type { Queryable } from "./db.js";

export interface RegistrationToken { token: string; uses_allowed: number | null; pending: number; completed: number; expiry_time: number | null }

const COLUMNS = ["token", "uses_allowed", "pending", "completed", "expiry_time"];
const shape = (r: Record<string, unknown>): RegistrationToken => ({
  token: String(r.token), uses_allowed: r.uses_allowed === null ? null : Number(r.uses_allowed),
  pending: Number(r.pending), completed: Number(r.completed), expiry_time: r.expiry_time === null ? null : Number(r.expiry_time),
});
/** Usable now: not expired, and uses left counting the pending ones. */
const VALID = "(expiry_time IS NULL OR expiry_time > ?) AND (uses_allowed IS NULL OR pending + completed < uses_allowed)";

export async function listTokens(q: Queryable, valid: boolean | null, now: number): Promise<RegistrationToken[]> {
  const rows = await q("registration_tokens").select(COLUMNS).orderBy("created_ts").modify((b) => {
    if (valid === true) b.whereRaw(VALID, [now]);
    if (valid === false) b.whereRaw(`NOT (${VALID})`, [now]);
  });
  return rows.map(shape);
}

export async function selectToken(q: Queryable, token: string): Promise<RegistrationToken | null> {
  const r = await q("registration_tokens").select(COLUMNS).where({ token }).first();
  return r ? shape(r) : null;
}

/** false: the token exists already. */
export async function insertToken(q: Queryable, t: { token: string; uses_allowed: number | null; expiry_time: number | null }): Promise<boolean> {
  const r = await q("registration_tokens").insert({ ...t, created_ts: Date.now() }).onConflict("token").ignore().returning("token");
  return r.length > 0;
}

export async function updateToken(q: Queryable, token: string, set: { uses_allowed?: number | null; expiry_time?: number | null }): Promise<RegistrationToken | null> {
  const rows = Object.keys(set).length
    ? await q("registration_tokens").where({ token }).update(set).returning(COLUMNS)
    : await q("registration_tokens").where({ token }).select(COLUMNS);
  return rows[0] ? shape(rows[0]) : null;
}

export async function deleteToken(q: Queryable, token: string): Promise<boolean> {
  return (await q("registration_tokens").where({ token }).delete()) > 0;
}

export async function isValid(q: Queryable, token: string, now: number): Promise<boolean> {
  const r = await q("registration_tokens").where({ token }).whereRaw(VALID, [now]).first("token");
  return !!r;
}

/**
 * Takes a pending use of `token` for a UIA session, if it is valid and the session holds none
 * yet (one statement, so two sessions cannot both take a token's last use).
 */
export async function reserve(q: Queryable, token: string, sessionId: string, now: number): Promise<boolean> {
  const held = await q("uia_sessions").where({ session_id: sessionId }).first("registration_token");
  if (held?.registration_token) return held.registration_token === token;
  const r = await q.raw(
    `WITH t AS (UPDATE registration_tokens SET pending = pending + 1 WHERE token = ? AND ${VALID} RETURNING token)
     UPDATE uia_sessions SET registration_token = t.token FROM t WHERE session_id = ? RETURNING session_id`,
    [token, now, sessionId],
  );
  return r.rows.length > 0;
}

/** The session's registration completed: its pending use becomes a completed one. */
export async function complete(q: Queryable, sessionId: string): Promise<void> {
  await q.raw(
    `WITH s AS (UPDATE uia_sessions u SET registration_token = NULL
                FROM (SELECT session_id, registration_token FROM uia_sessions WHERE session_id = ? FOR UPDATE) old
                WHERE u.session_id = old.session_id AND old.registration_token IS NOT NULL
                RETURNING old.registration_token AS token)
     UPDATE registration_tokens t SET pending = GREATEST(pending - 1, 0), completed = completed + 1 FROM s WHERE t.token = s.token`,
    [sessionId],
  );
}

/** Sessions about to be forgotten give their pending uses back. */
export async function releaseExpired(q: Queryable, olderThanTs: number): Promise<void> {
  await q.raw(
    `UPDATE registration_tokens t SET pending = GREATEST(t.pending - n.c, 0)
     FROM (SELECT registration_token AS token, count(*)::int AS c FROM uia_sessions
           WHERE created_ts < ? AND registration_token IS NOT NULL GROUP BY registration_token) n
     WHERE t.token = n.token`,
    [olderThanTs],
  );
}
