// room_send.yaml, room_state.yaml, rooms.yaml (event, state, members), message_pagination.yaml,
// event_context.yaml, room_event_by_timestamp.yaml
import { MatrixError, invalidParam } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { anyObject, check, compile, parseLimit } from "../../http/validate.js";
import { assertCanonicalizable } from "../../matrix/canonical-json.js";
import { roomEventFilterSchema, type RoomEventFilter } from "../../matrix/filter.js";
import { parseEventId, parseRoomId } from "../../matrix/ids.js";
import { parseToken } from "../../matrix/tokens.js";
import { MAX_EVENT_BYTES } from "../../services/event-writer.js";
import type { Requester } from "../../services/tokens.js";

const roomEventFilter = compile<RoomEventFilter>(roomEventFilterSchema);

/** Event types and state keys: at most 255 bytes (spec: size limits). */
function checkTypeAndKey(type: string, stateKey?: string): void {
  if (Buffer.byteLength(type) > 255 || type.length === 0) throw new MatrixError(400, "M_INVALID_PARAM", "Event type must be 1-255 bytes");
  if (stateKey !== undefined && Buffer.byteLength(stateKey) > 255) throw new MatrixError(400, "M_INVALID_PARAM", "state_key exceeds 255 bytes");
}

function checkContent(body: unknown): Record<string, unknown> {
  const content = body as Record<string, unknown>;
  if (Buffer.byteLength(JSON.stringify(content)) > MAX_EVENT_BYTES) throw new MatrixError(413, "M_TOO_LARGE", `Event exceeds ${MAX_EVENT_BYTES} bytes`);
  assertCanonicalizable(content);
  return content;
}


function parseFilter(v: string | undefined): RoomEventFilter | undefined {
  if (v === undefined) return undefined;
  let parsed: unknown;
  try { parsed = JSON.parse(v); } catch { throw new MatrixError(400, "M_NOT_JSON", "filter is not JSON"); }
  return check(roomEventFilter, parsed);
}

/**
 * What a transaction ID is unique within: the device; for an application service acting
 * without one, the service (so a bridge's retried send is the same event).
 */
export function txnScope(user: Requester): string | null {
  return user.deviceId ?? (user.appserviceId ? `as:${user.appserviceId}` : null);
}

/**
 * `ts` (application services only): the event's origin_server_ts (spec: timestamp massaging).
 * Ignored for other users; a value origin_server_ts could not hold is 400.
 */
function massagedTs(user: Requester, ts: string | undefined): number | undefined {
  if (ts === undefined || !user.appserviceId) return undefined;
  if (!/^\d{1,16}$/.test(ts) || !Number.isSafeInteger(Number(ts))) throw new MatrixError(400, "M_INVALID_PARAM", "ts must be a timestamp in milliseconds");
  return Number(ts);
}

const state = (auth: "user") => ({
  method: "PUT" as const, auth, body: anyObject, shadow: "event" as const,
});

export default defineRoutes({
  /** PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId} */
  sendMessage: {
    action: "send", method: "PUT", path: "/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId", auth: "user", guest: true, body: anyObject, shadow: "event",
    async handler({ user, params, body, query }, s) {
      checkTypeAndKey(params.eventType!);
      if (Buffer.byteLength(params.txnId!) > 255) throw new MatrixError(400, "M_INVALID_PARAM", "txnId exceeds 255 bytes");
      const w = await s.rooms.sendMessage(user.userId, txnScope(user), parseRoomId(params.roomId!), params.eventType!, checkContent(body), params.txnId!, massagedTs(user, query.ts));
      return { event_id: w.eventId };
    },
  },

  /**
   * POST /_matrix/client/v3/rooms/{roomId}/send/{eventType}: the send of the first API
   * versions, without a transaction ID (so not idempotent: a retry sends again). Not in the
   * current spec; served because older clients and tools still use it, and answered exactly
   * as the PUT form.
   */
  sendMessageLegacyPost: {
    action: "send", method: "POST", path: "/_matrix/client/v3/rooms/:roomId/send/:eventType", auth: "user", guest: true, body: anyObject, shadow: "event",
    async handler({ user, params, body, query }, s) {
      checkTypeAndKey(params.eventType!);
      const w = await s.rooms.sendMessage(user.userId, null, parseRoomId(params.roomId!), params.eventType!, checkContent(body), "", massagedTs(user, query.ts));
      return { event_id: w.eventId };
    },
  },

  /** PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} */
  setRoomStateWithKey: {
    ...state("user"), path: "/_matrix/client/v3/rooms/:roomId/state/:eventType/:stateKey",
    async handler({ user, params, body, query }, s) {
      checkTypeAndKey(params.eventType!, params.stateKey!);
      return { event_id: await s.rooms.setState(user.userId, parseRoomId(params.roomId!), params.eventType!, params.stateKey!, checkContent(body), massagedTs(user, query.ts)) };
    },
  },

  /** PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType} (empty state key) */
  setRoomStateWithEmptyKey: {
    ...state("user"), path: "/_matrix/client/v3/rooms/:roomId/state/:eventType",
    async handler({ user, params, body, query }, s) {
      checkTypeAndKey(params.eventType!);
      return { event_id: await s.rooms.setState(user.userId, parseRoomId(params.roomId!), params.eventType!, "", checkContent(body), massagedTs(user, query.ts)) };
    },
  },

  /** GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} */
  getRoomStateWithKey: {
    method: "GET", path: "/_matrix/client/v3/rooms/:roomId/state/:eventType/:stateKey", auth: "user", guest: true,
    async handler({ user, params, query }, s) {
      const ev = await s.reader.stateEvent(user, parseRoomId(params.roomId!), params.eventType!, params.stateKey!);
      return query.format === "event" ? ev : ev.content;
    },
  },

  /** GET /_matrix/client/v3/rooms/{roomId}/state/{eventType} */
  getRoomStateWithEmptyKey: {
    method: "GET", path: "/_matrix/client/v3/rooms/:roomId/state/:eventType", auth: "user", guest: true,
    async handler({ user, params, query }, s) {
      const ev = await s.reader.stateEvent(user, parseRoomId(params.roomId!), params.eventType!, "");
      return query.format === "event" ? ev : ev.content;
    },
  },

  /** GET /_matrix/client/v3/rooms/{roomId}/state */
  getRoomState: {
    method: "GET", path: "/_matrix/client/v3/rooms/:roomId/state", auth: "user", guest: true,
    handler: ({ user, params }, s) => s.reader.state(user, parseRoomId(params.roomId!)),
  },

  /** GET /_matrix/client/v3/rooms/{roomId}/event/{eventId} */
  getOneRoomEvent: {
    method: "GET", path: "/_matrix/client/v3/rooms/:roomId/event/:eventId", auth: "user", guest: true,
    handler: ({ user, params }, s) => s.reader.event(user, parseRoomId(params.roomId!), parseEventId(params.eventId!)),
  },

  /** GET /_matrix/client/v3/rooms/{roomId}/members */
  getMembersByRoom: {
    method: "GET", path: "/_matrix/client/v3/rooms/:roomId/members", auth: "user", guest: true,
    async handler({ user, params, query }, s) {
      const at = query.at !== undefined ? parseToken(query.at, "at").pos : null;
      for (const k of ["membership", "not_membership"] as const) {
        const v = query[k];
        if (v !== undefined && !["join", "invite", "leave", "ban", "knock"].includes(v)) throw invalidParam(`Invalid ${k}`);
      }
      return { chunk: await s.reader.members(user, parseRoomId(params.roomId!), at, query.membership, query.not_membership) };
    },
  },

  /** GET /_matrix/client/v3/rooms/{roomId}/joined_members */
  getJoinedMembersByRoom: {
    method: "GET", path: "/_matrix/client/v3/rooms/:roomId/joined_members", auth: "user", guest: true,
    handler: async ({ user, params }, s) => ({ joined: await s.reader.joinedMembers(user, parseRoomId(params.roomId!)) }),
  },

  /** GET /_matrix/client/v3/rooms/{roomId}/messages */
  getRoomEvents: {
    action: "history", method: "GET", path: "/_matrix/client/v3/rooms/:roomId/messages", auth: "user", guest: true,
    async handler({ user, params, query }, s) {
      const dir = query.dir ?? "b";
      if (dir !== "b" && dir !== "f") throw invalidParam("dir must be 'b' or 'f'");
      return s.reader.messages(user, parseRoomId(params.roomId!), {
        from: query.from !== undefined ? parseToken(query.from, "from").pos : null,
        to: query.to !== undefined ? parseToken(query.to, "to").pos : null,
        dir,
        limit: parseLimit(query.limit, 10, 1000),
        filter: parseFilter(query.filter),
      });
    },
  },

  /** GET /_matrix/client/v3/rooms/{roomId}/context/{eventId} */
  getEventContext: {
    action: "history", method: "GET", path: "/_matrix/client/v3/rooms/:roomId/context/:eventId", auth: "user", guest: true,
    handler: ({ user, params, query }, s) =>
      s.reader.context(user, parseRoomId(params.roomId!), parseEventId(params.eventId!), parseLimit(query.limit, 10, 1000), parseFilter(query.filter)),
  },

  /** GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event */
  getEventByTimestamp: {
    method: "GET", path: "/_matrix/client/v1/rooms/:roomId/timestamp_to_event", auth: "user",
    async handler({ user, params, query }, s) {
      if (query.ts === undefined || !/^\d{1,16}$/.test(query.ts)) throw new MatrixError(400, "M_INVALID_PARAM", "ts must be a timestamp in milliseconds");
      if (query.dir !== "f" && query.dir !== "b") throw new MatrixError(400, "M_INVALID_PARAM", "dir must be 'f' or 'b'");
      return s.reader.eventAtTimestamp(user, parseRoomId(params.roomId!), Number(query.ts), query.dir);
    },
  },
});
