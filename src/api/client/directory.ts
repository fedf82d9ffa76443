// directory.yaml and list_public_rooms.yaml
import { forbidden, invalidParam, notFound } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { bool, int, obj, str } from "../../http/validate.js";
import { parseRoomId } from "../../matrix/ids.js";

export default defineRoutes({
  /** PUT /_matrix/client/v3/directory/room/{roomAlias} */
  setRoomAlias: {
    method: "PUT", path: "/_matrix/client/v3/directory/room/:roomAlias", auth: "user", body: obj({ room_id: str(255) }, ["room_id"]),
    async handler({ user, params, body }, s) {
      await s.directory.setAlias(user, params.roomAlias!, parseRoomId((body as { room_id: string }).room_id));
      return {};
    },
  },

  /** GET /_matrix/client/v3/directory/room/{roomAlias} */
  getRoomIdByAlias: {
    method: "GET", path: "/_matrix/client/v3/directory/room/:roomAlias", auth: "none",
    handler: ({ params }, s) => s.directory.resolve(params.roomAlias!),
  },

  /** DELETE /_matrix/client/v3/directory/room/{roomAlias} */
  deleteRoomAlias: {
    method: "DELETE", path: "/_matrix/client/v3/directory/room/:roomAlias", auth: "user",
    async handler({ user, params }, s) {
      await s.directory.deleteAlias(user, params.roomAlias!);
      return {};
    },
  },

  /** GET /_matrix/client/v3/rooms/{roomId}/aliases */
  getLocalAliases: {
    method: "GET", path: "/_matrix/client/v3/rooms/:roomId/aliases", auth: "user",
    handler: async ({ user, params }, s) => ({ aliases: await s.directory.roomAliases(user.userId, parseRoomId(params.roomId!)) }),
  },

  /** GET /_matrix/client/v3/directory/list/room/{roomId} */
  getRoomVisibilityOnDirectory: {
    method: "GET", path: "/_matrix/client/v3/directory/list/room/:roomId", auth: "none",
    handler: async ({ params }, s) => ({ visibility: await s.directory.visibility(parseRoomId(params.roomId!)) }),
  },

  /** PUT /_matrix/client/v3/directory/list/room/{roomId} */
  setRoomVisibilityOnDirectory: {
    method: "PUT", path: "/_matrix/client/v3/directory/list/room/:roomId", auth: "user", body: obj({ visibility: { enum: ["public", "private"] } }),
    async handler({ user, params, body }, s) {
      await s.directory.setVisibility(user, parseRoomId(params.roomId!), (body as { visibility?: "public" | "private" }).visibility ?? "public");
      return {};
    },
  },

  /** GET /_matrix/client/v3/publicRooms */
  getPublicRooms: {
    method: "GET", path: "/_matrix/client/v3/publicRooms", auth: "optional",
    async handler({ query }, s) {
      let limit: number | undefined;
      if (query.limit !== undefined) {
        if (!/^\d{1,6}$/.test(query.limit)) throw invalidParam("limit must be a number");
        limit = Number(query.limit);
      }
      return s.directory.publicRooms({ limit, since: query.since, instance: query.third_party_instance_id, allNetworks: query.include_all_networks === "true" });
    },
  },

  /** POST /_matrix/client/v3/publicRooms */
  queryPublicRooms: {
    method: "POST", path: "/_matrix/client/v3/publicRooms", auth: "user",
    body: obj({
      // since: null is read as absent (the first page), as clients that send every key do.
      limit: int(0), since: { type: ["string", "null"], maxLength: 64 }, include_all_networks: bool, third_party_instance_id: str(255),
      filter: obj({ generic_search_term: str(1000), room_types: { type: "array", items: { type: ["string", "null"] } } }),
    }),
    handler: ({ body }, s) => {
      const b = body as { limit?: number; since?: string | null; filter?: { generic_search_term?: string }; include_all_networks?: boolean; third_party_instance_id?: string };
      return s.directory.publicRooms({
        limit: b.limit, since: b.since ?? undefined, term: b.filter?.generic_search_term,
        instance: b.third_party_instance_id, allNetworks: b.include_all_networks === true,
      });
    },
  },

  /** PUT /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}: the service's own list. */
  updateAppserviceRoomDirectoryVisibility: {
    method: "PUT", path: "/_matrix/client/v3/directory/list/appservice/:networkId/:roomId", auth: "user",
    body: obj({ visibility: { enum: ["public", "private"] } }, ["visibility"]),
    async handler({ user, params, body }, s) {
      if (!user.appserviceId) throw forbidden("Only an application service may publish to its own room list");
      const roomId = parseRoomId(params.roomId!);
      if (!(await s.rooms.cachedRoom(roomId))) throw notFound("Unknown room");
      await s.directory.setAppserviceListed(user.appserviceId, params.networkId!, roomId, (body as { visibility: string }).visibility === "public");
      return {};
    },
  },

  /** DELETE /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId} (as the reference serves it: unlisting). */
  deleteAppserviceRoomDirectoryVisibility: {
    method: "DELETE", path: "/_matrix/client/v3/directory/list/appservice/:networkId/:roomId", auth: "user",
    async handler({ user, params }, s) {
      if (!user.appserviceId) throw forbidden("Only an application service may change its own room list");
      await s.directory.setAppserviceListed(user.appserviceId, params.networkId!, parseRoomId(params.roomId!), false);
      return {};
    },
  },
});
