// Every admin route, found from the route tables: someone who is not a server admin gets 403
// M_FORBIDDEN, no token 401; and every /_synapse/admin path is admin-only but the two Synapse
// leaves public (shared-secret registration, the server version).
import { expect } from "chai";
import { routeTables } from "../../src/api/index.js";
import type { RouteDef } from "../../src/http/route.js";
import { useServer } from "../helpers/server.js";

const PUBLIC = new Set(["/_synapse/admin/v1/register", "/_synapse/admin/v1/server_version"]);
const routes = routeTables.flatMap((t) => Object.values(t) as RouteDef[]);

describe("admin API: refusals on every admin route", () => {
  const t = useServer();

  it("every /_synapse/admin route is admin-only, but the public two", () => {
    const synapse = routes.filter((r) => r.path.startsWith("/_synapse/admin/"));
    expect(synapse.length).to.be.greaterThan(60);
    for (const r of synapse) {
      if (PUBLIC.has(r.path)) expect(r.admin, r.path).to.not.equal(true);
      else expect(r.admin, `${r.method} ${r.path}`).to.equal(true);
    }
  });

  it("a plain user gets 403 M_FORBIDDEN and no token 401, before anything else is looked at", async () => {
    const plain = await t.s.client().register();
    const admin = routes.filter((r) => r.admin);
    for (const r of admin) {
      const path = r.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => (name === "userId" ? encodeURIComponent(plain.userId) : name === "roomId" || name === "roomIdOrAlias" ? encodeURIComponent("!x:localhost") : "x"));
      const opts = r.method === "GET" ? {} : { body: {} };
      const res = await plain.req(r.method, path, opts);
      expect(res.status, `${r.method} ${path}`).to.equal(403);
      expect(res.body.errcode, `${r.method} ${path}`).to.equal("M_FORBIDDEN");
      const anon = await t.s.client().req(r.method, path, opts);
      expect(anon.status, `anonymous ${r.method} ${path}`).to.equal(401);
    }
  });
});
