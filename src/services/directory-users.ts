// The user directory and the space hierarchy. https://spec.matrix.org/latest/client-server-api/#user-directory
// https://spec.matrix.org/latest/client-server-api/#spaces
import { forbidden, notFound } from "../http/errors.js";
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import { containsPattern, type Db } from "../store/db.js";
import type { RoomState, RoomStateCache } from "./room-state.js";

export class UserDirectoryService {
  constructor(private readonly db: Db, private readonly cache: RoomStateCache, private readonly searchAll = false) {}

  /**
   * POST /user_directory/search: users who share a room with the searcher or are in a public
   * room (every user with user_directory.search_all_users), matched on their user ID or
   * display name (case-insensitive).
   */
  async search(userId: UserId, term: string, limit: number): Promise<{ results: Record<string, unknown>[]; limited: boolean }> {
    const like = containsPattern(term.toLowerCase());
    const r = await this.db.raw(this.searchAll
      ? `WITH candidates AS (SELECT user_id FROM users WHERE NOT deactivated AND NOT is_guest AND ?::text IS NOT NULL)
       SELECT c.user_id, dn.value #>> '{}' AS display_name, av.value #>> '{}' AS avatar_url
       FROM candidates c
       LEFT JOIN profile_fields dn ON dn.user_id = c.user_id AND dn.key = 'displayname'
       LEFT JOIN profile_fields av ON av.user_id = c.user_id AND av.key = 'avatar_url'
       WHERE lower(c.user_id) LIKE ? OR lower(dn.value #>> '{}') LIKE ?
       ORDER BY (dn.value IS NULL), lower(coalesce(dn.value #>> '{}', c.user_id)) LIMIT ?`
      : `WITH rooms_seen AS (
         SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = ? AND membership = 'join'
         UNION SELECT room_id FROM rooms WHERE is_public
       ), candidates AS (
         SELECT DISTINCT cs.state_key AS user_id FROM current_state cs JOIN rooms_seen USING (room_id)
         WHERE cs.type = 'm.room.member' AND cs.membership = 'join'
       )
       SELECT c.user_id, dn.value #>> '{}' AS display_name, av.value #>> '{}' AS avatar_url
       FROM candidates c
       LEFT JOIN profile_fields dn ON dn.user_id = c.user_id AND dn.key = 'displayname'
       LEFT JOIN profile_fields av ON av.user_id = c.user_id AND av.key = 'avatar_url'
       WHERE lower(c.user_id) LIKE ? OR lower(dn.value #>> '{}') LIKE ?
       ORDER BY (dn.value IS NULL), lower(coalesce(dn.value #>> '{}', c.user_id)) LIMIT ?`,
      [userId, like, like, limit + 1]);
    const rows = r.rows as { user_id: string; display_name: string | null; avatar_url: string | null }[];
    return {
      results: rows.slice(0, limit).map((x) => ({ user_id: x.user_id, ...(x.display_name ? { display_name: x.display_name } : {}), ...(x.avatar_url ? { avatar_url: x.avatar_url } : {}) })),
      limited: rows.length > limit,
    };
  }

  /** GET /rooms/{roomId}/hierarchy: the room and, breadth first, the children it lists (m.space.child). */
  async hierarchy(userId: UserId, roomId: RoomId, maxDepth: number, limit: number, suggestedOnly: boolean): Promise<Record<string, unknown>> {
    const root = await this.cache.get(roomId);
    if (!root || !this.canPeek(root, userId)) throw forbidden("You cannot see this room");
    const out: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    let level: RoomId[] = [roomId];
    for (let depth = 0; level.length && out.length < limit; depth++) {
      const next: RoomId[] = [];
      for (const id of level) {
        if (seen.has(id) || out.length >= limit) continue;
        seen.add(id);
        const room = id === roomId ? root : await this.cache.get(id);
        if (!room || (id !== roomId && !this.canPeek(room, userId))) continue;
        const children = [...room.state.values()].map((e) => e.event)
          .filter((e) => e.type === "m.space.child" && Array.isArray(e.content.via) && (!suggestedOnly || e.content.suggested === true));
        out.push(summary(room, children));
        if (depth < maxDepth) next.push(...children.map((c) => c.state_key as RoomId));
      }
      level = next;
    }
    return { rooms: out };
  }

  /**
   * GET /room_summary/{roomIdOrAlias} (v1.15): what the hierarchy says of one room, and the
   * caller's membership. Anyone may see a room they could peek into or ask to join; without a
   * token only a public, knockable or world-readable room (the spec's condition); others are
   * 404, the same answer as a room that does not exist.
   */
  async roomSummary(userId: UserId | null, roomId: RoomId): Promise<Record<string, unknown>> {
    const room = await this.cache.get(roomId);
    const visible = room && (userId ? await this.canSee(room, userId) : openToAnyone(room));
    if (!room || !visible) throw notFound("Room not found");
    const { children_state: _c, ...rest } = summary(room, []);
    // Authenticated: the caller's membership, "leave" when they have none (as the reference answers).
    return { ...rest, ...(userId ? { membership: room.membership(userId) ?? "leave" } : {}) };
  }

  private canPeek(room: RoomState, userId: UserId): boolean {
    const m = room.membership(userId);
    return m === "join" || m === "invite" || openToAnyone(room);
  }

  /** canPeek, or a knock or a restricted join is open to the user (they are in a room it allows). */
  private async canSee(room: RoomState, userId: UserId): Promise<boolean> {
    if (this.canPeek(room, userId) || room.membership(userId) === "knock") return true;
    for (const id of allowedRoomIds(room)) if ((await this.cache.get(id as RoomId))?.membership(userId) === "join") return true;
    return false;
  }
}

/** Join rule public, knock or knock_restricted, or world-readable history. */
function openToAnyone(room: RoomState): boolean {
  const jr = room.get("m.room.join_rules", "")?.content.join_rule;
  const hv = room.get("m.room.history_visibility", "")?.content.history_visibility;
  return jr === "public" || jr === "knock" || jr === "knock_restricted" || hv === "world_readable";
}

/** The rooms a restricted join rule lets members of in (`allow` entries of type m.room_membership). */
function allowedRoomIds(room: RoomState): string[] {
  const c = room.get("m.room.join_rules", "")?.content;
  if (c?.join_rule !== "restricted" && c?.join_rule !== "knock_restricted") return [];
  const allow = Array.isArray(c.allow) ? c.allow as { type?: unknown; room_id?: unknown }[] : [];
  return allow.filter((a) => a?.type === "m.room_membership" && typeof a.room_id === "string").map((a) => a.room_id as string);
}

function summary(room: RoomState, children: ClientEvent[]): Record<string, unknown> {
  const s = (t: string, k: string) => room.get(t, "")?.content[k];
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  return {
    room_id: room.roomId,
    ...(str(s("m.room.name", "name")) ? { name: s("m.room.name", "name") } : {}),
    ...(str(s("m.room.topic", "topic")) ? { topic: s("m.room.topic", "topic") } : {}),
    ...(str(s("m.room.canonical_alias", "alias")) ? { canonical_alias: s("m.room.canonical_alias", "alias") } : {}),
    ...(str(s("m.room.avatar", "url")) ? { avatar_url: s("m.room.avatar", "url") } : {}),
    ...(str(s("m.room.create", "type")) ? { room_type: s("m.room.create", "type") } : {}),
    num_joined_members: room.joined.size,
    join_rule: str(s("m.room.join_rules", "join_rule")) ?? "invite",
    world_readable: s("m.room.history_visibility", "history_visibility") === "world_readable",
    guest_can_join: s("m.room.guest_access", "guest_access") === "can_join",
    ...(str(s("m.room.encryption", "algorithm")) ? { encryption: s("m.room.encryption", "algorithm") } : {}),
    room_version: room.version,
    ...(allowedRoomIds(room).length ? { allowed_room_ids: allowedRoomIds(room) } : {}),
    children_state: children.map((c) => ({ type: c.type, state_key: c.state_key, content: c.content, sender: c.sender, origin_server_ts: c.origin_server_ts })),
  };
}
