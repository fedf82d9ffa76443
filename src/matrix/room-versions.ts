// Room versions this server can create and serve, as one table of the properties that differ
// between them. https://spec.matrix.org/latest/rooms/ (v1.md … v12.md)
// Code elsewhere asks the table (`roomVersion(id).knocking`), never compares version numbers.
import { MatrixError } from "../http/errors.js";

export interface RoomVersion {
  id: string;
  /**
   * Event IDs: "server" (`$random:server`, v1-2), "base64" (`$` + standard unpadded base64 of
   * the reference hash, v3), "urlsafe" (URL-safe unpadded base64 of it, v4 on).
   */
  eventIdFormat: "server" | "base64" | "urlsafe";
  /** m.room.aliases has its own auth rule and survives redaction (v1-5). */
  specialAliases: boolean;
  /** Changes to `notifications` power levels are checked like the others (v6 on). */
  notificationsAuth: boolean;
  /** `knock` memberships and the `knock` join rule (v7 on). */
  knocking: boolean;
  /** The `restricted` join rule, `allow` kept by redaction (v8 on). */
  restrictedJoins: boolean;
  /** `join_authorised_via_users_server` kept by redaction (v9 on). */
  redactJoinAuthorised: boolean;
  /** The `knock_restricted` join rule; power levels must be integers, not strings (v10 on). */
  knockRestricted: boolean;
  integerPowerLevels: boolean;
  /**
   * v11's changes: no `creator` in m.room.create (its sender is the creator), redaction keeps
   * all of m.room.create, `invite` of power levels, `redacts` of redactions, the signed part of
   * a third-party invite, and drops the top-level `origin`, `membership` and `prev_state`.
   */
  v11Redaction: boolean;
  createHasCreator: boolean;
  /**
   * v12 (MSC4289, MSC4291): the create event's sender and `additional_creators` are creators,
   * above every power level and never in `users`; the room ID is `!` + the create event's
   * reference hash, and the create event is not listed in `auth_events`.
   */
  privilegedCreators: boolean;
  roomIdFromCreate: boolean;
}

const base: Omit<RoomVersion, "id"> = {
  eventIdFormat: "server", specialAliases: true, notificationsAuth: false, knocking: false, restrictedJoins: false,
  redactJoinAuthorised: false, knockRestricted: false, integerPowerLevels: false, v11Redaction: false, createHasCreator: true,
  privilegedCreators: false, roomIdFromCreate: false,
};

// Each version is the one before it with its changes.
const changes: [string, Partial<RoomVersion>][] = [
  ["1", {}],
  ["2", {}], // state resolution v2 (a federation matter)
  ["3", { eventIdFormat: "base64" }],
  ["4", { eventIdFormat: "urlsafe" }],
  ["5", {}], // signing key validity (federation)
  ["6", { specialAliases: false, notificationsAuth: true }], // and strict canonical JSON
  ["7", { knocking: true }],
  ["8", { restrictedJoins: true }],
  ["9", { redactJoinAuthorised: true }],
  ["10", { knockRestricted: true, integerPowerLevels: true }],
  ["11", { v11Redaction: true, createHasCreator: false }],
  ["12", { privilegedCreators: true, roomIdFromCreate: true }],
];

const TABLE = new Map<string, RoomVersion>();
{
  let prev: Omit<RoomVersion, "id"> = base;
  for (const [id, c] of changes) {
    const v = { ...prev, ...c, id };
    TABLE.set(id, Object.freeze(v));
    prev = v;
  }
}

/** Every version this server serves, with its stability (for /capabilities). */
export const SUPPORTED_ROOM_VERSIONS: Record<string, "stable" | "unstable"> = Object.fromEntries([...TABLE.keys()].map((k) => [k, "stable"]));

export function isSupportedRoomVersion(id: unknown): id is string {
  return typeof id === "string" && TABLE.has(id);
}

/** The version's properties; a version this server does not know is 400 M_UNSUPPORTED_ROOM_VERSION. */
export function roomVersion(id: string): RoomVersion {
  const v = TABLE.get(id);
  if (!v) throw new MatrixError(400, "M_UNSUPPORTED_ROOM_VERSION", `Room version ${id} is not supported`);
  return v;
}

// Canonical JSON: from v6 on, events with floats or integers beyond ±(2^53 - 1) are invalid.
// This server refuses them in every version (assertCanonicalizable): the events it creates are
// strict canonical JSON whatever the room version, so their hashes never depend on how a float
// is written.
