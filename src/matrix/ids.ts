// Matrix identifiers, parsed at the edge. https://spec.matrix.org/latest/appendices/#identifier-grammar
// Nothing below a route takes a raw string ID: these branded types are made only here.
import { randomBytes } from "node:crypto";
import { MatrixError } from "../http/errors.js";

export type UserId = string & { readonly __brand: "UserId" };
export type RoomId = string & { readonly __brand: "RoomId" };
export type EventId = string & { readonly __brand: "EventId" };
export type RoomAlias = string & { readonly __brand: "RoomAlias" };
export type DeviceId = string & { readonly __brand: "DeviceId" };

/** The longest any identifier may be, sigil and domain included (appendices: 255 bytes). */
export const MAX_ID_BYTES = 255;

const invalid = (msg: string) => new MatrixError(400, "M_INVALID_PARAM", msg);

// server_name = hostname [ ":" port ]; hostname = IPv4 / "[" IPv6 "]" / DNS name.
const SERVER_NAME_RE = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9.-]{1,255})(?::[0-9]{1,5})?$/;

export function isValidServerName(s: string): boolean {
  return SERVER_NAME_RE.test(s);
}

/** Splits "sigil localpart : server_name". The server name may carry a port, so split at the first colon. */
function splitId(id: string, sigil: string): { localpart: string; serverName: string } | null {
  if (typeof id !== "string" || id.length < 3 || id[0] !== sigil) return null;
  if (Buffer.byteLength(id, "utf8") > MAX_ID_BYTES) return null;
  const colon = id.indexOf(":");
  if (colon < 1) return null;
  const localpart = id.slice(1, colon);
  const serverName = id.slice(colon + 1);
  if (!isValidServerName(serverName)) return null;
  return { localpart, serverName };
}

// Historical user IDs may contain any printable ASCII except ":" (appendices: "historical
// user IDs"); we accept those when parsing, and only the strict grammar for new accounts.
const HISTORICAL_LOCALPART_RE = /^[\x21-\x39\x3B-\x7E]+$/;
/** The grammar new user IDs must follow: a-z, 0-9, and . _ = - / + */
export const STRICT_LOCALPART_RE = /^[a-z0-9._=\-/+]+$/;

export function parseUserId(id: string): UserId {
  const parts = splitId(id, "@");
  if (!parts || !HISTORICAL_LOCALPART_RE.test(parts.localpart)) throw invalid(`Invalid user ID: ${truncate(id)}`);
  return id as UserId;
}

export function tryParseUserId(id: unknown): UserId | null {
  if (typeof id !== "string") return null;
  try { return parseUserId(id); } catch { return null; }
}

/** A room version 12 room ID: `!` + the create event's reference hash (URL-safe base64), no server name. */
const HASH_ROOM_ID_RE = /^![A-Za-z0-9_-]{43}$/;

export function parseRoomId(id: string): RoomId {
  if (typeof id === "string" && HASH_ROOM_ID_RE.test(id)) return id as RoomId;
  const parts = splitId(id, "!");
  if (!parts || parts.localpart.length === 0) throw invalid(`Invalid room ID: ${truncate(id)}`);
  return id as RoomId;
}

export function parseRoomAlias(alias: string): RoomAlias {
  const parts = splitId(alias, "#");
  if (!parts || parts.localpart.length === 0 || /[\s]/.test(parts.localpart)) {
    throw invalid(`Invalid room alias: ${truncate(alias)}`);
  }
  return alias as RoomAlias;
}

export function parseEventId(id: string): EventId {
  if (typeof id !== "string" || id.length < 2 || id[0] !== "$" || Buffer.byteLength(id) > MAX_ID_BYTES) {
    throw invalid(`Invalid event ID: ${truncate(id)}`);
  }
  return id as EventId;
}

export function parseDeviceId(id: string): DeviceId {
  // The spec leaves device IDs opaque; we bound their size and forbid control characters.
  if (typeof id !== "string" || id.length === 0 || id.length > 255 || /[\x00-\x1F\x7F]/.test(id)) {
    throw invalid("Invalid device ID");
  }
  return id as DeviceId;
}

export function localpartOf(id: UserId | RoomAlias): string {
  return id.slice(1, id.indexOf(":"));
}

export function serverNameOf(id: string): string {
  return id.slice(id.indexOf(":") + 1);
}

export function makeUserId(localpart: string, serverName: string): UserId {
  return `@${localpart}:${serverName}` as UserId;
}

export function makeRoomId(serverName: string): RoomId {
  return `!${randomToken(18)}:${serverName}` as RoomId;
}

/** A random string of A-Za-z letters, for device IDs and opaque room IDs. */
export function randomToken(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const bytes = randomBytes(length);
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[bytes[i]! % alphabet.length];
  return out;
}

export function makeDeviceId(): DeviceId {
  return randomToken(10).toUpperCase() as DeviceId;
}

function truncate(s: unknown): string {
  const str = String(s);
  return str.length > 80 ? `${str.slice(0, 80)}…` : str;
}
