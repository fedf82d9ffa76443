// Server notices (Synapse's send_server_notice admin API; spec: server notices): messages from
// the server's notices user into a room of each user's own, tagged m.server_notice, where the
// user cannot speak. The room is made on the first notice and again if the user left it.
import { MatrixError, notFound } from "../http/errors.js";
import { makeUserId, parseUserId, serverNameOf, type RoomId, type UserId } from "../matrix/ids.js";
import type { Config } from "../config/schema.js";
import type { Db } from "../store/db.js";
import * as profiles from "../store/profiles.js";
import * as users from "../store/users.js";
import type { AccountDataService } from "./account-data.js";
import type { RoomService } from "./rooms.js";

export class ServerNoticeService {
  constructor(private readonly db: Db, private readonly config: Config, private readonly rooms: RoomService, private readonly accountData: AccountDataService) {}

  get sender(): UserId {
    return makeUserId(this.config.server_notices.localpart, this.config.server_name);
  }

  /** Sends a notice; `txnId` makes a retry answer the first event. */
  async send(n: { user_id: string; content: Record<string, unknown>; type?: string; state_key?: string }, txnId: string | null): Promise<string> {
    if (!this.config.server_notices.enabled) throw new MatrixError(400, "M_UNKNOWN", "Server notices are not enabled on this server");
    const target = parseUserId(n.user_id);
    if (serverNameOf(target) !== this.config.server_name) throw new MatrixError(400, "M_UNKNOWN", "Server notices can only be sent to local users");
    const u = await users.selectUser(this.db, target);
    if (!u || u.deactivated) throw notFound("User not found");
    const roomId = await this.roomFor(target);
    if (n.state_key !== undefined) return this.rooms.setState(this.sender, roomId, n.type ?? "m.room.message", n.state_key, n.content);
    const w = await this.rooms.sendMessage(this.sender, txnId ? "server_notices" : null, roomId, n.type ?? "m.room.message", n.content, txnId ?? "");
    return w.eventId;
  }

  private async roomFor(target: UserId): Promise<RoomId> {
    await this.ensureSender();
    const row = await this.db("server_notice_rooms").where({ user_id: target }).first("room_id");
    if (row) {
      const room = await this.rooms.room(row.room_id as RoomId).catch(() => null);
      const m = room?.membership(target);
      if (room && (m === "join" || m === "invite")) return row.room_id as RoomId;
    }
    const { room_id } = await this.rooms.create(this.sender, {
      name: this.config.server_notices.room_name, preset: "private_chat", invite: [target], is_direct: false,
      // Only the server speaks here.
      power_level_content_override: { events_default: 100, invite: 100, state_default: 100 },
    });
    await this.db("server_notice_rooms").insert({ user_id: target, room_id }).onConflict("user_id").merge();
    await this.accountData.set(target, room_id, "m.tag", { tags: { "m.server_notice": { order: 0.5 } } }, true);
    return room_id;
  }

  private async ensureSender(): Promise<void> {
    const id = this.sender;
    if (await users.selectUser(this.db, id)) return;
    await users.insertUser(this.db, { userId: id, passwordHash: null, isGuest: false, isAdmin: false, appserviceId: null });
    await profiles.upsertProfileField(this.db, id, "displayname", this.config.server_notices.display_name);
  }
}
