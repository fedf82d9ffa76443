// relations.yaml and threads_list.yaml
import { invalidParam } from "../../http/errors.js";
import { defineRoutes, type Ctx } from "../../http/route.js";
import { parseLimit } from "../../http/validate.js";
import { parseEventId, parseRoomId } from "../../matrix/ids.js";
import type { Services } from "../../services/index.js";

async function relations({ user, params, query }: Ctx<unknown>, s: Services): Promise<unknown> {
  const dir = query.dir ?? "b";
  if (dir !== "b" && dir !== "f") throw invalidParam("dir must be 'b' or 'f'");
  if (query.recurse !== undefined && query.recurse !== "true" && query.recurse !== "false") throw invalidParam("recurse must be true or false");
  return s.relations.relations(user, parseRoomId(params.roomId!), parseEventId(params.eventId!), params.relType ?? null, params.eventType ?? null, {
    from: query.from, to: query.to, dir, limit: parseLimit(query.limit, 50, 1000), recurse: query.recurse === "true",
  });
}

export default defineRoutes({
  /** GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId} */
  getRelatingEvents: {
    method: "GET", path: "/_matrix/client/v1/rooms/:roomId/relations/:eventId", auth: "user", guest: true, handler: relations,
  },
  /** GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType} */
  getRelatingEventsWithRelType: {
    method: "GET", path: "/_matrix/client/v1/rooms/:roomId/relations/:eventId/:relType", auth: "user", guest: true, handler: relations,
  },
  /** GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType} */
  getRelatingEventsWithRelTypeAndEventType: {
    method: "GET", path: "/_matrix/client/v1/rooms/:roomId/relations/:eventId/:relType/:eventType", auth: "user", guest: true, handler: relations,
  },
  /** GET /_matrix/client/v1/rooms/{roomId}/threads */
  getThreadRoots: {
    method: "GET", path: "/_matrix/client/v1/rooms/:roomId/threads", auth: "user", guest: true,
    handler: ({ user, params, query }, s) => {
      const include = query.include ?? "all";
      if (include !== "all" && include !== "participated") throw invalidParam("include must be 'all' or 'participated'");
      return s.relations.threads(user, parseRoomId(params.roomId!), include, query.from, parseLimit(query.limit, 20, 100));
    },
  },
});
