// appservice_state and appservice_txns: the durable delivery queue.
import type { Db, Queryable } from "./db.js";

/** A transaction: its body as the exact text sent (every retry sends the same bytes), and its event count. */
export interface PendingTxn { txnId: number; body: string; events: number }

/** The service's position, made at the current stream position on first sight (no history is replayed). */
export async function ensureState(q: Queryable, asId: string, currentPos: number): Promise<void> {
  await q.raw(`INSERT INTO appservice_state (as_id, stream_pos) VALUES (?, ?) ON CONFLICT (as_id) DO NOTHING`, [asId, currentPos]);
}

/** Takes (or keeps) the right to send for this service until `until`; false if another process holds it. */
export async function takeLease(q: Queryable, asId: string, owner: string, now: number, until: number): Promise<boolean> {
  const r = await q.raw(
    `UPDATE appservice_state SET lease_owner = ?, lease_until = ? WHERE as_id = ? AND (lease_owner = ? OR lease_until < ?) RETURNING as_id`,
    [owner, until, asId, owner, now]);
  return r.rows.length > 0;
}

export async function selectLeaseOwner(q: Queryable, asId: string): Promise<string | null> {
  const r = await q.raw(`SELECT lease_owner FROM appservice_state WHERE as_id = ?`, [asId]);
  return r.rows[0]?.lease_owner ?? null;
}

/** Takes the lease from `from` (known gone) whatever its expiry. */
export async function takeLeaseFrom(q: Queryable, asId: string, from: string, owner: string, until: number): Promise<boolean> {
  const r = await q.raw(`UPDATE appservice_state SET lease_owner = ?, lease_until = ? WHERE as_id = ? AND lease_owner = ? RETURNING as_id`, [owner, until, asId, from]);
  return r.rows.length > 0;
}

export async function selectState(q: Queryable, asId: string): Promise<{ streamPos: number; nextTxn: number }> {
  const r = await q.raw(`SELECT stream_pos, next_txn FROM appservice_state WHERE as_id = ?`, [asId]);
  return { streamPos: Number(r.rows[0].stream_pos), nextTxn: Number(r.rows[0].next_txn) };
}

export async function selectPending(q: Queryable, asId: string): Promise<PendingTxn | null> {
  const r = await q.raw(`SELECT txn_id, body FROM appservice_txns WHERE as_id = ? ORDER BY txn_id LIMIT 1`, [asId]);
  if (!r.rows[0]) return null;
  const body = r.rows[0].body as string;
  return { txnId: Number(r.rows[0].txn_id), body, events: (JSON.parse(body) as { events: unknown[] }).events.length };
}

export async function countPending(q: Queryable, asId: string): Promise<number> {
  const r = await q.raw(`SELECT count(*)::int AS n FROM appservice_txns WHERE as_id = ?`, [asId]);
  return Number(r.rows[0].n);
}

/** Moves the position (nothing of interest in between). */
export async function advance(q: Queryable, asId: string, pos: number): Promise<void> {
  await q.raw(`UPDATE appservice_state SET stream_pos = greatest(stream_pos, ?) WHERE as_id = ?`, [pos, asId]);
}

/** Records the next transaction and moves the position past its events, atomically. */
export async function enqueue(db: Db, asId: string, content: Record<string, unknown> & { events: unknown[] }, pos: number): Promise<PendingTxn> {
  const body = JSON.stringify(content);
  return db.transaction(async (trx) => {
    const r = await trx.raw(`UPDATE appservice_state SET stream_pos = ?, next_txn = next_txn + 1 WHERE as_id = ? RETURNING next_txn - 1 AS txn`, [pos, asId]);
    const txnId = Number(r.rows[0].txn);
    await trx.raw(`INSERT INTO appservice_txns (as_id, txn_id, body, created_ts) VALUES (?, ?, ?, ?)`, [asId, txnId, body, Date.now()]);
    return { txnId, body, events: content.events.length };
  });
}

export async function deleteTxn(q: Queryable, asId: string, txnId: number): Promise<void> {
  await q.raw(`DELETE FROM appservice_txns WHERE as_id = ? AND txn_id = ?`, [asId, txnId]);
}

/** Gives up the right to send (a clean stop), so another process can take over at once. */
export async function releaseLease(q: Queryable, asId: string, owner: string): Promise<void> {
  await q.raw(`UPDATE appservice_state SET lease_until = 0 WHERE as_id = ? AND lease_owner = ?`, [asId, owner]);
}
