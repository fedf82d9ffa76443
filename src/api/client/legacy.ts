// The deprecated streams (services/legacy.ts): GET /initialSync, GET /rooms/{roomId}/initialSync,
// GET /events and GET /events/{eventId}. The spec still lists them; new clients use /sync.
import { MatrixError } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { parseLimit } from "../../http/validate.js";
import { parseRoomId } from "../../matrix/ids.js";

/** The longest /events waits (as /sync). */
const MAX_TIMEOUT_MS = 300_000;

export default defineRoutes({
  /** GET /_matrix/client/v3/initialSync */
  initialSync: {
    method: "GET", path: "/_matrix/client/v3/initialSync", auth: "user", guest: true,
    handler: ({ user, query }, s) => {
      if (query.archived !== undefined && query.archived !== "true" && query.archived !== "false") throw new MatrixError(400, "M_INVALID_PARAM", "archived must be true or false");
      return s.legacy.initialSync(user, parseLimit(query.limit, 10, 500), query.archived === "true");
    },
  },

  /** GET /_matrix/client/v3/rooms/{roomId}/initialSync */
  roomInitialSync: {
    method: "GET", path: "/_matrix/client/v3/rooms/:roomId/initialSync", auth: "user", guest: true,
    handler: ({ user, params, query }, s) => s.legacy.roomInitialSync(user, parseRoomId(params.roomId!), parseLimit(query.limit, 10, 500)),
  },

  /** GET /_matrix/client/v3/events */
  getEvents: {
    method: "GET", path: "/_matrix/client/v3/events", auth: "user", guest: true,
    handler: ({ user, query, res }, s) => {
      let timeoutMs = 30_000;
      if (query.timeout !== undefined) {
        if (!/^\d{1,12}$/.test(query.timeout)) throw new MatrixError(400, "M_INVALID_PARAM", "timeout must be a whole number of milliseconds");
        timeoutMs = Math.min(Number(query.timeout), MAX_TIMEOUT_MS);
      }
      // The old API's limit is checked; each room gives at most STREAM_LIMIT events (legacy.ts).
      if (query.limit !== undefined) parseLimit(query.limit, 10, 1000);
      const closed = new AbortController();
      res.once("close", () => { if (!res.writableFinished) closed.abort(); });
      const roomId = query.room_id !== undefined ? parseRoomId(query.room_id) : null;
      return s.legacy.events(user, query.from, timeoutMs, roomId, closed.signal);
    },
  },

  /** GET /_matrix/client/v3/events/{eventId} */
  getOneEvent: {
    method: "GET", path: "/_matrix/client/v3/events/:eventId", auth: "user", guest: true,
    handler: ({ user, params }, s) => s.legacy.event(user, params.eventId!),
  },
});
