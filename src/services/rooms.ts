// Rooms: creation, state, messages. https://spec.matrix.org/latest/client-server-api/#rooms
import type { Config } from "../config/schema.js";
import { MatrixError, forbidden, notFound } from "../http/errors.js";
import { assertCanonicalizable } from "../matrix/canonical-json.js";
import type { ClientEvent } from "../matrix/events.js";
import { makeRoomId, parseRoomAlias, parseUserId, serverNameOf, type EventId, type RoomId, type UserId } from "../matrix/ids.js";
import { roomVersion } from "../matrix/room-versions.js";
import type { Db } from "../store/db.js";
import * as directory from "../store/directory.js";
import * as events from "../store/events.js";
import * as users from "../store/users.js";
import * as relations from "../store/relations.js";
import { relationOf, type Relation } from "../matrix/relations.js";
import { userLevel } from "../matrix/power-levels.js";
import type { EventDraft, EventWriter, Written } from "./event-writer.js";
import type { ProfileService } from "./profiles.js";
import type { RoomState, RoomStateCache } from "./room-state.js";
import * as memberStore from "../store/memberships.js";

export interface CreateRoomRequest {
  visibility?: "public" | "private";
  room_alias_name?: string;
  name?: string;
  topic?: string;
  invite?: string[];
  room_version?: string;
  creation_content?: Record<string, unknown>;
  initial_state?: { type: string; state_key?: string; content: Record<string, unknown> }[];
  preset?: "private_chat" | "public_chat" | "trusted_private_chat";
  is_direct?: boolean;
  power_level_content_override?: Record<string, unknown>;
}

const PRESETS = {
  private_chat: { join_rule: "invite", history_visibility: "shared", guest_access: "can_join" },
  trusted_private_chat: { join_rule: "invite", history_visibility: "shared", guest_access: "can_join" },
  public_chat: { join_rule: "public", history_visibility: "shared", guest_access: "forbidden" },
} as const;

export class RoomService {
  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly cache: RoomStateCache,
    private readonly writer: EventWriter,
    private readonly profiles: ProfileService,
  ) {}

  get serverName(): string { return this.config.server_name; }

  /** The room's state, or 404 M_NOT_FOUND. */
  /** A room's state if this server has the room, else null. */
  cachedRoom(roomId: RoomId): Promise<RoomState | null> {
    return this.cache.get(roomId);
  }

  async room(roomId: RoomId): Promise<RoomState> {
    const r = await this.cache.get(roomId);
    if (!r) throw notFound("Unknown room");
    return r;
  }

  /** The content a user's membership event carries: their display name and avatar (spec: profiles). */
  async memberContent(userId: UserId, membership: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const p = await this.profiles.get(userId).catch(() => ({} as Record<string, unknown>));
    return {
      membership,
      ...(typeof p.displayname === "string" ? { displayname: p.displayname } : {}),
      ...(typeof p.avatar_url === "string" ? { avatar_url: p.avatar_url } : {}),
      ...extra,
    };
  }

  async ensureLocalUserExists(userId: UserId): Promise<void> {
    if (serverNameOf(userId) !== this.serverName) throw forbidden("Federation is not supported: only local users can be invited");
    let u = await users.selectUser(this.db, userId);
    if (!u && (await this.profiles.queryUnknownUser(userId))) u = await users.selectUser(this.db, userId);
    if (!u || u.deactivated) throw notFound(`User ${userId} does not exist`);
  }

  /** POST /createRoom */
  async create(creator: UserId, req: CreateRoomRequest): Promise<{ room_id: RoomId; room_alias?: string }> {
    const version = req.room_version ?? this.config.rooms.default_version;
    const v = roomVersion(version); // 400 M_UNSUPPORTED_ROOM_VERSION for one this server does not know
    const invitees = (req.invite ?? []).map((u) => parseUserId(u));
    for (const u of invitees) await this.ensureLocalUserExists(u);
    let alias: string | null = null;
    if (req.room_alias_name !== undefined) {
      if (/[:\s#]/.test(req.room_alias_name) || req.room_alias_name.length === 0) throw new MatrixError(400, "M_INVALID_PARAM", "Invalid alias name");
      alias = parseRoomAlias(`#${req.room_alias_name}:${this.serverName}`);
      if (await directory.selectAlias(this.db, alias)) throw new MatrixError(400, "M_ROOM_IN_USE", "Room alias already taken");
    }
    const preset = req.preset ?? (req.visibility === "public" ? "public_chat" : "private_chat");
    const p = PRESETS[preset];
    const d = (type: string, content: Record<string, unknown>, stateKey = ""): EventDraft => ({ type, stateKey, content, sender: creator });

    const createContent: Record<string, unknown> = { ...(req.creation_content ?? {}), room_version: version };
    if (v.createHasCreator) createContent.creator = creator;
    else delete createContent.creator;
    if (!v.privilegedCreators) delete createContent.additional_creators;
    // v12: the creators stand above every power level and are not listed in it; trusted
    // private chats make the invitees creators too (MSC4289), elsewhere they get 100.
    if (v.privilegedCreators && preset === "trusted_private_chat" && invitees.length) {
      const more = Array.isArray(createContent.additional_creators) ? createContent.additional_creators : [];
      createContent.additional_creators = [...new Set([...more, ...invitees])];
    }
    const creators = new Set<string>(v.privilegedCreators ? [creator, ...(Array.isArray(createContent.additional_creators) ? createContent.additional_creators as string[] : [])] : []);
    const users: Record<string, number> = v.privilegedCreators ? {} : { [creator]: 100 };
    if (preset === "trusted_private_chat") for (const u of invitees) if (!creators.has(u)) users[u] = 100;
    const pl: Record<string, unknown> = {
      users, users_default: 0,
      events: {
        "m.room.name": 50, "m.room.power_levels": 100, "m.room.history_visibility": 100, "m.room.canonical_alias": 50,
        "m.room.avatar": 50, "m.room.tombstone": 100, "m.room.server_acl": 100, "m.room.encryption": 100,
      },
      events_default: 0, state_default: 50, ban: 50, kick: 50, redact: 50, invite: 0,
      ...(req.power_level_content_override ?? {}),
    };
    const initial = (req.initial_state ?? []).map((s) => d(s.type, s.content, s.state_key ?? ""));
    const has = (type: string) => initial.some((e) => e.type === type && e.stateKey === "");
    const drafts: EventDraft[] = [
      d("m.room.create", createContent),
      d("m.room.member", await this.memberContent(creator, "join"), creator),
      d("m.room.power_levels", pl),
    ];
    if (alias) drafts.push(d("m.room.canonical_alias", { alias }));
    if (!has("m.room.join_rules")) drafts.push(d("m.room.join_rules", { join_rule: p.join_rule }));
    if (!has("m.room.history_visibility")) drafts.push(d("m.room.history_visibility", { history_visibility: p.history_visibility }));
    // "forbidden" is what no guest_access event means: only can_join is written (as Synapse).
    if (!has("m.room.guest_access") && p.guest_access === "can_join") drafts.push(d("m.room.guest_access", { guest_access: p.guest_access }));
    drafts.push(...initial.filter((e) => e.type !== "m.room.create" && e.type !== "m.room.member" && !(e.type === "m.room.power_levels" && e.stateKey === "")));
    if (req.name !== undefined) drafts.push(d("m.room.name", { name: req.name }));
    if (req.topic !== undefined) drafts.push(d("m.room.topic", { topic: req.topic, "m.topic": [{ body: req.topic, mimetype: "text/plain" }] }));
    for (const u of invitees) {
      drafts.push(d("m.room.member", await this.memberContent(u, "invite", req.is_direct ? { is_direct: true } : {}), u));
    }
    for (const dr of drafts) {
      assertCanonicalizable(dr.content);
      if (dr.stateKey !== undefined && Buffer.byteLength(dr.stateKey) > 255) throw new MatrixError(400, "M_INVALID_PARAM", "state_key exceeds 255 bytes");
    }
    // The room ID: random before v12; from v12 on the create event's reference hash, so the
    // create event's time is fixed here and the writer builds the same event.
    let roomId = makeRoomId(this.serverName);
    if (v.roomIdFromCreate) {
      drafts[0]!.ts = Date.now();
      roomId = this.writer.roomIdOfCreate(version, drafts[0]!);
    }
    try {
      await this.writer.createRoom(roomId, version, creator, drafts);
    } catch (e) {
      // An initial state the auth rules refuse (a bad power level override, say).
      if (e instanceof MatrixError && e.errcode === "M_FORBIDDEN") throw new MatrixError(400, "M_INVALID_ROOM_STATE", e.message);
      throw e;
    }
    if (alias && !(await directory.insertAlias(this.db, alias, roomId, creator))) {
      throw new MatrixError(400, "M_ROOM_IN_USE", "Room alias already taken");
    }
    if (req.visibility === "public") await directory.setRoomPublic(this.db, roomId, true);
    return alias ? { room_id: roomId, room_alias: alias } : { room_id: roomId };
  }

  /** PUT /rooms/{roomId}/state/{eventType}/{stateKey} */
  async setState(sender: UserId, roomId: RoomId, type: string, stateKey: string, content: Record<string, unknown>, ts?: number): Promise<EventId> {
    const room = await this.room(roomId);
    if (type === "m.room.canonical_alias") await this.checkCanonicalAlias(roomId, content);
    checkTombstone(roomId, type, content);
    // Setting state to what it already is makes no new event (as the reference server does).
    const cur = room.get(type, stateKey);
    if (cur && cur.sender === sender && sameJson(cur.content, content)) return cur.event_id;
    const w = await this.writer.send(roomId, { type, stateKey, content, sender, ts });
    return w.eventId;
  }

  /** PUT /rooms/{roomId}/send/{eventType}/{txnId} */
  async sendMessage(sender: UserId, deviceId: string | null, roomId: RoomId, type: string, content: Record<string, unknown>, txnId: string, ts?: number): Promise<Written> {
    if (type === "m.room.redaction" && typeof content.redacts === "string") {
      return this.redact(sender, deviceId, roomId, content.redacts, txnId, content, ts);
    }
    await this.room(roomId);
    checkTombstone(roomId, type, content);
    const txn = deviceId ? { deviceId, txnId } : undefined;
    const draft: EventDraft = { type, content, sender, txn, ts };
    const rel = relationOf(content);
    // A retried send is answered with its first event by the writer: it is not checked again
    // (its own first copy would make it a "duplicate").
    if (rel && !(txn && (await events.selectTxnEvents(this.db, sender, txn.deviceId, [txnId])).size > 0)) {
      await this.checkRelation(sender, roomId, type, content, rel);
      if (rel.relType === "m.replace") draft.validatedEdit = true;
    }
    return this.writer.send(roomId, draft);
  }

  /**
   * Relations the spec constrains: one identical reaction per user (M_DUPLICATE_ANNOTATION, as
   * Synapse), edits only of one's own event of the same type in the same room and never of an
   * edit, threads only from an event that relates to nothing.
   */
  private async checkRelation(sender: UserId, roomId: RoomId, type: string, content: Record<string, unknown>, rel: Relation): Promise<void> {
    if (rel.relType === "m.annotation") {
      if (rel.key === null) throw new MatrixError(400, "M_INVALID_PARAM", "An annotation needs a key");
      if (await relations.hasAnnotation(this.db, rel.relatesTo, sender, type, rel.key)) {
        throw new MatrixError(400, "M_DUPLICATE_ANNOTATION", "You already sent this reaction");
      }
      return;
    }
    if (rel.relType !== "m.replace" && rel.relType !== "m.thread") return;
    const target = await events.selectEventById(this.db, rel.relatesTo);
    if (!target || target.event.room_id !== roomId) throw new MatrixError(400, "M_INVALID_PARAM", "The related event is not in this room");
    const targetRel = relationOf(target.event.content);
    if (rel.relType === "m.replace") {
      if (target.event.sender !== sender) throw forbidden("You can only edit your own events");
      if (target.event.type !== type) throw new MatrixError(400, "M_INVALID_PARAM", "An edit must have the type of the event it replaces");
      if (target.event.state_key !== undefined) throw new MatrixError(400, "M_INVALID_PARAM", "State events cannot be edited");
      if (targetRel?.relType === "m.replace") throw new MatrixError(400, "M_INVALID_PARAM", "An edit cannot be edited");
      const nc = content["m.new_content"];
      if (!nc || typeof nc !== "object" || Array.isArray(nc)) throw new MatrixError(400, "M_BAD_JSON", "An edit needs m.new_content");
    } else if (targetRel) {
      throw new MatrixError(400, "M_INVALID_PARAM", "A thread cannot start from an event that relates to another");
    }
  }

  /**
   * PUT /rooms/{roomId}/redact/{eventId}/{txnId}: one's own events with the power to send a
   * redaction, anyone's with the `redact` level. The redacted event and its aggregations change
   * in the same write as the redaction.
   */
  async redact(sender: UserId, deviceId: string | null, roomId: RoomId, eventId: string, txnId: string, content: Record<string, unknown>, ts?: number): Promise<Written> {
    const room = await this.room(roomId);
    const txn = deviceId ? { deviceId, txnId } : undefined;
    const { redacts: _r, ...rest } = content;
    const draft: EventDraft = { type: "m.room.redaction", content: rest, sender, txn, ts, redacts: eventId as EventId };
    const retried = txn && (await events.selectTxnEvents(this.db, sender, txn.deviceId, [txnId])).size > 0;
    if (!retried) {
      const target = await events.selectEventById(this.db, eventId);
      if (!target) throw notFound("Event not found");
      if (target.event.room_id !== roomId) throw new MatrixError(400, "M_INVALID_PARAM", "The event is not in this room");
      if (target.event.sender !== sender) {
        const pl = room.powerLevels();
        if (userLevel(pl, sender) < pl.redact) throw forbidden("You may not redact other users' events in this room");
      }
      if (!target.event.unsigned?.redacted_because && target.event.type !== "m.room.create") draft.redactTarget = target.event;
    }
    return this.writer.send(roomId, draft);
  }

  private async checkCanonicalAlias(roomId: RoomId, content: Record<string, unknown>): Promise<void> {
    const bad = (m: string) => new MatrixError(400, "M_BAD_ALIAS", m);
    const aliases: unknown[] = [];
    if (content.alias !== undefined) aliases.push(content.alias);
    if (content.alt_aliases !== undefined) {
      if (!Array.isArray(content.alt_aliases)) throw new MatrixError(400, "M_INVALID_PARAM", "alt_aliases must be a list");
      aliases.push(...content.alt_aliases);
    }
    for (const a of aliases) {
      if (typeof a !== "string") throw new MatrixError(400, "M_INVALID_PARAM", "Aliases must be strings");
      let parsed: string;
      try { parsed = parseRoomAlias(a); } catch { throw new MatrixError(400, "M_INVALID_PARAM", `Invalid alias ${a}`); }
      const found = await directory.selectAlias(this.db, parsed);
      if (!found || found.roomId !== roomId) throw bad(`${a} does not point to this room`);
    }
  }

  async joinedRooms(userId: UserId): Promise<RoomId[]> {
    return (await memberStore.selectUserMemberships(this.db, userId)).filter((m) => m.membership === "join").map((m) => m.roomId);
  }

  /** Profile changes update the user's membership event in every room they are joined to. */
  async propagateProfile(userId: UserId, joinedRooms: RoomId[]): Promise<void> {
    for (const roomId of joinedRooms) {
      const room = await this.cache.get(roomId);
      if (!room || room.membership(userId) !== "join") continue;
      const cur = room.get("m.room.member", userId) as ClientEvent;
      const content = await this.memberContent(userId, "join");
      for (const k of Object.keys(cur.content)) if (!(k in content) && k !== "displayname" && k !== "avatar_url") content[k] = cur.content[k];
      if (sameJson(cur.content, content)) continue;
      await this.writer.send(roomId, { type: "m.room.member", stateKey: userId, content, sender: userId }).catch(() => undefined);
    }
  }
}

export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** A tombstone must point somewhere else (a room that replaces itself would trap its clients). */
function checkTombstone(roomId: RoomId, type: string, content: Record<string, unknown>): void {
  if (type === "m.room.tombstone" && content.replacement_room === roomId) {
    throw new MatrixError(400, "M_INVALID_PARAM", "A tombstone cannot point to its own room");
  }
}
