// reports and openid_tokens.
import { createHash } from "node:crypto";
import type { Queryable } from "./db.js";

export interface ReportRow { reporter: string; roomId: string | null; eventId: string | null; targetUserId: string | null; reason: string | null; score: number | null }

export async function insertReport(q: Queryable, r: ReportRow): Promise<void> {
  await q.raw(`INSERT INTO reports (reporter, room_id, event_id, target_user_id, reason, score, created_ts) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    [r.reporter, r.roomId, r.eventId, r.targetUserId, r.reason, r.score, Date.now()]);
}

const hash = (t: string) => createHash("sha256").update(t).digest();

export async function insertOpenIdToken(q: Queryable, token: string, userId: string, expiresTs: number): Promise<void> {
  await q.raw(`INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES (?, ?, ?)`, [hash(token), userId, expiresTs]);
}

export async function selectOpenIdUser(q: Queryable, token: string): Promise<string | null> {
  const r = await q.raw(`SELECT user_id FROM openid_tokens WHERE token_hash = ? AND expires_ts > ?`, [hash(token), Date.now()]);
  return r.rows[0]?.user_id ?? null;
}
