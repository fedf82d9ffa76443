// Room upgrades: POST /rooms/{roomId}/upgrade, and what follows a user into the new room.
// https://spec.matrix.org/latest/client-server-api/#room-upgrades
import { forbidden, notFound } from "../http/errors.js";
import type { ClientEvent } from "../matrix/events.js";
import { makeRoomId, parseUserId, type EventId, type RoomId, type UserId } from "../matrix/ids.js";
import { eventLevel, levelValue, powerLevelsFrom, userLevel } from "../matrix/power-levels.js";
import { roomVersion, type RoomVersion } from "../matrix/room-versions.js";
import type { Db } from "../store/db.js";
import * as directory from "../store/directory.js";
import type { AccountDataService } from "./account-data.js";
import type { EventDraft, EventWriter } from "./event-writer.js";
import type { PushRuleService } from "./push-rules.js";
import type { RoomService } from "./rooms.js";
import type { RoomState, RoomStateCache } from "./room-state.js";

/** The state the new room is given (the spec's recommended list); power levels come on their own. */
const COPIED_STATE = [
  "m.room.server_acl", "m.room.encryption", "m.room.name", "m.room.avatar", "m.room.topic",
  "m.room.guest_access", "m.room.history_visibility", "m.room.join_rules", "m.room.canonical_alias",
];
/** The meaning of an absent setting (spec), written out in the new room. */
const DEFAULTS: [string, Record<string, unknown>][] = [
  ["m.room.join_rules", { join_rule: "invite" }],
  ["m.room.history_visibility", { history_visibility: "shared" }],
  ["m.room.guest_access", { guest_access: "forbidden" }],
];
const LEVEL_KEYS = ["users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"];

export class RoomUpgradeService {
  /** Upgrades in progress per old room: a second request waits and gets the same new room. */
  private readonly running = new Map<RoomId, Promise<RoomId>>();

  constructor(
    private readonly db: Db,
    private readonly serverName: string,
    private readonly cache: RoomStateCache,
    private readonly writer: EventWriter,
    private readonly rooms: RoomService,
    private readonly accountData: AccountDataService,
    private readonly pushRules: PushRuleService,
  ) {}

  upgrade(sender: UserId, oldRoomId: RoomId, newVersion: string, additionalCreators: string[] = []): Promise<RoomId> {
    const v = roomVersion(newVersion); // 400 M_UNSUPPORTED_ROOM_VERSION
    const busy = this.running.get(oldRoomId);
    if (busy) return busy;
    const p = this.run(sender, oldRoomId, v, additionalCreators).finally(() => this.running.delete(oldRoomId));
    this.running.set(oldRoomId, p);
    return p;
  }

  private async run(sender: UserId, oldRoomId: RoomId, v: RoomVersion, additional: string[]): Promise<RoomId> {
    const old = await this.cache.get(oldRoomId);
    if (!old) throw notFound("Unknown room");
    if (old.membership(sender) !== "join") throw forbidden("You are not in this room");
    const oldPl = old.powerLevels();
    if (userLevel(oldPl, sender) < eventLevel(oldPl, "m.room.tombstone", true)) throw forbidden("You do not have permission to upgrade this room");
    const more = v.privilegedCreators ? [...new Set(additional.map((u) => parseUserId(u)))].filter((u) => u !== sender) : [];

    const tombstone = (replacement: RoomId): EventDraft => ({
      type: "m.room.tombstone", stateKey: "", sender, content: { body: "This room has been replaced", replacement_room: replacement },
    });
    // The new room names the tombstone it replaces (predecessor.event_id), so the tombstone
    // comes first, pointing at the ID the new room will have. From v12 on the new room's ID is
    // its create event's hash, which cannot hold the tombstone's ID: the tombstone follows it
    // and predecessor has the room ID alone (spec: room upgrades, 1.16).
    let newRoomId: RoomId | null = v.roomIdFromCreate ? null : makeRoomId(this.serverName);
    let tombstoneId: EventId | null = null;
    if (newRoomId) tombstoneId = (await this.writer.send(oldRoomId, tombstone(newRoomId))).eventId;

    const oldCreate = old.get("m.room.create", "")!;
    const createContent: Record<string, unknown> = {
      room_version: v.id,
      predecessor: { room_id: oldRoomId, ...(tombstoneId ? { event_id: tombstoneId } : {}) },
      ...(oldCreate.content.type !== undefined ? { type: oldCreate.content.type } : {}),
      ...(oldCreate.content["m.federate"] !== undefined ? { "m.federate": oldCreate.content["m.federate"] } : {}),
      ...(v.createHasCreator ? { creator: sender } : {}),
      ...(more.length ? { additional_creators: more } : {}),
    };
    const creators = new Set<string>(v.privilegedCreators ? [sender, ...more] : []);
    const d = (type: string, content: Record<string, unknown>, stateKey = ""): EventDraft => ({ type, stateKey, content, sender });
    const copied = COPIED_STATE.map((t) => old.get(t, "")).filter((e): e is ClientEvent => !!e && Object.keys(e.content).length > 0);
    // What the old room had by default is written out, with the same meaning, so the new
    // room's rules do not rest on defaults (and clients see each setting).
    for (const [type, content] of DEFAULTS) if (!copied.some((e) => e.type === type)) copied.push({ type, content } as ClientEvent);
    const bans = [...old.state.values()].map((s) => s.event).filter((e) => e.type === "m.room.member" && e.content.membership === "ban");

    // Power levels: the old room's, as the new version reads them. Until the copied state is
    // in, the upgrader holds whatever level that state needs (they may have less than it).
    const finalPl = levelsFor(old.get("m.room.power_levels", "")?.content ?? {}, creators);
    const mine = userLevel(oldPl, sender);
    if (!creators.has(sender)) (finalPl.users as Record<string, number>)[sender] = Number.isFinite(mine) ? mine : 100;
    const newPl = powerLevelsFrom(finalPl, [...creators], v);
    const needed = Math.max(
      ...copied.map((e) => eventLevel(newPl, e.type, true)),
      eventLevel(newPl, "m.room.power_levels", true),
      bans.length ? newPl.ban : 0,
    );
    const startPl = creators.has(sender) || (finalPl.users as Record<string, number>)[sender]! >= needed
      ? finalPl
      : { ...finalPl, users: { ...(finalPl.users as object), [sender]: needed } };

    const drafts: EventDraft[] = [
      d("m.room.create", createContent),
      d("m.room.member", await this.rooms.memberContent(sender, "join"), sender),
      d("m.room.power_levels", startPl),
      ...copied.map((e) => d(e.type, e.content)),
      ...bans.map((e) => d("m.room.member", e.content, e.state_key!)),
    ];
    if (startPl !== finalPl) drafts.push(d("m.room.power_levels", finalPl));
    if (!newRoomId) {
      drafts[0]!.ts = Date.now();
      newRoomId = this.writer.roomIdOfCreate(v.id, drafts[0]!);
    }
    await this.writer.createRoom(newRoomId, v.id, sender, drafts);
    if (!tombstoneId) tombstoneId = (await this.writer.send(oldRoomId, tombstone(newRoomId))).eventId;

    // The aliases move, and the old room's canonical alias is emptied; the directory listing
    // follows the room.
    await directory.moveAliases(this.db, oldRoomId, newRoomId);
    if (old.get("m.room.canonical_alias", "")) await this.tryState(oldRoomId, d("m.room.canonical_alias", {}));
    if (await directory.selectRoomPublic(this.db, oldRoomId)) {
      await directory.setRoomPublic(this.db, newRoomId, true);
      await directory.setRoomPublic(this.db, oldRoomId, false);
    }
    // Members cannot chat in the old room any more, nor invite to it.
    const oldLevels = old.get("m.room.power_levels", "")?.content;
    if (oldLevels) {
      const usersDefault = levelValue(oldLevels.users_default, false) ?? 0;
      const restricted = Math.max(50, usersDefault + 1);
      const ed = levelValue(oldLevels.events_default, false) ?? 0;
      const inv = levelValue(oldLevels.invite, false) ?? 0;
      if (ed < restricted || inv < restricted) {
        await this.tryState(oldRoomId, d("m.room.power_levels", { ...oldLevels, events_default: Math.max(ed, restricted), invite: Math.max(inv, restricted) }));
      }
    }
    // Where joining needs an invitation, the old room's members get one.
    const newRoom = await this.cache.get(newRoomId);
    if (newRoom && newRoom.get("m.room.join_rules", "")?.content.join_rule !== "public") {
      for (const u of old.joined) {
        if (u === sender || newRoom.membership(u) === "ban") continue;
        await this.tryState(newRoomId, d("m.room.member", await this.rooms.memberContent(u, "invite"), u));
      }
    }
    await this.followUser(sender, oldRoomId, newRoomId);
    return newRoomId;
  }

  /** A state change the upgrader may not be allowed to make (then the upgrade goes on without it). */
  private async tryState(roomId: RoomId, draft: EventDraft): Promise<void> {
    try {
      await this.writer.send(roomId, draft);
    } catch (e) {
      if (!(e instanceof Error && (e as { errcode?: string }).errcode === "M_FORBIDDEN")) throw e;
    }
  }

  /**
   * A user joined a room that replaces another: their tags, their m.direct entry and their
   * push rules for the old room are carried over (spec: "the server should automatically
   * transfer ... the user's personalised settings").
   */
  async joined(userId: UserId, room: RoomState): Promise<void> {
    const pred = room.get("m.room.create", "")?.content.predecessor as { room_id?: unknown } | undefined;
    if (typeof pred?.room_id !== "string") return;
    await this.followUser(userId, pred.room_id as RoomId, room.roomId);
  }

  private async followUser(userId: UserId, from: RoomId, to: RoomId): Promise<void> {
    const tags = await this.accountData.tags(userId, from);
    for (const [tag, body] of Object.entries(tags)) await this.accountData.setTag(userId, to, tag, (body ?? {}) as Record<string, unknown>);
    const direct = await this.accountData.get(userId, "", "m.direct").catch(() => null);
    if (direct) {
      let changed = false;
      const next: Record<string, unknown> = {};
      for (const [other, list] of Object.entries(direct)) {
        if (Array.isArray(list) && list.includes(from) && !list.includes(to)) { next[other] = [...list, to]; changed = true; } else next[other] = list;
      }
      if (changed) await this.accountData.set(userId, "", "m.direct", next);
    }
    const rules = await this.pushRules.get(userId);
    for (const r of rules.room) {
      if (r.rule_id === from && !rules.room.some((x) => x.rule_id === to)) await this.pushRules.put(userId, "room", to, { actions: r.actions });
    }
    for (const kind of ["override", "underride"] as const) {
      for (const r of rules[kind]) {
        if (r.default || !r.conditions?.some((c) => c.kind === "event_match" && c.key === "room_id" && c.pattern === from)) continue;
        const id = r.rule_id.includes(from) ? r.rule_id.split(from).join(to) : `${r.rule_id}.${to}`;
        if (rules[kind].some((x) => x.rule_id === id)) continue;
        const conditions = r.conditions.map((c) => (c.kind === "event_match" && c.key === "room_id" && c.pattern === from ? { ...c, pattern: to } : c));
        await this.pushRules.put(userId, kind, id, { actions: r.actions, conditions });
      }
    }
  }
}

/**
 * The old room's power levels for the new version: levels written as strings become
 * integers, and from v12 on the creators are not listed (they stand above every level).
 */
function levelsFor(content: Record<string, unknown>, creators: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...content };
  for (const k of LEVEL_KEYS) {
    if (!(k in out)) continue;
    const n = levelValue(out[k], false);
    if (n === undefined) delete out[k];
    else out[k] = n;
  }
  for (const k of ["users", "events", "notifications"]) {
    const m = out[k];
    if (!m || typeof m !== "object" || Array.isArray(m)) { delete out[k]; continue; }
    const clean: Record<string, number> = {};
    for (const [key, x] of Object.entries(m)) {
      const n = levelValue(x, false);
      if (n !== undefined && !(k === "users" && creators.has(key))) clean[key] = n;
    }
    out[k] = clean;
  }
  if (!out.users) out.users = {};
  return out;
}
