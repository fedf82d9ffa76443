// The media admin API at Synapse's paths: a user's media (list, delete), deleting by ID or by
// age and size, quarantining by media, room or user (a quarantined file is no longer served),
// a room's media; and server notices (/_synapse/admin/v1/send_server_notice).
import { invalidParam, missingParam, notFound } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { anyObject, obj, str } from "../../http/validate.js";
import { parseRoomId, parseUserId, serverNameOf, type UserId } from "../../matrix/ids.js";
import type { Services } from "../../services/index.js";
import * as media from "../../store/admin-media.js";
import { direction, paging } from "./params.js";

function localUser(s: Services, id: string): UserId {
  const userId = parseUserId(id);
  if (serverNameOf(userId) !== s.config.server_name) throw invalidParam("Can only look up local users");
  return userId;
}

function listQuery(q: Record<string, string | undefined>): media.MediaListQuery {
  const { from, limit } = paging(q);
  if (q.order_by !== undefined && !(q.order_by in media.MEDIA_ORDERS)) throw invalidParam(`Unknown order_by: ${q.order_by}`);
  // Neither given: newest first (Synapse's default).
  const dir = direction(q.dir, q.order_by === undefined ? "b" : "f");
  return { from, limit, orderBy: q.order_by ?? "created_ts", dir };
}

function ownMedia(s: Services, serverName: string): void {
  if (serverName !== s.config.server_name) throw invalidParam("Can only act on local media");
}

const notice = obj({ user_id: str(255), content: anyObject, type: str(255), state_key: str(255) }, ["user_id", "content"]);
type Notice = { user_id: string; content: Record<string, unknown>; type?: string; state_key?: string };

export default defineRoutes({
  adminListUserMedia: {
    method: "GET", path: "/_synapse/admin/v1/users/:userId/media", auth: "user", admin: true,
    async handler({ params, query }, s) {
      const userId = localUser(s, params.userId!);
      if (!(await s.accounts.userExists(userId))) throw notFound("Unknown user");
      const o = listQuery(query);
      const r = await media.listUserMedia(s.db, userId, o);
      return { media: r.media, total: r.total, ...(o.from + r.media.length < r.total ? { next_token: o.from + r.media.length } : {}) };
    },
  },

  adminDeleteUserMedia: {
    method: "DELETE", path: "/_synapse/admin/v1/users/:userId/media", auth: "user", admin: true,
    async handler({ params, query }, s) {
      const userId = localUser(s, params.userId!);
      if (!(await s.accounts.userExists(userId))) throw notFound("Unknown user");
      const r = await media.listUserMedia(s.db, userId, listQuery(query));
      const deleted = await s.media.remove(r.media.map((m) => m.media_id));
      return { deleted_media: deleted, total: deleted.length };
    },
  },

  adminMediaInfo: {
    method: "GET", path: "/_synapse/admin/v1/media/:serverName/:mediaId", auth: "user", admin: true,
    async handler({ params }, s) {
      ownMedia(s, params.serverName!);
      const m = await media.selectMedia(s.db, params.mediaId!);
      if (!m) throw notFound("Unknown media");
      return { media_info: m };
    },
  },

  adminDeleteMedia: {
    method: "DELETE", path: "/_synapse/admin/v1/media/:serverName/:mediaId", auth: "user", admin: true,
    async handler({ params }, s) {
      ownMedia(s, params.serverName!);
      const deleted = await s.media.remove([params.mediaId!]);
      if (!deleted.length) throw notFound("Unknown media");
      return { deleted_media: deleted, total: deleted.length };
    },
  },

  /** POST /_synapse/admin/v1/media/delete?before_ts=&size_gt=&keep_profiles= (also at /media/{serverName}/delete) */
  adminDeleteOldMedia: {
    method: "POST", path: "/_synapse/admin/v1/media/delete", auth: "user", admin: true,
    async handler({ query }, s) {
      if (query.before_ts === undefined) throw missingParam("before_ts is required");
      const before = Number(query.before_ts);
      const sizeGt = query.size_gt === undefined ? 0 : Number(query.size_gt);
      if (!Number.isSafeInteger(before) || before < 0) throw invalidParam("before_ts must be a timestamp in milliseconds");
      if (!Number.isSafeInteger(sizeGt) || sizeGt < 0) throw invalidParam("size_gt must be a non-negative integer");
      const ids = await media.selectOldMedia(s.db, before, sizeGt, query.keep_profiles !== "false");
      const deleted = await s.media.remove(ids);
      return { deleted_media: deleted, total: deleted.length };
    },
  },

  adminQuarantineMedia: {
    method: "POST", path: "/_synapse/admin/v1/media/quarantine/:serverName/:mediaId", auth: "user", admin: true,
    async handler({ user, params }, s) {
      ownMedia(s, params.serverName!);
      await media.quarantine(s.db, [params.mediaId!], user.userId);
      return {};
    },
  },

  adminUnquarantineMedia: {
    method: "POST", path: "/_synapse/admin/v1/media/unquarantine/:serverName/:mediaId", auth: "user", admin: true,
    async handler({ params }, s) {
      ownMedia(s, params.serverName!);
      await media.quarantine(s.db, [params.mediaId!], null);
      return {};
    },
  },

  adminProtectMedia: {
    method: "POST", path: "/_synapse/admin/v1/media/protect/:mediaId", auth: "user", admin: true,
    handler: async ({ params }, s) => { await media.protect(s.db, params.mediaId!, true); return {}; },
  },

  adminUnprotectMedia: {
    method: "POST", path: "/_synapse/admin/v1/media/unprotect/:mediaId", auth: "user", admin: true,
    handler: async ({ params }, s) => { await media.protect(s.db, params.mediaId!, false); return {}; },
  },

  adminQuarantineRoomMedia: {
    method: "POST", path: "/_synapse/admin/v1/room/:roomId/media/quarantine", auth: "user", admin: true,
    async handler({ user, params }, s) {
      const ids = await media.roomMediaIds(s.db, parseRoomId(params.roomId!), s.config.server_name);
      return { num_quarantined: await media.quarantine(s.db, ids, user.userId) };
    },
  },

  adminQuarantineUserMedia: {
    method: "POST", path: "/_synapse/admin/v1/user/:userId/media/quarantine", auth: "user", admin: true,
    async handler({ user, params }, s) {
      const ids = await media.userMediaIds(s.db, localUser(s, params.userId!));
      return { num_quarantined: await media.quarantine(s.db, ids, user.userId) };
    },
  },

  adminRoomMedia: {
    method: "GET", path: "/_synapse/admin/v1/room/:roomId/media", auth: "user", admin: true,
    async handler({ params }, s) {
      const ids = await media.roomMediaIds(s.db, parseRoomId(params.roomId!), s.config.server_name);
      return { local: ids.map((id) => `mxc://${s.config.server_name}/${id}`), remote: [] };
    },
  },

  /** GET /_synapse/admin/v1/statistics/users/media: uploads per user, largest first by default. */
  adminUserMediaStatistics: {
    method: "GET", path: "/_synapse/admin/v1/statistics/users/media", auth: "user", admin: true,
    async handler({ query }, s) {
      const o = paging(query);
      const orders: Record<string, string> = { user_id: "user_id", displayname: "displayname", media_count: "media_count", media_length: "media_length" };
      const order = query.order_by ?? "media_length";
      if (!(order in orders)) throw invalidParam(`Unknown order_by: ${order}`);
      const dir = direction(query.dir, "b");
      const r = await media.userStatistics(s.db, { from: o.from, limit: o.limit, orderBy: orders[order]!, dir, search: query.search_term ?? null });
      return { users: r.users, total: r.total, ...(o.from + r.users.length < r.total ? { next_token: o.from + r.users.length } : {}) };
    },
  },

  adminSendServerNotice: {
    method: "POST", path: "/_synapse/admin/v1/send_server_notice", auth: "user", admin: true, body: notice,
    handler: async ({ body }, s) => ({ event_id: await s.notices.send(body as Notice, null) }),
  },

  adminSendServerNoticeTxn: {
    method: "PUT", path: "/_synapse/admin/v1/send_server_notice/:txnId", auth: "user", admin: true, body: notice,
    handler: async ({ user, params, body }, s) => ({ event_id: await s.notices.send(body as Notice, `${user.userId}|${params.txnId}`) }),
  },
});
