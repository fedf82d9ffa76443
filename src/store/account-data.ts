// account_data and filters tables.
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Queryable } from "./db.js";
import { takePositions } from "./events.js";

/** Writes account data with a new stream position (sync shows it once). Returns the position. */
export async function upsertAccountData(q: Queryable, userId: UserId, roomId: RoomId | "", type: string, content: Record<string, unknown>): Promise<number> {
  const pos = await takePositions(q, 1);
  await q.raw(
    `INSERT INTO account_data (user_id, room_id, type, content, pos) VALUES (?, ?, ?, ?::jsonb, ?)
     ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = EXCLUDED.content, pos = EXCLUDED.pos`,
    [userId, roomId, type, JSON.stringify(content), pos]);
  return pos;
}

export async function selectAccountData(q: Queryable, userId: UserId, roomId: RoomId | "", type: string): Promise<Record<string, unknown> | null> {
  const r = await q("account_data").where({ user_id: userId, room_id: roomId, type }).first("content");
  return r ? (r.content as Record<string, unknown>) : null;
}

export interface AccountDataRow { roomId: RoomId | ""; type: string; content: Record<string, unknown>; pos: number }

/** Account data changed in (after, upTo]; all of it when after is -1. */
export async function selectAccountDataSince(q: Queryable, userId: UserId, after: number, upTo: number): Promise<AccountDataRow[]> {
  const rows = await q("account_data").where({ user_id: userId }).andWhere("pos", ">", after).andWhere("pos", "<=", upTo)
    .select("room_id", "type", "content", "pos");
  return rows.map((r: { room_id: RoomId | ""; type: string; content: Record<string, unknown>; pos: number }) => ({ roomId: r.room_id, type: r.type, content: r.content, pos: Number(r.pos) }));
}

export async function insertFilter(q: Queryable, userId: UserId, json: unknown): Promise<string> {
  const [row] = await q("filters").insert({ user_id: userId, json: JSON.stringify(json) }).returning("filter_id");
  return String((row as { filter_id: number }).filter_id);
}

export async function selectFilter(q: Queryable, userId: UserId, filterId: string): Promise<unknown | null> {
  if (!/^\d{1,18}$/.test(filterId)) return null;
  const r = await q("filters").where({ user_id: userId, filter_id: filterId }).first("json");
  return r ? r.json : null;
}

/** Whose account data changed in (after, upTo], in position order (to follow other processes' writes). */
export async function selectStreamAccountData(q: Queryable, after: number, upTo: number): Promise<{ userId: UserId; type: string; pos: number }[]> {
  const res = await q.raw(`SELECT user_id, type, pos FROM account_data WHERE pos > ? AND pos <= ? ORDER BY pos`, [after, upTo]);
  return res.rows.map((r: { user_id: UserId; type: string; pos: string }) => ({ userId: r.user_id, type: r.type, pos: Number(r.pos) }));
}

/** One type of room account data across all of a user's rooms (m.tag, for sliding sync's list filters). */
export async function selectRoomAccountDataOfType(q: Queryable, userId: UserId, type: string): Promise<Map<RoomId, Record<string, unknown>>> {
  const rows = await q("account_data").where({ user_id: userId, type }).andWhereNot("room_id", "").select("room_id", "content");
  return new Map(rows.map((r: { room_id: RoomId; content: Record<string, unknown> }) => [r.room_id, r.content]));
}

/** All the account data of some rooms (a room a sliding sync connection sees for the first time). */
export async function selectAccountDataOfRooms(q: Queryable, userId: UserId, roomIds: RoomId[], upTo: number): Promise<AccountDataRow[]> {
  if (roomIds.length === 0) return [];
  const rows = await q("account_data").where({ user_id: userId }).whereIn("room_id", roomIds).andWhere("pos", "<=", upTo)
    .select("room_id", "type", "content", "pos");
  return rows.map((r: { room_id: RoomId; type: string; content: Record<string, unknown>; pos: number }) => ({ roomId: r.room_id, type: r.type, content: r.content, pos: Number(r.pos) }));
}
