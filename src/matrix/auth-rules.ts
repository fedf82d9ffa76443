// The authorisation rules of room versions 10 and 11, for events created on this server.
// https://spec.matrix.org/latest/rooms/v11/#authorisation-rules
// Pure: the caller supplies the room's current state; a refusal throws 403 M_FORBIDDEN with the reason.
import { forbidden } from "../http/errors.js";
import { serverNameOf, tryParseUserId, type UserId } from "./ids.js";
import { eventLevel, powerLevelsFrom, userLevel, type PowerLevels } from "./power-levels.js";
import { SUPPORTED_ROOM_VERSIONS } from "./room-versions.js";

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

/** The room's creators: the create event's sender (v11) or content.creator (v10). */
export function creatorsOf(state: StateLookup, roomVersion: string): string[] {
  const create = state.get("m.room.create", "");
  if (!create) return [];
  if (Number(roomVersion) >= 11) return [create.sender];
  return typeof create.content.creator === "string" ? [create.content.creator] : [create.sender];
}

export function currentPowerLevels(state: StateLookup, roomVersion: string): PowerLevels {
  return powerLevelsFrom(state.get("m.room.power_levels", "")?.content, creatorsOf(state, roomVersion));
}

/**
 * Checks `ev` against the current state. `isFirstAfterCreate`: the only previous event is the
 * create event (the creator's own join).
 */
export function checkEventAuth(ev: NewEvent, state: StateLookup, roomVersion: string, isFirstAfterCreate: boolean): void {
  const v11 = Number(roomVersion) >= 11;
  // 1. m.room.create
  if (ev.type === "m.room.create") {
    if (state.get("m.room.create", "")) throw forbidden("The room already has a create event");
    if (serverNameOf(ev.room_id) !== serverNameOf(ev.sender)) throw forbidden("Room and sender domains differ");
    const rv = ev.content.room_version;
    if (rv !== undefined && (typeof rv !== "string" || !(rv in SUPPORTED_ROOM_VERSIONS))) throw forbidden("Unknown room version");
    if (!v11 && typeof ev.content.creator !== "string") throw forbidden("The create event has no creator");
    return;
  }
  const create = state.get("m.room.create", "");
  if (!create) throw forbidden("The room has no create event");
  // 3. m.federate (only our own server writes here, so this never refuses; kept for completeness)
  if (create.content["m.federate"] === false && serverNameOf(ev.sender) !== serverNameOf(create.sender)) {
    throw forbidden("This room does not federate");
  }
  const pl = currentPowerLevels(state, roomVersion);
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
        if (isFirstAfterCreate && target === creatorsOf(state, roomVersion)[0]) return;
        if (ev.sender !== target) throw forbidden("You cannot make someone else join");
        if (senderMembership === "ban") throw forbidden("You are banned from this room");
        if (joinRule === "invite" || joinRule === "knock") {
          if (senderMembership === "invite" || senderMembership === "join") return;
          throw forbidden("You are not invited to this room");
        }
        if (joinRule === "restricted" || joinRule === "knock_restricted") {
          if (senderMembership === "invite" || senderMembership === "join") return;
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
        if (joinRule !== "knock" && joinRule !== "knock_restricted") throw forbidden("This room does not allow knocking");
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
  if (ev.type === "m.room.power_levels") checkPowerLevelsChange(ev, state.get("m.room.power_levels", "")?.content, senderLevel, ev.sender);
}

const LEVEL_KEYS = ["users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"] as const;

function isIntMap(v: unknown, keyCheck?: (k: string) => boolean): boolean {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  return Object.entries(v).every(([k, x]) => Number.isInteger(x) && (!keyCheck || keyCheck(k)));
}

function checkPowerLevelsChange(ev: NewEvent, old: Record<string, unknown> | undefined, senderLevel: number, sender: string): void {
  const c = ev.content;
  for (const k of LEVEL_KEYS) if (k in c && !Number.isInteger(c[k])) throw forbidden(`${k} must be an integer`);
  for (const k of ["events", "notifications"]) if (k in c && !isIntMap(c[k])) throw forbidden(`${k} must map to integers`);
  if ("users" in c && !isIntMap(c.users, (k) => tryParseUserId(k) !== null)) throw forbidden("users must map user IDs to integers");
  if (!old) return;
  const num = (o: Record<string, unknown> | undefined, k: string): number | undefined => (typeof o?.[k] === "number" ? (o[k] as number) : undefined);
  for (const k of LEVEL_KEYS) {
    const before = num(old, k);
    const after = num(c, k);
    if (before === after) continue;
    if (before !== undefined && before > senderLevel) throw forbidden(`You cannot change ${k} from a level above your own`);
    if (after !== undefined && after > senderLevel) throw forbidden(`You cannot set ${k} above your own level`);
  }
  for (const k of ["events", "notifications"] as const) {
    const before = (old[k] ?? {}) as Record<string, number>;
    const after = (c[k] ?? {}) as Record<string, number>;
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (before[key] === after[key]) continue;
      if (key in before && before[key]! > senderLevel) throw forbidden(`You cannot change ${k}.${key} from a level above your own`);
      if (key in after && after[key]! > senderLevel) throw forbidden(`You cannot set ${k}.${key} above your own level`);
    }
  }
  const ub = (old.users ?? {}) as Record<string, number>;
  const ua = (c.users ?? {}) as Record<string, number>;
  for (const user of new Set([...Object.keys(ub), ...Object.keys(ua)])) {
    if (ub[user] === ua[user]) continue;
    if (user !== sender && user in ub && ub[user]! >= senderLevel) throw forbidden(`You cannot change the level of ${user}, who is at or above your own`);
    if (user in ua && ua[user]! > senderLevel) throw forbidden(`You cannot raise ${user} above your own level`);
  }
}
