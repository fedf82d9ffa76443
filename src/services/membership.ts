// Room membership: join, leave, invite, kick, ban, unban, forget.
// https://spec.matrix.org/latest/client-server-api/#room-membership
import { MatrixError, forbidden, notFound } from "../http/errors.js";
import { parseRoomAlias, parseRoomId, type RoomId, type UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as directory from "../store/directory.js";
import { isBlocked } from "../store/admin-rooms.js";
import * as users from "../store/users.js";
import type { EventWriter, Written } from "./event-writer.js";
import type { RoomState } from "./room-state.js";
import type { RoomService } from "./rooms.js";
import { roomVersion } from "../matrix/room-versions.js";
import { userLevel } from "../matrix/power-levels.js";

export class MembershipService {
  /** Asks an application service about an alias nobody has made yet (it may create the room). */
  queryUnknownAlias: (alias: string) => Promise<boolean> = async () => false;
  /** After a user's join (not a repeated one): what follows them into a room (upgrades.ts). */
  joinedRoom: (userId: UserId, room: RoomState) => Promise<void> = async () => undefined;

  constructor(private readonly db: Db, private readonly rooms: RoomService, private readonly writer: EventWriter) {}

  /** Resolves "!room:server" or "#alias:server" to a room ID (404 M_NOT_FOUND for an unknown alias). */
  async resolveRoom(roomIdOrAlias: string): Promise<RoomId> {
    if (roomIdOrAlias.startsWith("#")) {
      const alias = parseRoomAlias(roomIdOrAlias);
      let found = await directory.selectAlias(this.db, alias);
      if (!found && (await this.queryUnknownAlias(alias))) found = await directory.selectAlias(this.db, alias);
      if (!found) throw notFound(`Room alias ${alias} not found`);
      return found.roomId;
    }
    return parseRoomId(roomIdOrAlias);
  }

  async join(userId: UserId, roomId: RoomId, reason?: string, ts?: number, extra: Record<string, unknown> = {}, guest = false): Promise<RoomId> {
    await this.refuseBlocked(roomId);
    const room = await this.rooms.room(roomId);
    // Guests join only rooms that let them (spec: guest access).
    if (guest && room.get("m.room.guest_access", "")?.content.guest_access !== "can_join") {
      throw new MatrixError(403, "M_FORBIDDEN", "Guests may not join this room");
    }
    // Only this server says who authorised a restricted join (never the joining client).
    const { join_authorised_via_users_server: _claimed, ...own } = extra;
    const content = await this.rooms.memberContent(userId, "join", { ...own, ...(reason !== undefined ? { reason } : {}) });
    const via = await this.restrictedJoinVia(userId, room);
    if (via) content.join_authorised_via_users_server = via;
    // Joining again changes nothing unless the profile changed (or the client adds content).
    const cur = room.get("m.room.member", userId);
    if (cur?.content.membership === "join" && cur.content.displayname === content.displayname && cur.content.avatar_url === content.avatar_url && Object.keys(own).length === 0) {
      return roomId;
    }
    await this.writer.send(roomId, { type: "m.room.member", stateKey: userId, content, sender: userId, ts });
    await directory.deleteForgotten(this.db, userId, roomId);
    if (cur?.content.membership !== "join") await this.joinedRoom(userId, room);
    return roomId;
  }

  /**
   * A join the room's restricted join rule allows (room versions 8 on; spec: restricted rooms):
   * the user is in one of the rooms its `allow` names, and a member who may invite vouches for
   * the join (`join_authorised_via_users_server`). Null when the rule does not apply (not
   * restricted, or the user is invited or joined already) or no condition holds; the auth
   * rules then decide.
   */
  private async restrictedJoinVia(userId: UserId, room: RoomState): Promise<UserId | null> {
    const v = roomVersion(room.version);
    const rules = room.get("m.room.join_rules", "")?.content;
    const rule = rules?.join_rule;
    if (!((v.restrictedJoins && rule === "restricted") || (v.knockRestricted && rule === "knock_restricted"))) return null;
    const mine = room.membership(userId);
    if (mine === "join" || mine === "invite") return null;
    const allow = Array.isArray(rules?.allow) ? rules.allow as { type?: unknown; room_id?: unknown }[] : [];
    let allowed = false;
    for (const a of allow) {
      if (a?.type !== "m.room_membership" || typeof a.room_id !== "string") continue;
      const other = await this.rooms.cachedRoom(a.room_id as RoomId);
      if (other?.membership(userId) === "join") { allowed = true; break; }
    }
    if (!allowed) return null;
    const pl = room.powerLevels();
    for (const u of room.joined) if (userLevel(pl, u) >= pl.invite) return u;
    return null;
  }

  /**
   * Guest access revoked (m.room.guest_access no longer can_join): the guests in the room leave
   * it (spec: guest access; as the reference does, each guest's own leave event).
   */
  async guestAccessChanged(room: RoomState, written: Written[]): Promise<void> {
    const revoked = written.some((w) => w.event.type === "m.room.guest_access" && w.event.state_key === "" && w.event.content.guest_access !== "can_join");
    if (!revoked || room.get("m.room.guest_access", "")?.content.guest_access === "can_join") return;
    for (const guest of await users.selectGuests(this.db, [...room.joined])) {
      await this.writer.send(room.roomId, { type: "m.room.member", stateKey: guest, content: { membership: "leave" }, sender: guest }).catch(() => undefined);
    }
  }

  /** POST /knock/{roomIdOrAlias}: ask to be let in (join rule knock or knock_restricted). */
  async knock(userId: UserId, roomId: RoomId, reason?: string): Promise<RoomId> {
    await this.refuseBlocked(roomId);
    const room = await this.rooms.room(roomId);
    const m = room.membership(userId);
    if (m === "join") throw forbidden("You are already in the room");
    if (m === "ban") throw forbidden("You are banned from this room");
    const content = await this.rooms.memberContent(userId, "knock", reason !== undefined ? { reason } : {});
    await this.writer.send(roomId, { type: "m.room.member", stateKey: userId, content, sender: userId });
    return roomId;
  }

  /** A room an admin blocked (admin API) takes no one in. */
  private async refuseBlocked(roomId: RoomId): Promise<void> {
    if (await isBlocked(this.db, roomId)) throw new MatrixError(403, "M_FORBIDDEN", "This room has been blocked on this server");
  }

  async leave(userId: UserId, roomId: RoomId, reason?: string, ts?: number): Promise<void> {
    const room = await this.rooms.room(roomId);
    const m = room.membership(userId);
    if (m === "leave") {
      // Leaving a room one is not in: nothing to do for a room one has left (idempotent);
      // a room one never knew of is refused.
      if (room.get("m.room.member", userId)) return;
      throw forbidden("You are not in this room");
    }
    await this.writer.send(roomId, { type: "m.room.member", stateKey: userId, content: { membership: "leave", ...(reason !== undefined ? { reason } : {}) }, sender: userId, ts });
  }

  async invite(sender: UserId, roomId: RoomId, target: UserId, reason?: string, ts?: number): Promise<void> {
    await this.rooms.room(roomId);
    await this.rooms.ensureLocalUserExists(target);
    const content = await this.rooms.memberContent(target, "invite", reason !== undefined ? { reason } : {});
    await this.writer.send(roomId, { type: "m.room.member", stateKey: target, content, sender, ts });
  }

  async kick(sender: UserId, roomId: RoomId, target: UserId, reason?: string, ts?: number): Promise<void> {
    const room = await this.rooms.room(roomId);
    if (room.membership(target) === "leave" || room.membership(target) === "ban") {
      throw forbidden(`${target} is not in the room`);
    }
    await this.writer.send(roomId, { type: "m.room.member", stateKey: target, content: { membership: "leave", ...(reason !== undefined ? { reason } : {}) }, sender, ts });
  }

  async ban(sender: UserId, roomId: RoomId, target: UserId, reason?: string, ts?: number): Promise<void> {
    await this.rooms.room(roomId);
    await this.writer.send(roomId, { type: "m.room.member", stateKey: target, content: { membership: "ban", ...(reason !== undefined ? { reason } : {}) }, sender, ts });
  }

  async unban(sender: UserId, roomId: RoomId, target: UserId, reason?: string, ts?: number): Promise<void> {
    const room = await this.rooms.room(roomId);
    if (room.membership(target) !== "ban") throw new MatrixError(403, "M_BAD_STATE", `${target} is not banned`);
    await this.writer.send(roomId, { type: "m.room.member", stateKey: target, content: { membership: "leave", ...(reason !== undefined ? { reason } : {}) }, sender, ts });
  }

  /** POST /rooms/{roomId}/forget: only once left (spec: 400 M_UNKNOWN while in the room). */
  async forget(userId: UserId, roomId: RoomId): Promise<void> {
    const room = await this.rooms.room(roomId);
    const m = room.membership(userId);
    if (m === "join" || m === "invite" || m === "knock") throw new MatrixError(400, "M_UNKNOWN", `User ${userId} is in room ${roomId}`);
    await directory.insertForgotten(this.db, userId, roomId);
  }
}
