// Building a PDU from a draft, in the shape of the room's version: what the event writer signs
// and what a v12 room's ID is computed from (services/event-writer.ts).
import { contentHash, serverEventId, type ClientEvent, type Pdu } from "../matrix/events.js";
import type { StateLookup } from "../matrix/auth-rules.js";
import type { EventId, RoomId } from "../matrix/ids.js";
import type { RoomVersion } from "../matrix/room-versions.js";
import type { EventDraft } from "./event-writer.js";

/**
 * The PDU of a draft, unsigned, in the room version's shape: `redacts` in the content from v11
 * on (at the top level before), `origin` before v11, no `room_id` in a v12 create event (the
 * room ID is its hash), the server-chosen `event_id` inside v1-2 events.
 */
export function buildPdu(v: RoomVersion, roomId: RoomId, head: { eventId: EventId; depth: number } | null, state: StateLookup, d: EventDraft, serverName: string): Pdu {
  const content = d.type === "m.room.redaction" && v.v11Redaction && d.redacts ? { ...d.content, redacts: d.redacts } : d.content;
  const pdu: Record<string, unknown> = {
    ...(v.eventIdFormat === "server" ? { event_id: serverEventId(serverName) } : {}),
    ...(v.roomIdFromCreate && d.type === "m.room.create" ? {} : { room_id: roomId }),
    sender: d.sender,
    type: d.type,
    ...(d.stateKey !== undefined ? { state_key: d.stateKey } : {}),
    content,
    origin_server_ts: d.ts ?? Date.now(),
    depth: (head?.depth ?? 0) + 1,
    prev_events: head ? [head.eventId] : [],
    auth_events: authEventIds(state, d, v),
    ...(d.type === "m.room.redaction" && !v.v11Redaction && d.redacts ? { redacts: d.redacts } : {}),
    hashes: { sha256: "" },
    signatures: {},
  };
  if (!v.v11Redaction && d.type !== "m.room.create") pdu.origin = serverName;
  const out = pdu as unknown as Pdu;
  out.hashes.sha256 = contentHash(out);
  return out;
}

/** The auth events selection (server-server spec): create, power levels, sender's membership; for memberships also the target's and the join rules. */
function authEventIds(state: StateLookup, d: EventDraft, v: RoomVersion): EventId[] {
  if (d.type === "m.room.create") return [];
  const ids: EventId[] = [];
  const add = (t: string, k: string) => {
    const e = state.get(t, k) as ClientEvent | undefined;
    if (e && !ids.includes(e.event_id)) ids.push(e.event_id);
  };
  if (!v.roomIdFromCreate) add("m.room.create", ""); // v12: implied by the room ID
  add("m.room.power_levels", "");
  add("m.room.member", d.sender);
  if (d.type === "m.room.member" && d.stateKey !== undefined) {
    add("m.room.member", d.stateKey);
    const m = d.content.membership;
    if (m === "join" || m === "invite" || m === "knock") add("m.room.join_rules", "");
  }
  return ids;
}
