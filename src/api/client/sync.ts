// sync.yaml and filter.yaml
import { MatrixError, forbidden, invalidParam, notFound } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { check, compile } from "../../http/validate.js";
import { filterSchema, type Filter } from "../../matrix/filter.js";
import { parseUserId } from "../../matrix/ids.js";
import { parseToken } from "../../matrix/tokens.js";

const validateFilter = compile<Filter>(filterSchema);
// Clients hold a long-poll open for up to this long; longer timeouts are cut to it.
const MAX_TIMEOUT_MS = 5 * 60 * 1000;

export default defineRoutes({
  /** GET /_matrix/client/v3/sync */
  sync: {
    method: "GET", path: "/_matrix/client/v3/sync", auth: "user", guest: true,
    async handler({ user, query, res }, s) {
      let filter: Filter = {};
      if (query.filter !== undefined) {
        if (query.filter.trim().startsWith("{")) {
          let parsed: unknown;
          try { parsed = JSON.parse(query.filter); } catch { throw new MatrixError(400, "M_NOT_JSON", "filter is not JSON"); }
          filter = check(validateFilter, parsed);
        } else {
          const f = await s.accountData.getFilter(user.userId, query.filter);
          if (!f) throw invalidParam("No such filter");
          filter = f as Filter;
        }
      }
      let timeoutMs = 0;
      if (query.timeout !== undefined) {
        if (!/^\d{1,12}$/.test(query.timeout)) throw invalidParam("timeout must be a whole number of milliseconds");
        timeoutMs = Math.min(Number(query.timeout), MAX_TIMEOUT_MS);
      }
      if (query.set_presence !== undefined && !["online", "offline", "unavailable"].includes(query.set_presence)) {
        throw invalidParam("set_presence must be online, offline or unavailable");
      }
      // Per response, not per socket: a keep-alive socket carries many long-polls. Only a
      // connection that goes away before the answer cancels the wait.
      const closed = new AbortController();
      res.once("close", () => { if (!res.writableFinished) closed.abort(); });
      const since = query.since !== undefined ? parseToken(query.since, "since") : null;
      return s.sync.sync(user, {
        since: since?.pos ?? null,
        sinceTyping: since?.ephemeral[0] ?? 0,
        sincePresence: since?.ephemeral[1] ?? 0,
        setPresence: query.set_presence as "online" | "offline" | "unavailable" | undefined,
        timeoutMs,
        fullState: query.full_state === "true",
        filter,
        signal: closed.signal,
        shutdown: s.shutdown.signal,
      });
    },
  },

  /** POST /_matrix/client/v3/user/{userId}/filter */
  defineFilter: {
    method: "POST", path: "/_matrix/client/v3/user/:userId/filter", auth: "user", guest: true, body: filterSchema,
    async handler({ user, params, body }, s) {
      if (parseUserId(params.userId!) !== user.userId) throw forbidden("You can only create filters for yourself");
      if (Buffer.byteLength(JSON.stringify(body)) > 65536) throw new MatrixError(413, "M_TOO_LARGE", "Filter too large");
      return { filter_id: await s.accountData.createFilter(user.userId, body) };
    },
  },

  /** GET /_matrix/client/v3/user/{userId}/filter/{filterId} */
  getFilter: {
    method: "GET", path: "/_matrix/client/v3/user/:userId/filter/:filterId", auth: "user", guest: true,
    async handler({ user, params }, s) {
      if (parseUserId(params.userId!) !== user.userId) throw forbidden("You can only read your own filters");
      const f = await s.accountData.getFilter(user.userId, params.filterId!);
      if (!f) throw notFound("No such filter");
      return f;
    },
  },
});
