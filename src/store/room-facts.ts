// What a room list needs of each room, for many rooms in one statement (sliding sync): the
// last event, and on request encryption, the room type, and the sender of the user's own
// membership event (kicked or left by themselves; who invited). Each part is one index
// lookup per room; parts nobody needs are not read.
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Queryable } from "./db.js";

export interface RoomFactsRow { roomId: RoomId; lastPos: number; encrypted?: boolean; roomType?: string | null; ownSender?: string | null }
export interface FactParts { encrypted: boolean; type: boolean; sender: boolean }

export async function selectRoomFacts(q: Queryable, roomIds: RoomId[], userId: UserId, parts: FactParts): Promise<RoomFactsRow[]> {
  if (roomIds.length === 0) return [];
  const cols = [`coalesce((SELECT max(pos) FROM events e WHERE e.room_id = r.room_id), 0) AS last_pos`];
  if (parts.encrypted) cols.push(`EXISTS (SELECT 1 FROM current_state c WHERE c.room_id = r.room_id AND c.type = 'm.room.encryption' AND c.state_key = '') AS encrypted`);
  if (parts.type) {
    cols.push(`(SELECT e.json->'content'->>'type' FROM current_state c JOIN events e ON e.event_id = c.event_id
      WHERE c.room_id = r.room_id AND c.type = 'm.room.create' AND c.state_key = '') AS room_type`);
  }
  if (parts.sender) {
    cols.push(`(SELECT e.sender FROM current_state c JOIN events e ON e.event_id = c.event_id
      WHERE c.room_id = r.room_id AND c.type = 'm.room.member' AND c.state_key = ?) AS own_sender`);
  }
  const res = await q.raw(`SELECT r.room_id, ${cols.join(", ")} FROM unnest(?::text[]) AS r(room_id)`, parts.sender ? [userId, roomIds] : [roomIds]);
  return res.rows.map((r: { room_id: RoomId; last_pos: string | number; encrypted?: boolean; room_type?: string | null; own_sender?: string | null }) => ({
    roomId: r.room_id, lastPos: Number(r.last_pos),
    ...(parts.encrypted ? { encrypted: r.encrypted } : {}),
    ...(parts.type ? { roomType: r.room_type ?? null } : {}),
    ...(parts.sender ? { ownSender: r.own_sender ?? null } : {}),
  }));
}
