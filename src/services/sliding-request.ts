// Simplified sliding sync (MSC4186): the request, in both forms clients send. The MSC's text
// (`range`, `required_state: {include, exclude, lazy_members}`, `is_invited`) and the form
// Synapse implemented first, which matrix-js-sdk and matrix-rust-sdk send today (`ranges`,
// `required_state: [[type, state_key]]` with "*", "$LAZY" and "$ME", `is_invite`, `pos` and
// `timeout` in the query string, `unsubscribe_rooms`). A request is read into one shape; the
// response answers in the form the request used (`legacy`).
import { MatrixError, invalidParam } from "../http/errors.js";
import { check, compile, type Schema } from "../http/validate.js";
import { parseRoomId, type RoomId, type UserId } from "../matrix/ids.js";

export const MAX_LISTS = 100;
export const MAX_SUBSCRIPTIONS = 100;
/** The most timeline events one room carries in a response (the MSC lets the server cap it). */
export const MAX_TIMELINE_LIMIT = 100;
const MAX_STATE_ELEMENTS = 100;
/** required_state patterns in one request, all lists and subscriptions together: each is tested against each state event of a room it covers. */
const MAX_STATE_PATTERNS = 1000;

/** One (type, state_key) pattern; null matches any. */
export interface StatePattern { type: string | null; key: string | null }

/** What state a room carries: includes minus excludes, and lazily loaded members. */
export interface StateSpec { include: StatePattern[]; exclude: StatePattern[]; lazy: boolean }

export interface RoomConfig { timelineLimit: number; state: StateSpec; /** The state spec as text, to compare configs cheaply. */ key: string }

export interface ListFilters {
  isDm?: boolean; isEncrypted?: boolean; isInvited?: boolean;
  roomTypes?: (string | null)[]; notRoomTypes?: (string | null)[];
  spaces?: string[]; tags?: string[]; notTags?: string[];
}

export interface ListSpec { key: string; ranges: [number, number][] | null; config: RoomConfig; filters: ListFilters }

export interface SlidingRequest {
  connId: string;
  /** Echoed in the response, so a client knows which of its requests it answers (matrix-rust-sdk). */
  txnId?: string;
  pos: string | null;
  timeoutMs: number;
  setPresence?: "online" | "offline" | "unavailable";
  lists: ListSpec[];
  subscriptions: Map<RoomId, RoomConfig>;
  unsubscribe: RoomId[];
  extensions: Record<string, Record<string, unknown>>;
  /** Synapse's form: answer with `invite_state`, `unstable_expanded_timeline`. */
  legacy: boolean;
  /** The WebSocket's own follow-up requests: the client acknowledges with `ack` frames instead. */
  noAck?: boolean;
}

const pattern: Schema = { type: "object", properties: { type: { type: "string", maxLength: 255 }, state_key: { type: "string", maxLength: 255 } } };
const requiredState: Schema = {
  oneOf: [
    { type: "array", maxItems: MAX_STATE_ELEMENTS, items: { type: "array", minItems: 2, maxItems: 2, items: { type: "string", maxLength: 255 } } },
    { type: "object", properties: { include: { type: "array", maxItems: MAX_STATE_ELEMENTS, items: pattern }, exclude: { type: "array", maxItems: MAX_STATE_ELEMENTS, items: pattern }, lazy_members: { type: "boolean" } } },
  ],
};
const pair: Schema = { type: "array", minItems: 2, maxItems: 2, items: { type: "integer", minimum: 0 } };
const strings: Schema = { type: "array", maxItems: 1000, items: { type: "string", maxLength: 255 } };
const roomTypes: Schema = { type: "array", maxItems: 100, items: { type: ["string", "null"], maxLength: 255 } };
const roomConfig = (extra: Record<string, Schema> = {}): Schema => ({
  type: "object",
  properties: { timeline_limit: { type: "integer", minimum: 0 }, required_state: requiredState, ...extra },
});
const bodySchema: Schema = {
  type: "object",
  properties: {
    conn_id: { type: "string", maxLength: 255 },
    txn_id: { type: "string", maxLength: 255 },
    pos: { type: "string", maxLength: 255 },
    timeout: { type: "integer", minimum: 0 },
    set_presence: { type: "string" },
    lists: {
      type: "object",
      additionalProperties: roomConfig({
        range: pair,
        ranges: { type: "array", maxItems: 100, items: pair },
        filters: {
          type: "object",
          properties: {
            is_dm: { type: "boolean" }, is_encrypted: { type: "boolean" }, is_invited: { type: "boolean" }, is_invite: { type: "boolean" },
            room_types: roomTypes, not_room_types: roomTypes, spaces: { type: "array", maxItems: 100, items: { type: "string", maxLength: 255 } }, tags: strings, not_tags: strings,
          },
        },
      }),
    },
    room_subscriptions: { type: "object", additionalProperties: roomConfig() },
    unsubscribe_rooms: { type: "array", maxItems: 1000, items: { type: "string", maxLength: 255 } },
    extensions: { type: "object", additionalProperties: { type: "object" } },
  },
};
const validateBody = compile<Record<string, any>>(bodySchema);

/** List keys are opaque identifiers (spec grammar), and the most a request may name. */
const LIST_KEY = /^[A-Za-z0-9._~-]{1,255}$/;

/**
 * Reads a request. `query` carries what Synapse's form puts in the URL (`pos`, `timeout`,
 * `set_presence`); the body's own fields win where both are given.
 */
export function parseSlidingRequest(body: unknown, query: Record<string, string | undefined>, userId: UserId): SlidingRequest {
  const b = check(validateBody, body ?? {});
  let legacy = query.pos !== undefined || query.timeout !== undefined || b.unsubscribe_rooms !== undefined;
  const lists: ListSpec[] = [];
  const entries = Object.entries((b.lists ?? {}) as Record<string, Record<string, any>>);
  if (entries.length > MAX_LISTS) throw invalidParam(`At most ${MAX_LISTS} lists`);
  for (const [key, l] of entries) {
    if (!LIST_KEY.test(key)) throw invalidParam("List keys are opaque identifiers");
    if (l.ranges !== undefined || Array.isArray(l.required_state) || l.filters?.is_invite !== undefined) legacy = true;
    const ranges: [number, number][] | null = l.ranges ?? (l.range ? [l.range] : null);
    for (const [a, z] of ranges ?? []) if (a > z) throw invalidParam("A range's start is after its end");
    const f = (l.filters ?? {}) as Record<string, any>;
    lists.push({
      key, ranges, config: roomConfigOf(l, userId),
      filters: {
        isDm: f.is_dm, isEncrypted: f.is_encrypted, isInvited: f.is_invited ?? f.is_invite,
        roomTypes: f.room_types, notRoomTypes: f.not_room_types, spaces: f.spaces, tags: f.tags, notTags: f.not_tags,
      },
    });
  }
  const subscriptions = new Map<RoomId, RoomConfig>();
  const subs = Object.entries((b.room_subscriptions ?? {}) as Record<string, Record<string, any>>);
  if (subs.length > MAX_SUBSCRIPTIONS) throw invalidParam(`At most ${MAX_SUBSCRIPTIONS} room subscriptions`);
  for (const [roomId, s] of subs) {
    if (Array.isArray(s.required_state)) legacy = true;
    subscriptions.set(parseRoomId(roomId), roomConfigOf(s, userId));
  }
  const patterns = [...lists.map((l) => l.config), ...subscriptions.values()].reduce((n, c) => n + c.state.include.length + c.state.exclude.length, 0);
  if (patterns > MAX_STATE_PATTERNS) throw invalidParam(`At most ${MAX_STATE_PATTERNS} required_state entries in one request`);
  const setPresence = b.set_presence ?? query.set_presence;
  if (setPresence !== undefined && !["online", "offline", "unavailable"].includes(setPresence)) throw invalidParam("set_presence must be online, offline or unavailable");
  let timeoutMs = b.timeout ?? 0;
  if (b.timeout === undefined && query.timeout !== undefined) {
    if (!/^\d{1,12}$/.test(query.timeout)) throw invalidParam("timeout must be a whole number of milliseconds");
    timeoutMs = Number(query.timeout);
  }
  return {
    connId: b.conn_id ?? "",
    txnId: b.txn_id,
    pos: b.pos ?? query.pos ?? null,
    timeoutMs,
    setPresence,
    lists,
    subscriptions,
    unsubscribe: ((b.unsubscribe_rooms ?? []) as string[]).map((r) => parseRoomId(r)),
    extensions: extensionConfigs(b.extensions),
    legacy,
  };
}

/** The extensions we serve and the fields each reads: a connection keeps these only (bounded memory and record). */
const EXTENSIONS = ["to_device", "e2ee", "account_data", "receipts", "typing"] as const;

function extensionConfigs(raw: unknown): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  const names = (v: unknown): string[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length > MAX_LISTS + MAX_SUBSCRIPTIONS || v.some((x) => typeof x !== "string" || x.length > 255)) throw invalidParam("An extension's lists and rooms are arrays of names");
    return v as string[];
  };
  for (const name of EXTENSIONS) {
    const c = (raw as Record<string, Record<string, unknown>> | undefined)?.[name];
    if (c === undefined) continue;
    if (c.enabled !== undefined && typeof c.enabled !== "boolean") throw invalidParam(`extensions.${name}.enabled must be a boolean`);
    const kept: Record<string, unknown> = {};
    if (c.enabled !== undefined) kept.enabled = c.enabled;
    const lists = names(c.lists);
    const rooms = names(c.rooms);
    if (lists) kept.lists = lists;
    if (rooms) kept.rooms = rooms;
    if (typeof c.since === "string") kept.since = c.since; // to_device: per request, never kept by the connection
    else if (c.since !== undefined) throw invalidParam(`extensions.${name}.since must be a string`);
    out[name] = kept;
  }
  return out;
}

function roomConfigOf(c: Record<string, any>, userId: UserId): RoomConfig {
  if (c.timeline_limit === undefined) throw new MatrixError(400, "M_MISSING_PARAM", "Missing parameter: timeline_limit");
  const state = stateSpecOf(c.required_state, userId);
  return { timelineLimit: Math.min(c.timeline_limit, MAX_TIMELINE_LIMIT), state, key: JSON.stringify(state) };
}

/** Both forms of required_state, with "$ME" read as the user and "$LAZY" as lazy members. */
function stateSpecOf(rs: unknown, userId: UserId): StateSpec {
  const me = (k: string | undefined | null) => (k === "$ME" ? userId : k ?? null);
  if (rs === undefined) return { include: [], exclude: [], lazy: false };
  if (Array.isArray(rs)) {
    const spec: StateSpec = { include: [], exclude: [], lazy: false };
    for (const [type, key] of rs as [string, string][]) {
      if (type === "m.room.member" && key === "$LAZY") { spec.lazy = true; continue; }
      spec.include.push({ type: type === "*" ? null : type, key: key === "*" ? null : me(key) });
    }
    return normalise(spec);
  }
  const o = rs as { include?: { type?: string; state_key?: string }[]; exclude?: { type?: string; state_key?: string }[]; lazy_members?: boolean };
  const pat = (p: { type?: string; state_key?: string }) => ({ type: p.type ?? null, key: me(p.state_key) });
  return normalise({ include: (o.include ?? []).map(pat), exclude: (o.exclude ?? []).map(pat), lazy: o.lazy_members === true });
}

/** Asking for every membership as well as lazy members: every membership (MSC: combining). */
function normalise(s: StateSpec): StateSpec {
  if (s.lazy && s.include.some((p) => p.type === "m.room.member" && p.key === null)) s.lazy = false;
  return s;
}

/**
 * A room's configs combined (MSC: combining room configs): the largest timeline limit, and
 * the state any of them asks for. Lazy members only if some config asks for them and none
 * asks for every membership.
 */
export interface Combined { timelineLimit: number; states: StateSpec[]; lazy: boolean; key: string }

export function combine(configs: RoomConfig[]): Combined {
  const timelineLimit = Math.max(0, ...configs.map((c) => c.timelineLimit));
  // The same required_state in several lists counts once.
  const unique = configs.filter((c, i) => configs.findIndex((d) => d.key === c.key) === i);
  const states = unique.map((c) => c.state);
  const lazy = states.some((s) => s.lazy) && !states.some(allMembers);
  return { timelineLimit, states, lazy, key: `${lazy}|${unique.map((c) => c.key).join("|")}` };
}

function allMembers(s: StateSpec): boolean {
  return !s.lazy && s.include.some((p) => (p.type === "m.room.member" || p.type === null) && p.key === null)
    && !s.exclude.some((p) => (p.type === "m.room.member" || p.type === null) && p.key === null);
}

const matches = (p: StatePattern, type: string, key: string) => (p.type === null || p.type === type) && (p.key === null || p.key === key);

/**
 * Does the combined config ask for this state event? With lazy members, memberships come only
 * from the lazy rules or an exact (m.room.member, user) pattern, never from a wildcard.
 */
export function wants(c: Combined, type: string, key: string): boolean {
  const lazyMember = c.lazy && type === "m.room.member";
  return c.states.some((s) => s.include.some((p) => matches(p, type, key) && (!lazyMember || (p.type !== null && p.key !== null)))
    && !s.exclude.some((p) => matches(p, type, key)));
}

/** Exact (type, state_key) pairs when that is all the config names: looked up, not scanned. */
export function exactKeys(c: Combined): StatePattern[] | null {
  const all = c.states.flatMap((s) => s.include);
  return all.every((p) => p.type !== null && p.key !== null) ? all : null;
}

/** The same config as before (else the room is sent again: MSC, changing room configs). */
export function sameState(a: Combined, b: Combined): boolean {
  return a.key === b.key;
}
