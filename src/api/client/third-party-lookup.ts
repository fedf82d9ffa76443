// third_party_lookup.yaml: the protocols application services declare, and lookups of their
// locations (portal rooms) and users, asked of the services that bridge them.
import { missingParam, notFound } from "../../http/errors.js";
import type { Services } from "../../services/index.js";
import { defineRoutes } from "../../http/route.js";

export default defineRoutes({
  /** GET /_matrix/client/v3/thirdparty/protocols: each declared protocol its service describes. */
  getProtocols: {
    method: "GET", path: "/_matrix/client/v3/thirdparty/protocols", auth: "user",
    async handler(_ctx, s) {
      const names = [...new Set(s.appservices.all.flatMap((a) => a.protocols))];
      const out: Record<string, unknown> = {};
      await Promise.all(names.map(async (n) => {
        const p = await s.appservices.protocol(n);
        if (p) out[n] = p;
      }));
      return out;
    },
  },

  /** GET /_matrix/client/v3/thirdparty/protocol/{protocol} */
  getProtocolMetadata: {
    method: "GET", path: "/_matrix/client/v3/thirdparty/protocol/:protocol", auth: "user",
    async handler({ params }, s) {
      const p = await s.appservices.protocol(params.protocol!);
      if (!p) throw notFound("Unknown protocol");
      return p;
    },
  },

  /** GET /_matrix/client/v3/thirdparty/location/{protocol}?fields… */
  queryLocationByProtocol: {
    method: "GET", path: "/_matrix/client/v3/thirdparty/location/:protocol", auth: "user",
    handler: ({ params, query }, s) => lookup(s, "location", params.protocol!, query, "No portal rooms were found"),
  },

  /** GET /_matrix/client/v3/thirdparty/user/{protocol}?fields… */
  queryUserByProtocol: {
    method: "GET", path: "/_matrix/client/v3/thirdparty/user/:protocol", auth: "user",
    handler: ({ params, query }, s) => lookup(s, "user", params.protocol!, query, "No users were found"),
  },

  /** GET /_matrix/client/v3/thirdparty/location?alias= */
  queryLocationByAlias: {
    method: "GET", path: "/_matrix/client/v3/thirdparty/location", auth: "user",
    handler: ({ query }, s) => {
      if (!query.alias) throw missingParam("alias is required");
      return lookup(s, "location", null, { alias: query.alias }, "No portal rooms were found");
    },
  },

  /** GET /_matrix/client/v3/thirdparty/user?userid= */
  queryUserByID: {
    method: "GET", path: "/_matrix/client/v3/thirdparty/user", auth: "user",
    handler: ({ query }, s) => {
      if (!query.userid) throw missingParam("userid is required");
      return lookup(s, "user", null, { userid: query.userid }, "No users were found");
    },
  },
});

async function lookup(s: Services, kind: "location" | "user", protocol: string | null, query: Record<string, string | undefined>, none: string): Promise<unknown[]> {
  if (protocol !== null && !s.appservices.all.some((a) => a.protocols.includes(protocol))) throw notFound("Unknown protocol");
  const fields = Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === "string" && e[0] !== "access_token"));
  const found = await s.appservices.thirdParty(kind, protocol, fields);
  if (found.length === 0) throw notFound(none);
  return found;
}
