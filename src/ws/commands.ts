// The WebSocket commands other than auth, ping and sync: each is the HTTP endpoint of the same
// name, run through the same route code (http/route.ts invoke), so validation, auth rules,
// rate limits and errcodes are those of HTTP. Params are named as in the endpoint: path
// parameters in snake_case (room_id, event_type...), body fields as the body has them.
import type { RouteDef } from "../http/route.js";
import type { Schema } from "../http/validate.js";
import receipts from "../api/client/receipts.js";
import presence from "../api/client/presence.js";
import roomEvents from "../api/client/room-events.js";

const id = { type: "string", minLength: 1, maxLength: 255 };

export interface Command {
  /** Schema of the frame's params. */
  params: Schema;
  route: RouteDef;
  /** Path parameters and body for the route, from the frame's params. */
  map(p: Record<string, unknown>, userId: string): { params: Record<string, string>; body: unknown };
}

/** Everything in `p` but the listed keys: the route's body. */
const rest = (p: Record<string, unknown>, ...keys: string[]) => Object.fromEntries(Object.entries(p).filter(([k]) => !keys.includes(k)));

export const COMMANDS: Record<string, Command> = {
  /** PUT /rooms/{roomId}/send/{eventType}/{txnId}; idempotent on txn_id, like HTTP (per device). */
  send: {
    params: { type: "object", required: ["room_id", "type", "content", "txn_id"], properties: { room_id: id, type: id, txn_id: id, content: { type: "object" } } },
    route: roomEvents.sendMessage,
    map: (p) => ({ params: { roomId: p.room_id as string, eventType: p.type as string, txnId: p.txn_id as string }, body: p.content }),
  },
  /** PUT /rooms/{roomId}/state/{eventType}/{stateKey} */
  state: {
    params: { type: "object", required: ["room_id", "type", "content"], properties: { room_id: id, type: id, state_key: { type: "string", maxLength: 255 }, content: { type: "object" } } },
    route: roomEvents.setRoomStateWithKey,
    map: (p) => ({ params: { roomId: p.room_id as string, eventType: p.type as string, stateKey: (p.state_key as string | undefined) ?? "" }, body: p.content }),
  },
  /** PUT /rooms/{roomId}/typing/{userId} (for the connection's user) */
  typing: {
    params: { type: "object", required: ["room_id"], properties: { room_id: id } },
    route: receipts.setTyping,
    map: (p, userId) => ({ params: { roomId: p.room_id as string, userId }, body: rest(p, "room_id") }),
  },
  /** POST /rooms/{roomId}/receipt/{receiptType}/{eventId} */
  receipt: {
    params: { type: "object", required: ["room_id", "receipt_type", "event_id"], properties: { room_id: id, receipt_type: id, event_id: id } },
    route: receipts.postReceipt,
    map: (p) => ({ params: { roomId: p.room_id as string, receiptType: p.receipt_type as string, eventId: p.event_id as string }, body: rest(p, "room_id", "receipt_type", "event_id") }),
  },
  /** POST /rooms/{roomId}/read_markers */
  read_markers: {
    params: { type: "object", required: ["room_id"], properties: { room_id: id } },
    route: receipts.setReadMarker,
    map: (p) => ({ params: { roomId: p.room_id as string }, body: rest(p, "room_id") }),
  },
  /** PUT /presence/{userId}/status (for the connection's user) */
  presence: {
    params: { type: "object" },
    route: presence.setPresence,
    map: (p, userId) => ({ params: { userId }, body: p }),
  },
};
