// What the rooms admin API does beyond reads: shutting a room down (its local users moved out,
// optionally into a new room with an explanation; its aliases moved or dropped; blocked;
// purged), and giving a user the highest power level a local member holds.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { MatrixError } from "../http/errors.js";
import { parseUserId, serverNameOf, type RoomId, type UserId } from "../matrix/ids.js";
import * as adminRooms from "../store/admin-rooms.js";
import type { Db } from "../store/db.js";
import * as directory from "../store/directory.js";
import * as users from "../store/users.js";
import type { MembershipService } from "./membership.js";
import type { MembershipCache } from "./memberships.js";
import type { RoomStateCache } from "./room-state.js";
import type { RoomService } from "./rooms.js";

export interface DeleteOptions {
  new_room_user_id?: string; room_name?: string; message?: string; block?: boolean; purge?: boolean; force_purge?: boolean;
}

export type ShutdownResult = { kicked_users: string[]; failed_to_kick_users: string[]; local_aliases: string[]; new_room_id: string | null };

const DEFAULT_NAME = "Content Violation Notification";
const DEFAULT_MESSAGE = "Sharing illegal content on this server is not permitted and rooms in violation will be blocked.";

export class RoomAdminService {
  constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly rooms: RoomService,
    private readonly membership: MembershipService,
    private readonly cache: RoomStateCache,
    private readonly memberships: MembershipCache,
    private readonly log: Logger,
  ) {}

  /** DELETE /_synapse/admin/v2/rooms/{roomId}: started here, run in the background; its status is kept for a day. */
  async startDelete(roomId: RoomId, opts: DeleteOptions, admin: UserId): Promise<string> {
    await this.check(roomId, opts);
    const deleteId = randomBytes(12).toString("base64url");
    await adminRooms.insertDeletion(this.db, deleteId, roomId);
    void this.run(deleteId, roomId, opts, admin);
    return deleteId;
  }

  /** DELETE /_synapse/admin/v1/rooms/{roomId}: the same, answered when done. */
  async deleteNow(roomId: RoomId, opts: DeleteOptions, admin: UserId): Promise<ShutdownResult> {
    await this.check(roomId, opts);
    return this.shutdown(roomId, opts, admin);
  }

  private async check(roomId: RoomId, opts: DeleteOptions): Promise<void> {
    if (opts.new_room_user_id !== undefined && serverNameOf(parseUserId(opts.new_room_user_id)) !== this.serverName) {
      throw new MatrixError(400, "M_INVALID_PARAM", "new_room_user_id must be a local user");
    }
    const known = await this.db("rooms").where({ room_id: roomId }).first("room_id");
    if (!known && !opts.block) throw new MatrixError(400, "M_INVALID_PARAM", `Unknown room ${roomId}`);
  }

  private async run(deleteId: string, roomId: RoomId, opts: DeleteOptions, admin: UserId): Promise<void> {
    try {
      await adminRooms.updateDeletion(this.db, deleteId, { status: "active" });
      const result = await this.shutdown(roomId, opts, admin, (r) => adminRooms.updateDeletion(this.db, deleteId, { status: "active", result: r }));
      await adminRooms.updateDeletion(this.db, deleteId, { status: "complete", result });
    } catch (e) {
      this.log.warn({ err: (e as Error).message, roomId }, "room deletion failed");
      await adminRooms.updateDeletion(this.db, deleteId, { status: "failed", error: (e as Error).message }).catch(() => undefined);
    }
  }

  private async shutdown(roomId: RoomId, opts: DeleteOptions, admin: UserId, progress?: (r: ShutdownResult) => Promise<void>): Promise<ShutdownResult> {
    const result: ShutdownResult = { kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null };
    if (opts.block) await adminRooms.setBlocked(this.db, roomId, admin, true);
    const known = await this.db("rooms").where({ room_id: roomId }).first("room_id");
    if (!known) return result; // blocked ahead of time, nothing else to do

    let newRoom: RoomId | null = null;
    if (opts.new_room_user_id) {
      const owner = parseUserId(opts.new_room_user_id);
      // The new room's owner need not be registered: it is made, without a password, as Synapse does.
      if (!(await users.selectUser(this.db, owner))) {
        await users.insertUser(this.db, { userId: owner, passwordHash: null, isGuest: false, isAdmin: false, appserviceId: null });
      }
      newRoom = (await this.rooms.create(owner, { name: opts.room_name ?? DEFAULT_NAME, preset: "private_chat", power_level_content_override: { users_default: -10 } })).room_id;
      await this.rooms.sendMessage(owner, null, newRoom, "m.room.message", { msgtype: "m.text", body: opts.message ?? DEFAULT_MESSAGE }, "", undefined);
      result.new_room_id = newRoom;
    }

    // Nobody may come back in while the room is emptied.
    for (const { userId } of await adminRooms.selectLocalMembers(this.db, roomId, this.serverName)) {
      const u = userId as UserId;
      try {
        await this.membership.leave(u, roomId, "This room has been shut down by the server admins");
        result.kicked_users.push(u);
        if (newRoom && u !== opts.new_room_user_id) {
          await this.membership.invite(parseUserId(opts.new_room_user_id!), newRoom, u);
          await this.membership.join(u, newRoom);
        }
      } catch (e) {
        this.log.warn({ err: (e as Error).message, roomId, userId: u }, "could not move a user out of a room being shut down");
        result.failed_to_kick_users.push(u);
      }
    }
    await progress?.(result);

    result.local_aliases = await directory.selectRoomAliases(this.db, roomId);
    if (newRoom) await directory.moveAliases(this.db, roomId, newRoom);
    else for (const a of result.local_aliases) await directory.deleteAlias(this.db, a);
    await directory.setRoomPublic(this.db, roomId, false);

    if (opts.purge !== false) {
      if (result.failed_to_kick_users.length && !opts.force_purge) throw new Error("Local users are still in the room; not purged (force_purge overrides)");
      await this.db.transaction((trx) => adminRooms.purgeRoom(trx, roomId, ["blocked_rooms", "room_deletions", "server_notice_rooms", "reports"]));
      this.cache.invalidate(roomId);
      this.memberships.clear();
    }
    return result;
  }

  /**
   * POST /_synapse/admin/v1/purge_history/{roomId}: removes the room's messages before a point
   * (an event, or a time). State events, the room's latest event, and unless
   * `deleteLocal` the events of this server's users (Synapse's default: here, all of them)
   * are kept. Runs in the background; the status is kept for a day.
   */
  async startPurgeHistory(roomId: RoomId, before: { eventId?: string; ts?: number }, deleteLocal: boolean): Promise<string> {
    let cutoff: { col: "pos" | "origin_server_ts"; value: number };
    if (before.eventId) {
      const ev = await this.db("events").where({ event_id: before.eventId, room_id: roomId }).first("pos");
      if (!ev) throw new MatrixError(404, "M_NOT_FOUND", "Event not found in this room");
      cutoff = { col: "pos", value: Number(ev.pos) };
    } else if (before.ts !== undefined) {
      cutoff = { col: "origin_server_ts", value: before.ts };
    } else {
      throw new MatrixError(400, "M_MISSING_PARAM", "Give an event ID or purge_up_to_ts");
    }
    const purgeId = randomBytes(12).toString("base64url");
    await adminRooms.insertDeletion(this.db, purgeId, roomId);
    void (async () => {
      try {
        const removed = await this.db.transaction((trx) => adminRooms.purgeHistory(trx, roomId, cutoff, deleteLocal ? null : this.serverName));
        await adminRooms.updateDeletion(this.db, purgeId, { status: "complete", result: { purged_events: removed } });
      } catch (e) {
        await adminRooms.updateDeletion(this.db, purgeId, { status: "failed", error: (e as Error).message }).catch(() => undefined);
      }
    })();
    return purgeId;
  }

  /** POST /_synapse/admin/v1/rooms/{roomIdOrAlias}/make_room_admin */
  async makeRoomAdmin(roomId: RoomId, target: UserId): Promise<void> {
    const room = await this.rooms.room(roomId);
    const pl = room.powerLevels();
    // The local member with the most power acts (a v12 creator outranks every level).
    let best: { user: UserId; level: number } | null = null;
    for (const { userId, membership } of await adminRooms.selectLocalMembers(this.db, roomId, this.serverName)) {
      if (membership !== "join") continue;
      const level = pl.privileged.has(userId) ? Number.MAX_SAFE_INTEGER : pl.users[userId] ?? pl.users_default;
      if (!best || level > best.level) best = { user: userId as UserId, level };
    }
    if (!best || best.level < (pl.events["m.room.power_levels"] ?? pl.state_default)) throw new MatrixError(400, "M_UNKNOWN", "No local admin user in room");
    if (best.user !== target) {
      const current = room.get("m.room.power_levels", "")?.content ?? {};
      const level = best.level === Number.MAX_SAFE_INTEGER ? Math.max(100, ...Object.values(pl.users)) : best.level;
      const usersMap = { ...((current.users as Record<string, number>) ?? {}), [target]: level };
      await this.rooms.setState(best.user, roomId, "m.room.power_levels", "", { ...current, users: usersMap });
    }
    const joinRule = room.get("m.room.join_rules", "")?.content.join_rule;
    const m = room.membership(target);
    if (m !== "join" && m !== "invite" && joinRule !== "public") await this.membership.invite(best.user, roomId, target);
  }
}
