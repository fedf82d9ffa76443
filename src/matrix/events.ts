// Room events: the PDU shape, hashes, event IDs, signing, redaction (each as the room version says).
// https://spec.matrix.org/latest/server-server-api/#calculating-the-reference-hash-for-an-event
import { createHash, randomBytes, sign as edSign, type KeyObject } from "node:crypto";
import { canonicalJson } from "./canonical-json.js";
import type { EventId, RoomId, UserId } from "./ids.js";
import { roomVersion, type RoomVersion } from "./room-versions.js";

/** What every event has, in either form. */
interface EventCore {
  room_id: RoomId;
  sender: UserId;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
  redacts?: EventId;
}

/** The full event as a server keeps it (federation-ready), without `unsigned`. */
export interface Pdu extends EventCore {
  depth: number;
  prev_events: EventId[];
  auth_events: EventId[];
  hashes: { sha256: string };
  signatures: Record<string, Record<string, string>>;
}

/** An event as clients see it. */
export interface ClientEvent extends EventCore {
  event_id: EventId;
  unsigned?: Record<string, unknown>;
}

export const unpaddedB64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "");
export const urlsafeB64 = (b: Buffer) => b.toString("base64url");

/** Content hash: sha256 of the canonical JSON without unsigned, signatures and hashes. */
export function contentHash(pdu: Omit<Pdu, "hashes" | "signatures">): string {
  const { ...rest } = pdu as unknown as Record<string, unknown>;
  delete rest.unsigned;
  delete rest.signatures;
  delete rest.hashes;
  return unpaddedB64(createHash("sha256").update(canonicalJson(rest), "utf8").digest());
}

/** The bytes both the signature and the event ID cover: the redacted event without signatures and unsigned. */
function redactedBytes(pdu: Pdu, roomVersion: string): Buffer {
  const redacted = redactPdu(pdu, roomVersion) as unknown as Record<string, unknown>;
  delete redacted.signatures;
  delete redacted.unsigned;
  return Buffer.from(canonicalJson(redacted), "utf8");
}

/** The event ID the reference hash gives (room versions 3 on), or null where the server picks one (v1-2). */
function idFromHash(hash: Buffer, v: RoomVersion): EventId | null {
  if (v.eventIdFormat === "urlsafe") return `$${urlsafeB64(hash)}` as EventId;
  if (v.eventIdFormat === "base64") return `$${unpaddedB64(hash)}` as EventId;
  return null;
}

/** Event ID: from the reference hash (v3 on); v1-2 IDs are chosen by the server (signAndIdentify). */
export function eventIdOf(pdu: Pdu, version: string): EventId {
  const id = idFromHash(createHash("sha256").update(redactedBytes(pdu, version)).digest(), roomVersion(version));
  if (!id) throw new Error(`Event IDs of room version ${version} are not derived from the event`);
  return id;
}

/** A v1-2 event ID: `$` + 18 random characters + `:` + this server's name (spec: room versions 1 and 2). */
export function serverEventId(serverName: string): EventId {
  return `$${randomBytes(14).toString("base64url").slice(0, 18)}:${serverName}` as EventId;
}

/**
 * Signs the event with the server's ed25519 key (as federation requires) and returns its ID:
 * the reference hash in the version's encoding, or for v1-2 the `event_id` the PDU carries.
 */
export function signAndIdentify(pdu: Pdu, version: string, serverName: string, keyId: string, key: KeyObject): EventId {
  const bytes = redactedBytes(pdu, version);
  pdu.signatures = { [serverName]: { [keyId]: unpaddedB64(edSign(null, bytes, key)) } };
  const id = idFromHash(createHash("sha256").update(bytes).digest(), roomVersion(version));
  if (id) return id;
  const own = (pdu as unknown as { event_id?: unknown }).event_id;
  if (typeof own !== "string") throw new Error(`A room version ${version} event needs its event_id`);
  return own as EventId;
}

const TOP_KEYS_V11 = new Set(["event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth", "prev_events", "auth_events", "origin_server_ts"]);
const TOP_KEYS_V1 = new Set([...TOP_KEYS_V11, "prev_state", "origin", "membership"]);

function allowedContentKeys(type: string, v: RoomVersion): string[] | "all" {
  switch (type) {
    case "m.room.member": return [
      "membership",
      ...(v.redactJoinAuthorised ? ["join_authorised_via_users_server"] : []),
      ...(v.v11Redaction ? ["third_party_invite"] : []),
    ];
    case "m.room.create": return v.v11Redaction ? "all" : ["creator"];
    case "m.room.join_rules": return v.restrictedJoins ? ["join_rule", "allow"] : ["join_rule"];
    case "m.room.power_levels": return v.v11Redaction
      ? ["ban", "events", "events_default", "invite", "kick", "redact", "state_default", "users", "users_default"]
      : ["ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"];
    case "m.room.aliases": return v.specialAliases ? ["aliases"] : [];
    case "m.room.history_visibility": return ["history_visibility"];
    case "m.room.redaction": return v.v11Redaction ? ["redacts"] : [];
    default: return [];
  }
}

/** The redaction algorithm of the room's version. Works on PDUs and client events. */
export function redactPdu<T extends { type: string; content: Record<string, unknown> }>(ev: T, version: string): T {
  const v = roomVersion(version);
  const keep = v.v11Redaction ? TOP_KEYS_V11 : TOP_KEYS_V1;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(ev)) if (keep.has(k)) out[k] = x;
  const allowed = allowedContentKeys(ev.type, v);
  const content: Record<string, unknown> = {};
  if (allowed === "all") Object.assign(content, ev.content);
  else {
    for (const k of allowed) {
      if (!(k in ev.content)) continue;
      if (k === "third_party_invite") {
        const tpi = ev.content[k] as Record<string, unknown> | null;
        if (tpi && typeof tpi === "object" && "signed" in tpi) content[k] = { signed: tpi.signed };
      } else content[k] = ev.content[k];
    }
  }
  out.content = content;
  return out as T;
}

/** Redacts a client-format event: the same algorithm, keeping the client-only keys. */
export function redactClientEvent(ev: ClientEvent, roomVersion: string): ClientEvent {
  const r = redactPdu(ev, roomVersion) as ClientEvent;
  r.event_id = ev.event_id;
  r.room_id = ev.room_id;
  r.sender = ev.sender;
  r.origin_server_ts = ev.origin_server_ts;
  if (ev.state_key !== undefined) r.state_key = ev.state_key;
  return r;
}

/** An event as served once redacted: the room version's algorithm, and what redacted it. */
export function redactedForm(ev: ClientEvent, version: string, redaction: ClientEvent): ClientEvent {
  const { unsigned: _u, ...because } = redaction;
  return { ...redactClientEvent(ev, version), unsigned: { redacted_because: because } };
}
