// Membership reads over current_state and events: which rooms a user is in, and who came and
// went in a stretch of the stream (sync, device lists).
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Queryable } from "./db.js";

/** Rooms in which the user has a membership, with it. */
export async function selectUserMemberships(q: Queryable, userId: UserId): Promise<{ roomId: RoomId; membership: string; pos: number }[]> {
  const rows = await q("current_state").where({ type: "m.room.member", state_key: userId }).select("room_id", "membership", "pos");
  return rows.map((r: { room_id: RoomId; membership: string; pos: number }) => ({ roomId: r.room_id, membership: r.membership, pos: Number(r.pos) }));
}

/** Membership changes in a position range for the given rooms (sync: who joined or left). */
export async function selectMembershipChanges(q: Queryable, userId: UserId, after: number, upTo: number): Promise<{ roomId: RoomId; pos: number; membership: string; prev: string }[]> {
  const res = await q.raw(
    `SELECT room_id, pos, membership, coalesce(json->'unsigned'->'prev_content'->>'membership', 'leave') AS prev
     FROM events WHERE type = 'm.room.member' AND state_key = ? AND pos > ? AND pos <= ? ORDER BY pos`,
    [userId, after, upTo]);
  return res.rows.map((r: { room_id: RoomId; pos: number; membership: string; prev: string }) => ({ roomId: r.room_id, pos: Number(r.pos), membership: r.membership, prev: r.prev }));
}

/** Membership changes (joins, leaves, bans…) of anyone in these rooms in (after, upTo], oldest first. */
export async function selectMemberChangesInRooms(q: Queryable, roomIds: RoomId[], after: number, upTo: number): Promise<{ roomId: RoomId; userId: string; membership: string; prev: string }[]> {
  if (roomIds.length === 0) return [];
  const res = await q.raw(
    `SELECT room_id, state_key, membership, coalesce(json->'unsigned'->'prev_content'->>'membership', 'leave') AS prev FROM events
     WHERE room_id = ANY(?::text[]) AND type = 'm.room.member' AND pos > ? AND pos <= ? ORDER BY pos`,
    [roomIds, after, upTo]);
  return res.rows.map((r: { room_id: RoomId; state_key: string; membership: string; prev: string }) => ({ roomId: r.room_id, userId: r.state_key, membership: r.membership, prev: r.prev }));
}

/** The joined and invited members of rooms, from the current state (no event is read). */
export async function selectInterestedMembers(q: Queryable, roomIds: RoomId[]): Promise<{ roomId: RoomId; userId: UserId; membership: string }[]> {
  if (roomIds.length === 0) return [];
  const res = await q.raw(
    `SELECT room_id, state_key, membership FROM current_state
     WHERE room_id = ANY(?::text[]) AND type = 'm.room.member' AND membership IN ('join', 'invite')`, [roomIds]);
  return res.rows.map((r: { room_id: RoomId; state_key: UserId; membership: string }) => ({ roomId: r.room_id, userId: r.state_key, membership: r.membership }));
}
