// Smaller endpoints clients call at start-up or now and then: voip.yaml, third-party IDs
// (administrative_contact.yaml), users.yaml (user directory), space_hierarchy.yaml,
// report_content.yaml (events, rooms, users), openid.yaml, admin.yaml.
import { createHmac } from "node:crypto";
import { MatrixError, forbidden, notFound } from "../../http/errors.js";
import { defineRoutes, type RouteTable } from "../../http/route.js";
import { int, obj, parseLimit, str } from "../../http/validate.js";
import { type UserId, parseEventId, parseRoomId, parseUserId } from "../../matrix/ids.js";
import type { Services } from "../../services/index.js";
import { whois } from "../admin/users.js";

async function roomSummary({ user, params }: { user: { userId: UserId } | null; params: Record<string, string | undefined> }, s: Services): Promise<unknown> {
  const roomId = await s.membership.resolveRoom(params.roomIdOrAlias!);
  return s.userDirectory.roomSummary(user?.userId ?? null, roomId);
}

/**
 * The requestToken endpoints (registration.yaml, administrative_contact.yaml,
 * password_management.yaml) while the server sends neither email nor SMS: the error codes
 * v1.13 gives them (MSC4178). Adding an address: 400 M_THREEPID_MEDIUM_NOT_SUPPORTED;
 * registering or resetting a password with one: 403 M_THREEPID_DENIED.
 */
function threepidTokenRoutes(): RouteTable {
  const table: RouteTable = {};
  // Email addresses: threepid.ts (with SMTP configured, and the same answers without).
  for (const medium of ["msisdn"] as const) {
    const what = "phone numbers";
    const add = () => { throw new MatrixError(400, "M_THREEPID_MEDIUM_NOT_SUPPORTED", `This server does not support adding ${what}`); };
    const denied = () => { throw new MatrixError(403, "M_THREEPID_DENIED", `This server does not verify ${what}`); };
    table[`request3pidToken_${medium}`] = { method: "POST", path: `/_matrix/client/v3/account/3pid/${medium}/requestToken`, auth: "none", handler: add };
    table[`requestRegisterToken_${medium}`] = { method: "POST", path: `/_matrix/client/v3/register/${medium}/requestToken`, auth: "none", handler: denied };
    table[`requestPasswordToken_${medium}`] = { method: "POST", path: `/_matrix/client/v3/account/password/${medium}/requestToken`, auth: "none", handler: denied };
  }
  return table;
}

export default defineRoutes({
  /** GET /_matrix/client/v3/voip/turnServer: coturn REST credentials from the shared secret. */
  getTurnServer: {
    method: "GET", path: "/_matrix/client/v3/voip/turnServer", auth: "user", guest: true,
    handler: ({ user }, s) => {
      const v = s.config.voip;
      if (v.turn_uris.length === 0 || !v.turn_shared_secret) return {};
      const username = `${Math.floor((Date.now() + v.turn_ttl_ms) / 1000)}:${user.userId}`;
      const password = createHmac("sha1", v.turn_shared_secret).update(username).digest("base64");
      return { username, password, uris: v.turn_uris, ttl: Math.floor(v.turn_ttl_ms / 1000) };
    },
  },

  ...threepidTokenRoutes(),

  /** POST /_matrix/client/v3/user_directory/search */
  searchUserDirectory: {
    method: "POST", path: "/_matrix/client/v3/user_directory/search", auth: "user",
    body: obj({ search_term: str(1024), limit: int(0, 1000) }, ["search_term"]),
    handler: ({ user, body }, s) => {
      const b = body as { search_term: string; limit?: number };
      return s.userDirectory.search(user.userId, b.search_term, Math.min(b.limit ?? 10, 100));
    },
  },

  /** GET /_matrix/client/v1/rooms/{roomId}/hierarchy */
  getSpaceHierarchy: {
    method: "GET", path: "/_matrix/client/v1/rooms/:roomId/hierarchy", auth: "user", guest: true,
    handler: ({ user, params, query }, s) => {
      if (query.max_depth !== undefined && !/^\d{1,3}$/.test(query.max_depth)) throw new MatrixError(400, "M_INVALID_PARAM", "max_depth must be a number");
      if (query.from !== undefined) throw new MatrixError(400, "M_INVALID_PARAM", "Unknown from token");
      return s.userDirectory.hierarchy(user.userId, parseRoomId(params.roomId!), Math.min(Number(query.max_depth ?? 3), 10), parseLimit(query.limit, 50, 200), query.suggested_only === "true");
    },
  },

  /** GET /_matrix/client/v1/room_summary/{roomIdOrAlias} (v1.15; MSC3266). */
  getRoomSummary: { method: "GET", path: "/_matrix/client/v1/room_summary/:roomIdOrAlias", auth: "optional", guest: true, handler: roomSummary },
  /** The unstable paths of MSC3266 that matrix-js-sdk asks first (room previews, knocking). */
  getRoomSummaryUnstable: { method: "GET", path: "/_matrix/client/unstable/im.nheko.summary/summary/:roomIdOrAlias", auth: "optional", guest: true, handler: roomSummary },
  getRoomSummaryUnstableOld: { method: "GET", path: "/_matrix/client/unstable/im.nheko.summary/rooms/:roomIdOrAlias/summary", auth: "optional", guest: true, handler: roomSummary },

  /** POST /_matrix/client/v3/rooms/{roomId}/report/{eventId} */
  reportEvent: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/report/:eventId", auth: "user",
    body: obj({ reason: str(4096), score: int(-100, 0) }),
    async handler({ user, params, body }, s) {
      // Only an event the reporter can see (404 otherwise, as the spec asks).
      await s.reader.visibleEvent(user, parseRoomId(params.roomId!), parseEventId(params.eventId!));
      const b = body as { reason?: string; score?: number };
      await s.reports.report(user.userId, params.roomId!, params.eventId!, b.reason ?? null, b.score ?? null);
      return {};
    },
  },

  /** POST /_matrix/client/v3/rooms/{roomId}/report */
  reportRoom: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/report", auth: "user",
    body: obj({ reason: str(4096) }, ["reason"]),
    async handler({ user, params, body }, s) {
      const room = await s.roomCache.get(parseRoomId(params.roomId!));
      if (!room) throw notFound("Unknown room");
      await s.reports.report(user.userId, params.roomId!, null, (body as { reason?: string }).reason ?? null, null);
      return {};
    },
  },

  /** POST /_matrix/client/v3/users/{userId}/report (v1.14). A local user who does not exist is 404,
   *  as the spec describes; a user of another server cannot be checked and is taken as given. */
  reportUser: {
    method: "POST", path: "/_matrix/client/v3/users/:userId/report", auth: "user",
    body: obj({ reason: str(4096) }, ["reason"]),
    async handler({ user, params, body }, s) {
      const target = parseUserId(params.userId!);
      if (target.endsWith(`:${s.config.server_name}`) && !(await s.accounts.userExists(target))) throw notFound("The user was not found");
      await s.reports.reportUser(user.userId, target, (body as { reason: string }).reason);
      return {};
    },
  },

  /** POST /_matrix/client/v3/user/{userId}/openid/request_token */
  requestOpenIdToken: {
    method: "POST", path: "/_matrix/client/v3/user/:userId/openid/request_token", auth: "user",
    async handler({ user, params }, s) {
      if (parseUserId(params.userId!) !== user.userId) throw forbidden("You can only request tokens for yourself");
      const t = await s.reports.openIdToken(user.userId);
      return { access_token: t.access_token, token_type: "Bearer", matrix_server_name: s.config.server_name, expires_in: t.expires_in };
    },
  },

  /** GET /_matrix/federation/v1/openid/userinfo: who an OpenID token belongs to (integration managers ask). */
  openIdUserInfo: {
    method: "GET", path: "/_matrix/federation/v1/openid/userinfo", auth: "none",
    async handler({ query }, s) {
      const token = query.access_token;
      if (!token) throw new MatrixError(401, "M_UNKNOWN_TOKEN", "Missing token");
      const sub = await s.reports.openIdUser(token);
      if (!sub) throw new MatrixError(401, "M_UNKNOWN_TOKEN", "Unknown or expired token");
      return { sub };
    },
  },

  /** GET /_matrix/client/v3/admin/whois/{userId}: server admins, or the user about themselves. */
  getWhoIs: {
    method: "GET", path: "/_matrix/client/v3/admin/whois/:userId", auth: "user",
    async handler({ user, params }, s) {
      const target = parseUserId(params.userId!);
      if (target !== user.userId && !user.isAdmin) throw forbidden("Only server admins can look up other users");
      if (!(await s.accounts.userExists(target))) throw notFound("User not found");
      return whois(s, target);
    },
  },
});
