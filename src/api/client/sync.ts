// sync.yaml and filter.yaml
import { MatrixError, forbidden, invalidParam, notFound } from "../../http/errors.js";
import { SharedJson, defineRoutes } from "../../http/route.js";
import { check, compile } from "../../http/validate.js";
import { filterSchema, type Filter } from "../../matrix/filter.js";
import { parseUserId, type UserId } from "../../matrix/ids.js";
import type { Services } from "../../services/index.js";
import type { SyncOptions } from "../../services/sync.js";
import { parseToken } from "../../matrix/tokens.js";

const validateFilter = compile<Filter>(filterSchema);
/** Inline filters already parsed and checked, by their text (never mutated once made). */
const inlineFilters = new Map<string, Filter>();
// Clients hold a long-poll open for up to this long; longer timeouts are cut to it.
const MAX_TIMEOUT_MS = 5 * 60 * 1000;

/** The sync parameters shared by GET /sync and the WebSocket's `sync` command. */
export interface SyncParams {
  /** A filter ID, or a filter as JSON text or as an object. */
  filter?: string | Record<string, unknown>;
  since?: string;
  set_presence?: string;
  full_state?: boolean;
  /** true: "state_after"; "unstable": the MSC4222 name. */
  use_state_after?: boolean | "unstable";
}

export async function syncOptions(userId: UserId, p: SyncParams, s: Services): Promise<Omit<SyncOptions, "timeoutMs">> {
  let filter: Filter = {};
  if (typeof p.filter === "object" && p.filter !== null) {
    filter = check(validateFilter, p.filter);
  } else if (p.filter !== undefined) {
    if (p.filter.trim().startsWith("{")) {
      // The same inline filter comes with every long-poll: parsed and checked once.
      const known = inlineFilters.get(p.filter);
      if (known) filter = known;
      else {
        let parsed: unknown;
        try { parsed = JSON.parse(p.filter); } catch { throw new MatrixError(400, "M_NOT_JSON", "filter is not JSON"); }
        filter = check(validateFilter, parsed);
        // Bounded: 1,000 filters of up to 4 KiB of text.
        if (p.filter.length <= 4096) {
          if (inlineFilters.size >= 1000) inlineFilters.clear();
          inlineFilters.set(p.filter, filter);
        }
      }
    } else {
      const f = await s.accountData.getFilter(userId, p.filter);
      if (!f) throw invalidParam("No such filter");
      filter = f as Filter;
    }
  }
  if (p.set_presence !== undefined && !["online", "offline", "unavailable"].includes(p.set_presence)) {
    throw invalidParam("set_presence must be online, offline or unavailable");
  }
  const since = p.since !== undefined ? parseToken(p.since, "since") : null;
  return {
    since: since?.pos ?? null,
    sinceTyping: since?.ephemeral[0] ?? 0,
    sincePresence: since?.ephemeral[1] ?? 0,
    sinceToDevice: since?.ephemeral[2],
    setPresence: p.set_presence as "online" | "offline" | "unavailable" | undefined,
    fullState: p.full_state === true,
    stateAfter: p.use_state_after === true ? "state_after" : p.use_state_after === "unstable" ? "org.matrix.msc4222.state_after" : undefined,
    filter,
  };
}

export default defineRoutes({
  /** GET /_matrix/client/v3/sync */
  sync: {
    method: "GET", path: "/_matrix/client/v3/sync", auth: "user", guest: true,
    async handler({ user, query, res }, s) {
      let timeoutMs = 0;
      if (query.timeout !== undefined) {
        if (!/^\d{1,12}$/.test(query.timeout)) throw invalidParam("timeout must be a whole number of milliseconds");
        timeoutMs = Math.min(Number(query.timeout), MAX_TIMEOUT_MS);
      }
      // Per response, not per socket: a keep-alive socket carries many long-polls. Only a
      // connection that goes away before the answer cancels the wait.
      const closed = new AbortController();
      res.once("close", () => { if (!res.writableFinished) closed.abort(); });
      const opts = await syncOptions(user.userId, {
        filter: query.filter, since: query.since, set_presence: query.set_presence, full_state: query.full_state === "true",
        use_state_after: query.use_state_after === "true" ? true : query["org.matrix.msc4222.use_state_after"] === "true" ? "unstable" : false,
      }, s);
      return new SharedJson(await s.sync.sync(user, { ...opts, timeoutMs, signal: closed.signal, shutdown: s.shutdown.signal }));
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
