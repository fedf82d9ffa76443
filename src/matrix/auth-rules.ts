// The authorisation rules of room versions 1 to 12, for events created on this server: one set
// of rules, with the differences between versions taken from the version table.
// https://spec.matrix.org/latest/rooms/v12/#authorisation-rules (and v1 … v11)
// Pure: the caller supplies the room's current state; a refusal throws 403 M_FORBIDDEN with the reason.
import { forbidden } from "../http/errors.js";
import { serverNameOf, tryParseUserId, type UserId } from "./ids.js";
import { eventLevel, levelValue, powerLevelsFrom, userLevel, type PowerLevels } from "./power-levels.js";
import { isSupportedRoomVersion, roomVersion, type RoomVersion } from "./room-versions.js";

export interface StateEvent {
  type: string;
  state_key?: string;
  sender: string;
  content: Record<string, unknown>;
}

/** Read access to a room's current state, by (type, state_key). */
export interface StateLookup {
  get(type: string, stateKey: string): StateEvent | undefined;
}

export interface NewEvent {
  type: string;
  state_key?: string;
  sender: UserId;
  room_id: string;
  content: Record<string, unknown>;
}

export function membershipOf(state: StateLookup, userId: string): string {
  const m = state.get("m.room.member", userId)?.content.membership;
  return typeof m === "string" ? m : "leave";
}

/**
 * The room's creators: `content.creator` of m.room.create (v1-10), its sender (v11), its
 * sender and `additional_creators` (v12).
 */
export function creatorsOf(state: StateLookup, version: string): string[] {
  const create = state.get("m.room.create", "");
  if (!create) return [];
  const v = roomVersion(version);
  if (v.createHasCreator) return typeof create.content.creator === "string" ? [create.content.creator] : [create.sender];
  if (!v.privilegedCreators) return [create.sender];
  const more = Array.isArray(create.content.additional_creators) ? create.content.additional_creators.filter((u): u is string => typeof u === "string") : [];
  return [create.sender, ...more.filter((u) => u !== create.sender)];
}

export function currentPowerLevels(state: StateLookup, version: string): PowerLevels {
  return powerLevelsFrom(state.get("m.room.power_levels", "")?.content, creatorsOf(state, version), roomVersion(version));
}

/**
 * Checks `ev` against the current state. `isFirstAfterCreate`: the only previous event is the
 * create event (the creator's own join).
 */
export function checkEventAuth(ev: NewEvent, state: StateLookup, version: string, isFirstAfterCreate: boolean): void {
  const v = roomVersion(version);
  // 1. m.room.create
  if (ev.type === "m.room.create") {
    if (state.get("m.room.create", "")) throw forbidden("The room already has a create event");
    // v12: the room ID is the create event's hash, with no server name to compare.
    if (!v.roomIdFromCreate && serverNameOf(ev.room_id) !== serverNameOf(ev.sender)) throw forbidden("Room and sender domains differ");
    const rv = ev.content.room_version;
    if (rv !== undefined && !isSupportedRoomVersion(rv)) throw forbidden("Unknown room version");
    if (v.createHasCreator && typeof ev.content.creator !== "string") throw forbidden("The create event has no creator");
    if (v.privilegedCreators && ev.content.additional_creators !== undefined) {
      const more = ev.content.additional_creators;
      if (!Array.isArray(more) || !more.every((u) => typeof u === "string" && tryParseUserId(u) !== null)) throw forbidden("additional_creators must be a list of user IDs");
    }
    return;
  }
  const create = state.get("m.room.create", "");
  if (!create) throw forbidden("The room has no create event");
  // v1-5: m.room.aliases has a rule of its own, before any membership check.
  if (v.specialAliases && ev.type === "m.room.aliases") {
    if (ev.state_key === undefined) throw forbidden("m.room.aliases needs a state_key");
    if (ev.state_key !== serverNameOf(ev.sender)) throw forbidden("m.room.aliases may only be set for the sender's own server");
    return;
  }
  // 3. m.federate (only our own server writes here, so this never refuses; kept for completeness)
  if (create.content["m.federate"] === false && serverNameOf(ev.sender) !== serverNameOf(create.sender)) {
    throw forbidden("This room does not federate");
  }
  const pl = currentPowerLevels(state, version);
  const senderLevel = userLevel(pl, ev.sender);
  const senderMembership = membershipOf(state, ev.sender);

  // 4. m.room.member
  if (ev.type === "m.room.member") {
    const target = ev.state_key;
    const membership = ev.content.membership;
    if (target === undefined || typeof membership !== "string") throw forbidden("Membership event without state_key or membership");
    if (!tryParseUserId(target)) throw forbidden("The state_key of a membership event must be a user ID");
    const targetMembership = membershipOf(state, target);
    const joinRule = String(state.get("m.room.join_rules", "")?.content.join_rule ?? "invite");
    switch (membership) {
      case "join": {
        if (isFirstAfterCreate && target === creatorsOf(state, version)[0]) return;
        if (ev.sender !== target) throw forbidden("You cannot make someone else join");
        if (senderMembership === "ban") throw forbidden("You are banned from this room");
        if (joinRule === "invite" || (v.knocking && joinRule === "knock")) {
          if (senderMembership === "invite" || senderMembership === "join") return;
          throw forbidden("You are not invited to this room");
        }
        if ((v.restrictedJoins && joinRule === "restricted") || (v.knockRestricted && joinRule === "knock_restricted")) {
          if (senderMembership === "invite" || senderMembership === "join") return;
          // Vouched for by a member who may invite (the server checked the allow conditions).
          const via = ev.content.join_authorised_via_users_server;
          if (typeof via === "string" && membershipOf(state, via) === "join" && userLevel(pl, via) >= pl.invite) return;
          throw forbidden("This room is restricted and you are not invited");
        }
        if (joinRule === "public") return;
        throw forbidden("You are not allowed to join this room");
      }
      case "invite": {
        if (ev.content.third_party_invite !== undefined) throw forbidden("Third-party invites are not supported");
        if (senderMembership !== "join") throw forbidden("You are not in this room");
        if (targetMembership === "join") throw forbidden(`${target} is already in the room`);
        if (targetMembership === "ban") throw forbidden(`${target} is banned from the room`);
        if (senderLevel >= pl.invite) return;
        throw forbidden("You do not have permission to invite");
      }
      case "leave": {
        if (ev.sender === target) {
          if (["invite", "join", "knock"].includes(senderMembership)) return;
          throw forbidden("You are not in this room");
        }
        if (senderMembership !== "join") throw forbidden("You are not in this room");
        if (targetMembership === "ban" && senderLevel < pl.ban) throw forbidden("You do not have permission to unban");
        if (senderLevel >= pl.kick && userLevel(pl, target) < senderLevel) return;
        throw forbidden("You do not have permission to kick this user");
      }
      case "ban": {
        if (senderMembership !== "join") throw forbidden("You are not in this room");
        if (senderLevel >= pl.ban && userLevel(pl, target) < senderLevel) return;
        throw forbidden("You do not have permission to ban this user");
      }
      case "knock": {
        if (!v.knocking) throw forbidden(`Room version ${v.id} has no knocking`);
        if (joinRule !== "knock" && !(v.knockRestricted && joinRule === "knock_restricted")) throw forbidden("This room does not allow knocking");
        if (ev.sender !== target) throw forbidden("You cannot knock for someone else");
        if (!["ban", "invite", "join"].includes(senderMembership)) return;
        throw forbidden("You cannot knock on this room");
      }
      default:
        throw forbidden(`Unknown membership ${membership}`);
    }
  }

  // 5.
  if (senderMembership !== "join") throw forbidden("You are not in this room");
  // 6.
  if (ev.type === "m.room.third_party_invite") {
    if (senderLevel >= pl.invite) return;
    throw forbidden("You do not have permission to invite");
  }
  // 7.
  const isState = ev.state_key !== undefined;
  if (eventLevel(pl, ev.type, isState) > senderLevel) {
    throw forbidden(`You do not have permission to send ${ev.type} events (power level ${eventLevel(pl, ev.type, isState)} needed)`);
  }
  // 8.
  if (isState && ev.state_key!.startsWith("@") && ev.state_key !== ev.sender) {
    throw forbidden("You cannot set state keyed on another user");
  }
  // 9.
  if (ev.type === "m.room.power_levels") checkPowerLevelsChange(ev, state.get("m.room.power_levels", "")?.content, senderLevel, ev.sender, v, creatorsOf(state, version));
}

const LEVEL_KEYS = ["users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"] as const;

function isLevelMap(v: unknown, integerOnly: boolean, keyCheck?: (k: string) => boolean): boolean {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  return Object.entries(v).every(([k, x]) => levelValue(x, integerOnly) !== undefined && (!keyCheck || keyCheck(k)));
}

function checkPowerLevelsChange(ev: NewEvent, old: Record<string, unknown> | undefined, senderLevel: number, sender: string, v: RoomVersion, creators: string[]): void {
  const c = ev.content;
  const io = v.integerPowerLevels;
  const what = io ? "an integer" : "an integer (or a string of one)";
  for (const k of LEVEL_KEYS) if (k in c && levelValue(c[k], io) === undefined) throw forbidden(`${k} must be ${what}`);
  for (const k of ["events", "notifications"]) if (k in c && !isLevelMap(c[k], io)) throw forbidden(`${k} must map to integers`);
  if ("users" in c && !isLevelMap(c.users, io, (k) => tryParseUserId(k) !== null)) throw forbidden("users must map user IDs to integers");
  // v12: the creators stand above every level and are never listed.
  if (v.privilegedCreators && c.users && typeof c.users === "object" && creators.some((u) => u in (c.users as object))) {
    throw forbidden("The room's creators cannot be given a power level");
  }
  if (!old) return;
  const num = (o: Record<string, unknown> | undefined, k: string): number | undefined => levelValue(o?.[k], io);
  for (const k of LEVEL_KEYS) {
    const before = num(old, k);
    const after = num(c, k);
    if (before === after) continue;
    if (before !== undefined && before > senderLevel) throw forbidden(`You cannot change ${k} from a level above your own`);
    if (after !== undefined && after > senderLevel) throw forbidden(`You cannot set ${k} above your own level`);
  }
  for (const k of v.notificationsAuth ? ["events", "notifications"] as const : ["events"] as const) {
    const before = (old[k] ?? {}) as Record<string, unknown>;
    const after = (c[k] ?? {}) as Record<string, unknown>;
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const b = levelValue(before[key], io);
      const a = levelValue(after[key], io);
      if (b === a) continue;
      if (b !== undefined && b > senderLevel) throw forbidden(`You cannot change ${k}.${key} from a level above your own`);
      if (a !== undefined && a > senderLevel) throw forbidden(`You cannot set ${k}.${key} above your own level`);
    }
  }
  const ub = (old.users ?? {}) as Record<string, unknown>;
  const ua = (c.users ?? {}) as Record<string, unknown>;
  for (const user of new Set([...Object.keys(ub), ...Object.keys(ua)])) {
    const b = levelValue(ub[user], io);
    const a = levelValue(ua[user], io);
    if (b === a) continue;
    if (user !== sender && b !== undefined && b >= senderLevel) throw forbidden(`You cannot change the level of ${user}, who is at or above your own`);
    if (a !== undefined && a > senderLevel) throw forbidden(`You cannot raise ${user} above your own level`);
  }
}
