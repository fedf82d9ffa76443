// Power levels. https://spec.matrix.org/latest/client-server-api/#mroompower_levels
import type { UserId } from "./ids.js";
import type { RoomVersion } from "./room-versions.js";

export interface PowerLevels {
  users: Record<string, number>;
  users_default: number;
  events: Record<string, number>;
  events_default: number;
  state_default: number;
  ban: number;
  kick: number;
  redact: number;
  invite: number;
  notifications: Record<string, number>;
  /** Room version 12's creators: above every level, whatever `users` says. */
  privileged: ReadonlySet<string>;
}

/**
 * A level's value: an integer, or (before room version 10) a string holding one, as the
 * older versions' auth rules allow.
 */
export function levelValue(v: unknown, integerOnly: boolean): number | undefined {
  if (typeof v === "number") return Number.isInteger(v) ? v : undefined;
  if (!integerOnly && typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

/**
 * The levels in force. Without any m.room.power_levels event the creator(s) have 100,
 * everyone else 0, and state_default is 0 (spec).
 */
export function powerLevelsFrom(content: Record<string, unknown> | undefined, creators: string[], version?: RoomVersion): PowerLevels {
  const integerOnly = version?.integerPowerLevels ?? true;
  const privileged: ReadonlySet<string> = version?.privilegedCreators ? new Set(creators) : new Set();
  if (!content) {
    return {
      users: Object.fromEntries(creators.map((c) => [c, 100])), users_default: 0, events: {}, events_default: 0,
      state_default: 0, ban: 50, kick: 50, redact: 50, invite: 0, notifications: { room: 50 }, privileged,
    };
  }
  const int = (v: unknown, dflt: number): number => levelValue(v, integerOnly) ?? dflt;
  const obj = (v: unknown): Record<string, number> => {
    const out: Record<string, number> = {};
    if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) {
        const n = levelValue(x, integerOnly);
        if (n !== undefined) out[k] = n;
      }
    }
    return out;
  };
  return {
    users: obj(content.users),
    users_default: int(content.users_default, 0),
    events: obj(content.events),
    events_default: int(content.events_default, 0),
    state_default: int(content.state_default, 50),
    ban: int(content.ban, 50),
    kick: int(content.kick, 50),
    redact: int(content.redact, 50),
    invite: int(content.invite, 0),
    notifications: { room: 50, ...obj(content.notifications) },
    privileged,
  };
}

export function userLevel(pl: PowerLevels, userId: UserId | string): number {
  if (pl.privileged.has(userId)) return Number.POSITIVE_INFINITY;
  return pl.users[userId] ?? pl.users_default;
}

/** The level needed to send an event of this type (state or not). */
export function eventLevel(pl: PowerLevels, type: string, isState: boolean): number {
  return pl.events[type] ?? (isState ? pl.state_default : pl.events_default);
}
