// Room aliases and the published room directory.
// https://spec.matrix.org/latest/client-server-api/#room-aliases, #published-room-directory
import { MatrixError, forbidden, notFound } from "../http/errors.js";
import { currentPowerLevels } from "../matrix/auth-rules.js";
import { parseRoomAlias, serverNameOf, type RoomAlias, type RoomId, type UserId } from "../matrix/ids.js";
import { eventLevel, userLevel } from "../matrix/power-levels.js";
import type { Db } from "../store/db.js";
import * as directory from "../store/directory.js";
import type { RoomStateCache, RoomState } from "./room-state.js";
import type { Requester } from "./tokens.js";

export interface PublicRoomsQuery {
  limit?: number; since?: string; term?: string;
  /** third_party_instance_id: one application service network's list. */
  instance?: string;
  /** include_all_networks: the server's list and every application service list. */
  allNetworks?: boolean;
}

export class DirectoryService {
  /** Hook for application services' exclusive alias namespaces. */
  isExclusiveAlias: (alias: string, appserviceId: string | null) => boolean = () => false;
  /** Asks an application service about an alias nobody has made yet (it may create the room). */
  queryUnknownAlias: (alias: string) => Promise<boolean> = async () => false;

  constructor(private readonly db: Db, private readonly serverName: string, private readonly cache: RoomStateCache) {}

  private localAlias(raw: string): RoomAlias {
    const alias = parseRoomAlias(raw);
    if (serverNameOf(alias) !== this.serverName) throw new MatrixError(400, "M_INVALID_PARAM", "Room alias must be on this server");
    return alias;
  }

  /**
   * May `who` make this alias? Every way an alias is made (PUT /directory/room, createRoom's
   * room_alias_name) asks here: an application service's exclusive namespace is its own.
   */
  assertMayTake(who: Requester, alias: string): void {
    if (this.isExclusiveAlias(alias, who.appserviceId)) throw new MatrixError(400, "M_EXCLUSIVE", "This alias is reserved by an application service");
  }

  async setAlias(who: Requester, raw: string, roomId: RoomId): Promise<void> {
    const alias = this.localAlias(raw);
    this.assertMayTake(who, alias);
    const room = await this.cache.get(roomId);
    if (!room) throw notFound("Unknown room");
    if (!(await directory.insertAlias(this.db, alias, roomId, who.userId))) throw new MatrixError(409, "M_UNKNOWN", "Room alias already exists");
  }

  async resolve(raw: string): Promise<{ room_id: RoomId; servers: string[] }> {
    const alias = parseRoomAlias(raw);
    let found = await directory.selectAlias(this.db, alias);
    if (!found && (await this.queryUnknownAlias(alias))) found = await directory.selectAlias(this.db, alias);
    if (!found) throw notFound(`Room alias ${alias} not found`);
    return { room_id: found.roomId, servers: [this.serverName] };
  }

  /** Deletable by its creator, a server admin, or whoever may set the room's canonical alias. */
  async deleteAlias(who: Requester, raw: string): Promise<void> {
    const alias = this.localAlias(raw);
    const found = await directory.selectAlias(this.db, alias);
    if (!found) throw notFound(`Room alias ${alias} not found`);
    if (found.creator !== who.userId && !who.isAdmin) {
      const room = await this.cache.get(found.roomId);
      if (!room || !this.canEditDirectory(room, who.userId)) throw forbidden("You may not delete this alias");
    }
    await directory.deleteAlias(this.db, alias);
    await this.dropFromCanonical(who, found.roomId, alias);
  }

  /** Writes a state event as the user (the room's auth rules decide); set by services/index.ts. */
  sendState: ((who: Requester, roomId: RoomId, type: string, content: Record<string, unknown>) => Promise<void>) | null = null;

  /**
   * A deleted alias leaves the room's canonical alias event (spec: servers may update it), as
   * the user who deleted it when they may; the deletion stands either way.
   */
  private async dropFromCanonical(who: Requester, roomId: RoomId, alias: string): Promise<void> {
    const ev = (await this.cache.get(roomId))?.get("m.room.canonical_alias", "");
    if (!ev || !this.sendState) return;
    const alt = Array.isArray(ev.content.alt_aliases) ? (ev.content.alt_aliases as unknown[]) : [];
    if (ev.content.alias !== alias && !alt.includes(alias)) return;
    const { alias: main, alt_aliases: _alt, ...rest } = ev.content as Record<string, unknown>;
    const keptAlt = alt.filter((a) => a !== alias);
    const content = { ...rest, ...(main !== alias && main !== undefined ? { alias: main } : {}), ...(keptAlt.length ? { alt_aliases: keptAlt } : {}) };
    await this.sendState(who, roomId, "m.room.canonical_alias", content).catch(() => undefined);
  }

  async roomAliases(userId: UserId, roomId: RoomId): Promise<string[]> {
    const room = await this.cache.get(roomId);
    if (!room) throw forbidden("You are not in this room");
    const worldReadable = room.get("m.room.history_visibility", "")?.content.history_visibility === "world_readable";
    if (room.membership(userId) !== "join" && !worldReadable) throw forbidden("You are not in this room");
    return directory.selectRoomAliases(this.db, roomId);
  }

  async visibility(roomId: RoomId): Promise<"public" | "private"> {
    const r = await this.db("rooms").where({ room_id: roomId }).first("is_public");
    if (!r) throw notFound("Unknown room");
    return r.is_public ? "public" : "private";
  }

  async setVisibility(who: Requester, roomId: RoomId, visibility: "public" | "private"): Promise<void> {
    const room = await this.cache.get(roomId);
    if (!room) throw notFound("Unknown room");
    if (!who.isAdmin && !this.canEditDirectory(room, who.userId)) throw forbidden("You may not change this room's directory listing");
    await directory.setRoomPublic(this.db, roomId, visibility === "public");
  }

  private canEditDirectory(room: RoomState, userId: UserId): boolean {
    if (room.membership(userId) !== "join") return false;
    const pl = currentPowerLevels(room, room.version);
    return userLevel(pl, userId) >= eventLevel(pl, "m.room.canonical_alias", true);
  }

  setAppserviceListed(appserviceId: string, networkId: string, roomId: RoomId, listed: boolean): Promise<void> {
    return directory.setAppserviceListed(this.db, appserviceId, networkId, roomId, listed);
  }

  /** GET|POST /publicRooms: largest rooms first; `since` is an offset token. */
  async publicRooms(q: PublicRoomsQuery): Promise<Record<string, unknown>> {
    // The server's own list, one application service network's (third_party_instance_id
    // "<service>|<network>"), or all of them (include_all_networks).
    let ids: RoomId[];
    if (q.instance !== undefined) {
      const cut = q.instance.indexOf("|");
      ids = cut > 0 ? await directory.selectAppserviceListed(this.db, { appserviceId: q.instance.slice(0, cut), networkId: q.instance.slice(cut + 1) }) : [];
    } else {
      ids = await directory.selectPublicRoomIds(this.db);
      if (q.allNetworks) ids = [...new Set([...ids, ...(await directory.selectAppserviceListed(this.db, null))])];
    }
    const entries: Record<string, unknown>[] = [];
    for (const id of ids) {
      const room = await this.cache.get(id);
      if (!room) continue;
      const c = (t: string) => room.get(t, "")?.content ?? {};
      const entry: Record<string, unknown> = {
        room_id: id,
        num_joined_members: room.joined.size,
        world_readable: c("m.room.history_visibility").history_visibility === "world_readable",
        guest_can_join: c("m.room.guest_access").guest_access === "can_join",
        join_rule: (c("m.room.join_rules").join_rule as string) ?? "invite",
      };
      const name = c("m.room.name").name;
      const topic = c("m.room.topic").topic;
      const alias = c("m.room.canonical_alias").alias;
      const avatar = c("m.room.avatar").url;
      const type = c("m.room.create").type;
      if (typeof name === "string") entry.name = name;
      if (typeof topic === "string") entry.topic = topic;
      if (typeof alias === "string") entry.canonical_alias = alias;
      if (typeof avatar === "string") entry.avatar_url = avatar;
      if (typeof type === "string") entry.room_type = type;
      if (q.term) {
        const hay = [entry.name, entry.topic, entry.canonical_alias, id].filter((x) => typeof x === "string").join(" ").toLowerCase();
        if (!hay.includes(q.term.toLowerCase())) continue;
      }
      entries.push(entry);
    }
    entries.sort((a, b) => (b.num_joined_members as number) - (a.num_joined_members as number) || String(a.room_id).localeCompare(String(b.room_id)));
    let offset = 0;
    if (q.since !== undefined) {
      const m = /^p(\d{1,9})$/.exec(q.since);
      if (!m) throw new MatrixError(400, "M_INVALID_PARAM", "Invalid since token");
      offset = Number(m[1]);
    }
    const limit = q.limit !== undefined && q.limit > 0 ? Math.min(q.limit, 500) : entries.length;
    const chunk = entries.slice(offset, offset + limit);
    const out: Record<string, unknown> = { chunk, total_room_count_estimate: entries.length };
    if (offset + limit < entries.length) out.next_batch = `p${offset + limit}`;
    if (offset > 0) out.prev_batch = `p${Math.max(0, offset - limit)}`;
    return out;
  }
}
