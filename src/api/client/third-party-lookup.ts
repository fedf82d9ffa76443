// third_party_lookup.yaml: the protocols application services declare.
import { notFound } from "../../http/errors.js";
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
});
