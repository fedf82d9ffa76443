// The rooms admin API at Synapse's paths: list and search, details, members, state, block,
// delete (v1 at once, v2 in the background with a status), make a user a room admin; and the
// event reports the /report endpoints store.
import { invalidParam, notFound } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { bool, obj, str } from "../../http/validate.js";
import { parseRoomId, parseUserId, type RoomId } from "../../matrix/ids.js";
import type { Services } from "../../services/index.js";
import type { DeleteOptions } from "../../services/room-admin.js";
import * as adminRooms from "../../store/admin-rooms.js";
import * as reports from "../../store/admin-reports.js";
import { boolParam, direction, paging } from "./params.js";

async function known(s: Services, id: string): Promise<RoomId> {
  const roomId = parseRoomId(id);
  if (!(await s.db("rooms").where({ room_id: roomId }).first("room_id"))) throw notFound("Room not found");
  return roomId;
}

type PurgeBody = { delete_local_events?: boolean; purge_up_to_event_id?: string; purge_up_to_ts?: number };

async function purge(s: Services, room: string, eventId: string | undefined, b: PurgeBody): Promise<{ purge_id: string }> {
  const roomId = await known(s, room);
  const id = eventId ?? b.purge_up_to_event_id;
  return { purge_id: await s.roomAdmin.startPurgeHistory(roomId, { ...(id ? { eventId: id } : {}), ...(b.purge_up_to_ts !== undefined ? { ts: b.purge_up_to_ts } : {}) }, b.delete_local_events === true) };
}

const deleteBody = obj({
  new_room_user_id: str(255), room_name: str(255), message: str(65536), block: bool, purge: bool, force_purge: bool,
});

export default defineRoutes({
  adminListRooms: {
    method: "GET", path: "/_synapse/admin/v1/rooms", auth: "user", admin: true,
    async handler({ query }, s) {
      const { from, limit } = paging(query);
      const dir = direction(query.dir, "f");
      if (query.order_by !== undefined && !(query.order_by in adminRooms.ROOM_ORDERS)) throw invalidParam(`Unknown order_by: ${query.order_by}`);
      const r = await adminRooms.listRooms(s.db, s.config.server_name, {
        from, limit, dir, orderBy: query.order_by ?? "name", search: query.search_term ?? null,
        publicRooms: boolParam(query.public_rooms), emptyRooms: boolParam(query.empty_rooms),
      });
      const rooms = r.rooms.map(({ topic: _t, avatar: _a, ...rest }) => rest);
      return {
        rooms, offset: from, total_rooms: r.total,
        ...(from + rooms.length < r.total ? { next_batch: from + rooms.length, next_token: from + rooms.length } : {}),
        ...(from > 0 ? { prev_batch: Math.max(0, from - limit) } : {}),
      };
    },
  },

  adminRoomDetails: {
    method: "GET", path: "/_synapse/admin/v1/rooms/:roomId", auth: "user", admin: true,
    async handler({ params }, s) {
      const roomId = parseRoomId(params.roomId!);
      const r = await adminRooms.selectRoomSummary(s.db, s.config.server_name, roomId);
      if (!r) throw notFound("Room not found");
      const devices = await s.db.raw(
        `SELECT count(*)::int AS n FROM devices d JOIN current_state cs ON cs.state_key = d.user_id
         WHERE cs.room_id = ? AND cs.type = 'm.room.member' AND cs.membership = 'join'`, [roomId]);
      const forgotten = await s.db.raw(
        `SELECT NOT EXISTS (SELECT 1 FROM current_state cs WHERE cs.room_id = ? AND cs.type = 'm.room.member' AND cs.state_key LIKE ?
           AND NOT EXISTS (SELECT 1 FROM forgotten_rooms f WHERE f.room_id = cs.room_id AND f.user_id = cs.state_key)) AS all_forgot`,
        [roomId, `%:${s.config.server_name}`]);
      return { ...r, joined_local_devices: Number(devices.rows[0].n), forgotten: forgotten.rows[0].all_forgot === true };
    },
  },

  adminRoomMembers: {
    method: "GET", path: "/_synapse/admin/v1/rooms/:roomId/members", auth: "user", admin: true,
    async handler({ params }, s) {
      const members = await adminRooms.selectMembers(s.db, await known(s, params.roomId!));
      return { members, total: members.length };
    },
  },

  adminRoomState: {
    method: "GET", path: "/_synapse/admin/v1/rooms/:roomId/state", auth: "user", admin: true,
    async handler({ params, query }, s) {
      const roomId = await known(s, params.roomId!);
      const rows = await s.db("current_state as cs").join("events as e", "e.event_id", "cs.event_id").where("cs.room_id", roomId)
        .modify((b) => { if (query.type) b.where("cs.type", query.type); }).orderBy(["cs.type", "cs.state_key"]).select("e.json");
      return { state: rows.map((r: { json: Record<string, unknown> }) => ({ ...r.json, room_id: roomId })) };
    },
  },

  /** GET /_synapse/admin/v1/rooms/{roomId}/forward_extremities: history here is linear, so one (the latest event). */
  adminForwardExtremities: {
    method: "GET", path: "/_synapse/admin/v1/rooms/:roomId/forward_extremities", auth: "user", admin: true,
    async handler({ params }, s) {
      const roomId = await known(s, params.roomId!);
      const r = await s.db.raw(`SELECT e.event_id, e.depth, e.origin_server_ts FROM rooms r JOIN events e ON e.event_id = r.head_event_id WHERE r.room_id = ?`, [roomId]);
      const results = r.rows.map((x: { event_id: string; depth: string; origin_server_ts: string }) => ({ event_id: x.event_id, state_group: null, depth: Number(x.depth), received_ts: Number(x.origin_server_ts) }));
      return { count: results.length, results };
    },
  },

  /** No federation: no destinations (synapse-admin's page lists none). */
  adminFederationDestinations: {
    method: "GET", path: "/_synapse/admin/v1/federation/destinations", auth: "user", admin: true,
    handler: () => ({ destinations: [], total: 0 }),
  },

  adminGetBlock: {
    method: "GET", path: "/_synapse/admin/v1/rooms/:roomId/block", auth: "user", admin: true,
    async handler({ params }, s) {
      const b = await adminRooms.isBlocked(s.db, parseRoomId(params.roomId!));
      return b ? { block: true, user_id: b.user_id } : { block: false };
    },
  },

  adminSetBlock: {
    method: "PUT", path: "/_synapse/admin/v1/rooms/:roomId/block", auth: "user", admin: true, body: obj({ block: bool }, ["block"]),
    async handler({ user, params, body }, s) {
      const block = (body as { block: boolean }).block;
      await adminRooms.setBlocked(s.db, parseRoomId(params.roomId!), user.userId, block);
      return { block };
    },
  },

  /** DELETE /_synapse/admin/v1/rooms/{roomId}: shut down (and by default purge), answered when done. */
  adminDeleteRoomV1: {
    method: "DELETE", path: "/_synapse/admin/v1/rooms/:roomId", auth: "user", admin: true, body: deleteBody,
    handler: async ({ user, params, body }, s) => s.roomAdmin.deleteNow(parseRoomId(params.roomId!), body as DeleteOptions, user.userId),
  },

  /** DELETE /_synapse/admin/v2/rooms/{roomId}: started, answered with a delete_id at once. */
  adminDeleteRoomV2: {
    method: "DELETE", path: "/_synapse/admin/v2/rooms/:roomId", auth: "user", admin: true, body: deleteBody,
    handler: async ({ user, params, body }, s) => ({ delete_id: await s.roomAdmin.startDelete(parseRoomId(params.roomId!), body as DeleteOptions, user.userId) }),
  },

  adminDeleteStatusByRoom: {
    method: "GET", path: "/_synapse/admin/v2/rooms/:roomId/delete_status", auth: "user", admin: true,
    async handler({ params }, s) {
      const results = await adminRooms.selectDeletions(s.db, { room_id: parseRoomId(params.roomId!) });
      if (!results.length) throw notFound("No delete task for room");
      return { results };
    },
  },

  adminDeleteStatus: {
    method: "GET", path: "/_synapse/admin/v2/rooms/delete_status/:deleteId", auth: "user", admin: true,
    async handler({ params }, s) {
      const [d] = await adminRooms.selectDeletions(s.db, { delete_id: params.deleteId! });
      if (!d) throw notFound("delete id not found");
      return d;
    },
  },

  adminMakeRoomAdmin: {
    method: "POST", path: "/_synapse/admin/v1/rooms/:roomIdOrAlias/make_room_admin", auth: "user", admin: true, body: obj({ user_id: str(255) }),
    async handler({ user, params, body }, s) {
      const roomId = await known(s, await s.membership.resolveRoom(params.roomIdOrAlias!));
      const target = (body as { user_id?: string }).user_id;
      await s.roomAdmin.makeRoomAdmin(roomId, target ? parseUserId(target) : user.userId);
      return {};
    },
  },

  adminPurgeHistory: {
    method: "POST", path: "/_synapse/admin/v1/purge_history/:roomId", auth: "user", admin: true,
    body: obj({ delete_local_events: bool, purge_up_to_event_id: str(255), purge_up_to_ts: { type: "integer", minimum: 0 } }),
    handler: async ({ params, body }, s) => purge(s, params.roomId!, undefined, body as PurgeBody),
  },

  adminPurgeHistoryTo: {
    method: "POST", path: "/_synapse/admin/v1/purge_history/:roomId/:eventId", auth: "user", admin: true,
    body: obj({ delete_local_events: bool }),
    handler: async ({ params, body }, s) => purge(s, params.roomId!, params.eventId!, body as PurgeBody),
  },

  adminPurgeHistoryStatus: {
    method: "GET", path: "/_synapse/admin/v1/purge_history_status/:purgeId", auth: "user", admin: true,
    async handler({ params }, s) {
      const [d] = await adminRooms.selectDeletions(s.db, { delete_id: params.purgeId! });
      if (!d) throw notFound("purge id not found");
      return { status: d.status === "scheduled" ? "active" : d.status, ...(d.error ? { error: d.error } : {}) };
    },
  },

  adminListEventReports: {
    method: "GET", path: "/_synapse/admin/v1/event_reports", auth: "user", admin: true,
    async handler({ query }, s) {
      const { from, limit } = paging(query);
      const dir = direction(query.dir, "b");
      const r = await reports.listReports(s.db, { from, limit, dir, userId: query.user_id ?? null, roomId: query.room_id ?? null });
      return { event_reports: r.reports, total: r.total, ...(from + r.reports.length < r.total ? { next_token: from + r.reports.length } : {}) };
    },
  },

  adminGetEventReport: {
    method: "GET", path: "/_synapse/admin/v1/event_reports/:reportId", auth: "user", admin: true,
    async handler({ params }, s) {
      const id = Number(params.reportId);
      if (!Number.isSafeInteger(id) || id < 0) throw invalidParam("The report ID must be an integer");
      const r = await reports.selectReport(s.db, id);
      if (!r) throw notFound("Event report not found");
      return r;
    },
  },

  adminDeleteEventReport: {
    method: "DELETE", path: "/_synapse/admin/v1/event_reports/:reportId", auth: "user", admin: true,
    async handler({ params }, s) {
      const id = Number(params.reportId);
      if (!Number.isSafeInteger(id) || id < 0) throw invalidParam("The report ID must be an integer");
      if (!(await reports.deleteReport(s.db, id))) throw notFound("Event report not found");
      return {};
    },
  },
});
