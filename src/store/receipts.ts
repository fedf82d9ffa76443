// receipts table.
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Queryable } from "./db.js";
import { takePositions } from "./events.js";

export interface ReceiptRow {
  roomId: RoomId; userId: UserId; type: string; threadId: string; eventId: string; ts: number; pos: number;
}

/**
 * Records a receipt if it is ahead of the user's current one of that type and thread.
 * Returns the new stream position, or null when it would move backwards (nothing written).
 */
export async function upsertReceipt(q: Queryable, r: { roomId: RoomId; userId: UserId; type: string; threadId: string; eventId: string; eventPos: number; ts: number }): Promise<number | null> {
  const cur = await q("receipts").where({ room_id: r.roomId, user_id: r.userId, receipt_type: r.type, thread_id: r.threadId }).first("event_pos");
  if (cur && Number(cur.event_pos) >= r.eventPos) return null;
  const pos = await takePositions(q, 1);
  // RETURNING: no row when a receipt of the same kind written meanwhile is already further.
  const res = await q.raw(
    `INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, event_pos, ts, pos) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE
       SET event_id = EXCLUDED.event_id, event_pos = EXCLUDED.event_pos, ts = EXCLUDED.ts, pos = EXCLUDED.pos
       WHERE receipts.event_pos < EXCLUDED.event_pos
     RETURNING pos`,
    [r.roomId, r.userId, r.type, r.threadId, r.eventId, r.eventPos, r.ts, pos]);
  return res.rows.length ? pos : null;
}

/**
 * upsertReceipt for many receipts of one type (unthreaded) at once, in three statements: the
 * current positions, the stream positions, one insert. Returns those written, with their
 * stream positions (a receipt behind the current one is left out).
 */
export async function upsertReceipts(q: Queryable, type: string, rs: { roomId: RoomId; userId: UserId; eventId: string; eventPos: number; ts: number }[]): Promise<{ roomId: RoomId; userId: UserId; eventId: string; ts: number; pos: number }[]> {
  // One per (room, user): the furthest.
  const key = (r: { roomId: string; userId: string }) => `${r.roomId}\u0000${r.userId}`;
  const best = new Map<string, (typeof rs)[number]>();
  for (const r of rs) if ((best.get(key(r))?.eventPos ?? -1) < r.eventPos) best.set(key(r), r);
  const cur = await q.raw(
    `SELECT r.room_id, r.user_id, r.event_pos FROM receipts r
     JOIN unnest(?::text[], ?::text[]) AS k(room_id, user_id) ON r.room_id = k.room_id AND r.user_id = k.user_id
     WHERE r.receipt_type = ? AND r.thread_id = ''`, [[...best.values()].map((r) => r.roomId), [...best.values()].map((r) => r.userId), type]);
  for (const c of cur.rows as { room_id: string; user_id: string; event_pos: string }[]) {
    const k = key({ roomId: c.room_id, userId: c.user_id });
    if (Number(c.event_pos) >= best.get(k)!.eventPos) best.delete(k);
  }
  const ahead = [...best.values()];
  if (ahead.length === 0) return [];
  const first = await takePositions(q, ahead.length);
  const res = await q.raw(
    `INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, event_pos, ts, pos)
     SELECT room_id, user_id, ?, '', event_id, event_pos, ts, pos
       FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[]) AS t(room_id, user_id, event_id, event_pos, ts, pos)
     ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE
       SET event_id = EXCLUDED.event_id, event_pos = EXCLUDED.event_pos, ts = EXCLUDED.ts, pos = EXCLUDED.pos
       WHERE receipts.event_pos < EXCLUDED.event_pos
     RETURNING room_id, user_id, pos`,
    [type, ahead.map((r) => r.roomId), ahead.map((r) => r.userId), ahead.map((r) => r.eventId), ahead.map((r) => r.eventPos), ahead.map((r) => r.ts), ahead.map((_, i) => first + i)]);
  const written = new Set((res.rows as { room_id: string; user_id: string }[]).map((r) => key({ roomId: r.room_id, userId: r.user_id })));
  return ahead.map((r, i) => ({ roomId: r.roomId, userId: r.userId, eventId: r.eventId, ts: r.ts, pos: first + i })).filter((r) => written.has(key(r)));
}

/** Receipts in the given rooms changed in (after, upTo]; all current ones when after is -1. */
export async function selectReceiptsSince(q: Queryable, roomIds: RoomId[], after: number, upTo: number): Promise<ReceiptRow[]> {
  if (roomIds.length === 0) return [];
  const res = await q.raw(
    `SELECT room_id, user_id, receipt_type, thread_id, event_id, ts, pos FROM receipts
     WHERE room_id = ANY(?::text[]) AND pos > ? AND pos <= ?`, [roomIds, after, upTo]);
  return res.rows.map(rowOf);
}

/** Every receipt that changed in (after, upTo], whole rows, in position order (to follow other processes' writes). */
export async function selectStreamReceipts(q: Queryable, after: number, upTo: number): Promise<ReceiptRow[]> {
  const res = await q.raw(`SELECT room_id, user_id, receipt_type, thread_id, event_id, ts, pos FROM receipts WHERE pos > ? AND pos <= ? ORDER BY pos`, [after, upTo]);
  return res.rows.map(rowOf);
}

const rowOf = (r: { room_id: RoomId; user_id: UserId; receipt_type: string; thread_id: string; event_id: string; ts: string | number; pos: string | number }): ReceiptRow => ({
  roomId: r.room_id, userId: r.user_id, type: r.receipt_type, threadId: r.thread_id, eventId: r.event_id, ts: Number(r.ts), pos: Number(r.pos),
});

/**
 * Per room and thread, how far the user has read: the furthest of their m.read / m.read.private
 * receipts; thread "" is the unthreaded receipt (it covers every thread), "main" the main timeline.
 */
export async function selectReadPositions(q: Queryable, userId: UserId, roomIds: RoomId[]): Promise<Map<RoomId, Map<string, number>>> {
  const out = new Map<RoomId, Map<string, number>>();
  if (roomIds.length === 0) return out;
  const res = await q.raw(
    `SELECT room_id, thread_id, max(event_pos) AS pos FROM receipts
     WHERE user_id = ? AND room_id = ANY(?::text[]) AND receipt_type IN ('m.read', 'm.read.private')
     GROUP BY room_id, thread_id`, [userId, roomIds]);
  for (const r of res.rows as { room_id: RoomId; thread_id: string; pos: string }[]) {
    let m = out.get(r.room_id);
    if (!m) out.set(r.room_id, (m = new Map()));
    m.set(r.thread_id, Number(r.pos));
  }
  return out;
}

/** Every receipt changed in (after, upTo], whole rows, in position order (application services). */
export async function selectStreamReceiptRows(q: Queryable, after: number, upTo: number, limit: number): Promise<ReceiptRow[]> {
  const res = await q.raw(
    `SELECT room_id, user_id, receipt_type, thread_id, event_id, ts, pos FROM receipts WHERE pos > ? AND pos <= ? ORDER BY pos LIMIT ?`, [after, upTo, limit]);
  return res.rows.map(rowOf);
}
