// What a room list needs of each room, for many rooms in one statement (sliding sync):
// the last event, the last event of a bumping type, encryption, the room type, and the
// user's own membership event's sender (kicked or left by themselves; who invited).
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Queryable } from "./db.js";

export interface RoomFactsRow { roomId: RoomId; lastPos: number; bumpPos: number | null; encrypted: boolean; roomType: string | null; ownSender: string | null }

export async function selectRoomFacts(q: Queryable, roomIds: RoomId[], userId: UserId, bumpTypes: string[]): Promise<RoomFactsRow[]> {
  if (roomIds.length === 0) return [];
  const res = await q.raw(
    `SELECT r.room_id,
       coalesce((SELECT max(pos) FROM events e WHERE e.room_id = r.room_id), 0) AS last_pos,
       (SELECT pos FROM events e WHERE e.room_id = r.room_id AND e.type = ANY(?::text[]) ORDER BY pos DESC LIMIT 1) AS bump_pos,
       EXISTS (SELECT 1 FROM current_state c WHERE c.room_id = r.room_id AND c.type = 'm.room.encryption' AND c.state_key = '') AS encrypted,
       (SELECT e.json->'content'->>'type' FROM current_state c JOIN events e ON e.event_id = c.event_id
         WHERE c.room_id = r.room_id AND c.type = 'm.room.create' AND c.state_key = '') AS room_type,
       (SELECT e.sender FROM current_state c JOIN events e ON e.event_id = c.event_id
         WHERE c.room_id = r.room_id AND c.type = 'm.room.member' AND c.state_key = ?) AS own_sender
     FROM unnest(?::text[]) AS r(room_id)`,
    [bumpTypes, userId, roomIds]);
  return res.rows.map((r: { room_id: RoomId; last_pos: string | number; bump_pos: string | number | null; encrypted: boolean; room_type: string | null; own_sender: string | null }) => ({
    roomId: r.room_id, lastPos: Number(r.last_pos), bumpPos: r.bump_pos === null ? null : Number(r.bump_pos),
    encrypted: r.encrypted, roomType: r.room_type, ownSender: r.own_sender,
  }));
}
