// Registration tokens: the UIA stage (m.login.registration_token), the validity endpoint, and
// the admin API that manages them (Synapse's paths and shapes); non-admins are refused.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { registerAdmin } from "../helpers/admin.js";

const BASE = "/_synapse/admin/v1/registration_tokens";

describe("registration tokens", () => {
  const t = useServer({ registration: { require_token: true } });

  async function registerWith(token: string | null, username: string) {
    const c = t.s.client();
    const first = await c.post("/_matrix/client/v3/register", { username, password: "a password 123" });
    expect(first.status).to.equal(401);
    expect(first.body.flows).to.deep.equal([{ stages: ["m.login.registration_token"] }]);
    if (token === null) return first;
    return c.post("/_matrix/client/v3/register", { username, password: "a password 123", auth: { type: "m.login.registration_token", token, session: first.body.session } });
  }

  it("the admin API creates, lists, updates and deletes tokens; non-admins get 403", async () => {
    const admin = await registerAdmin(t.s);
    const user = await t.s.client().register(undefined, undefined, {}).catch(() => null);
    expect(user, "dummy registration is refused when a token is required").to.equal(null);
    const made = await admin.post(`${BASE}/new`, {});
    expect(made.status).to.equal(200);
    expect(made.body.token).to.match(/^[A-Za-z0-9._~-]{16}$/);
    expect(made.body).to.deep.include({ uses_allowed: null, pending: 0, completed: 0, expiry_time: null });
    const chosen = await admin.post(`${BASE}/new`, { token: "team-2026", uses_allowed: 2, expiry_time: Date.now() + 3_600_000 });
    expect(chosen.status).to.equal(200);
    expect(chosen.body.token).to.equal("team-2026");
    expect((await admin.post(`${BASE}/new`, { token: "team-2026" })).body.errcode).to.equal("M_INVALID_PARAM");
    expect((await admin.post(`${BASE}/new`, { token: "bad token!" })).status).to.equal(400);
    expect((await admin.post(`${BASE}/new`, { uses_allowed: -1 })).status).to.equal(400);
    expect((await admin.post(`${BASE}/new`, { expiry_time: 1000 })).status).to.equal(400);
    expect((await admin.post(`${BASE}/new`, { length: 65 })).status).to.equal(400);
    expect((await admin.post(`${BASE}/new`, { length: 5 })).body.token).to.have.length(5);
    const list = await admin.get(BASE);
    expect(list.body.registration_tokens.map((x: { token: string }) => x.token)).to.include.members([made.body.token, "team-2026"]);
    const upd = await admin.put(`${BASE}/team-2026`, { uses_allowed: 5, expiry_time: null });
    expect(upd.body).to.deep.include({ token: "team-2026", uses_allowed: 5, expiry_time: null });
    expect((await admin.get(`${BASE}/team-2026`)).body.uses_allowed).to.equal(5);
    expect((await admin.get(`${BASE}/nope`)).status).to.equal(404);
    expect((await admin.put(`${BASE}/nope`, {})).status).to.equal(404);
    expect((await admin.del(`${BASE}/${made.body.token}`)).status).to.equal(200);
    expect((await admin.del(`${BASE}/${made.body.token}`)).body.errcode).to.equal("M_NOT_FOUND");

    // Someone who is not an admin: 403 on every path.
    const tok = await admin.post(`${BASE}/new`, { token: "for-plain-user" });
    expect(tok.status).to.equal(200);
    const plain = await registerWith("for-plain-user", "plainuser");
    expect(plain.status).to.equal(200);
    const pc = t.s.client(plain.body.access_token);
    for (const [m, p] of [["GET", BASE], ["POST", `${BASE}/new`], ["GET", `${BASE}/team-2026`], ["PUT", `${BASE}/team-2026`], ["DELETE", `${BASE}/team-2026`]] as const) {
      const r = await pc.req(m, p, m === "GET" || m === "DELETE" ? {} : { body: {} });
      expect(r.status, `${m} ${p}`).to.equal(403);
      expect(r.body.errcode).to.equal("M_FORBIDDEN");
    }
    expect((await t.s.client().get(BASE)).status).to.equal(401);
  });

  it("a token is pending while a registration uses it and completed when it finishes; used up, expired or unknown it is refused", async () => {
    const admin = await registerAdmin(t.s);
    await admin.post(`${BASE}/new`, { token: "once", uses_allowed: 1 });
    const v = (token: string) => t.s.client().get(`/_matrix/client/v1/register/m.login.registration_token/validity?token=${token}`);
    expect((await v("once")).body).to.deep.equal({ valid: true });
    expect((await v("unknown")).body).to.deep.equal({ valid: false });
    expect((await t.s.client().get("/_matrix/client/v1/register/m.login.registration_token/validity")).body.errcode).to.equal("M_MISSING_PARAM");

    const wrong = await registerWith("unknown", "tokuser0");
    expect(wrong.status).to.equal(401);
    expect(wrong.body.errcode).to.equal("M_UNAUTHORIZED");

    // The stage accepted: pending (so no one else may take the last use), not yet completed.
    const c = t.s.client();
    const first = await c.post("/_matrix/client/v3/register", { username: "tokuser1", password: "a password 123" });
    const taken = await c.post("/_matrix/client/v3/register", { auth: { type: "m.login.registration_token", token: "once", session: first.body.session }, username: "Taken-By-Nobody" , password: "a password 123" });
    expect(taken.status).to.equal(200);
    const got = (await admin.get(`${BASE}/once`)).body;
    expect(got).to.deep.include({ pending: 0, completed: 1 });
    expect((await v("once")).body.valid).to.equal(false);
    const late = await registerWith("once", "tokuser2");
    expect(late.status).to.equal(401);
    expect(late.body.errcode).to.equal("M_UNAUTHORIZED");

    // Two sessions race for the last use: one gets it, the other is refused while it is pending.
    await admin.post(`${BASE}/new`, { token: "last", uses_allowed: 1 });
    const a = t.s.client(), b = t.s.client();
    const sa = (await a.post("/_matrix/client/v3/register", { username: "racer-a", password: "a password 123" })).body.session;
    const sb = (await b.post("/_matrix/client/v3/register", { username: "racer-b", password: "a password 123" })).body.session;
    const [ra, rb] = await Promise.all([
      a.post("/_matrix/client/v3/register", { auth: { type: "m.login.registration_token", token: "last", session: sa } }),
      b.post("/_matrix/client/v3/register", { auth: { type: "m.login.registration_token", token: "last", session: sb } }),
    ]);
    expect([ra.status, rb.status].sort()).to.deep.equal([200, 401]);
    expect((await admin.get(`${BASE}/last`)).body).to.deep.include({ pending: 0, completed: 1 });

    // Expired.
    await admin.post(`${BASE}/new`, { token: "soon", expiry_time: Date.now() + 300 });
    await new Promise((r) => setTimeout(r, 400));
    expect((await v("soon")).body.valid).to.equal(false);
    expect((await registerWith("soon", "tokuser3")).body.errcode).to.equal("M_UNAUTHORIZED");
    expect((await admin.get(`${BASE}?valid=false`)).body.registration_tokens.map((x: { token: string }) => x.token)).to.include.members(["once", "last", "soon"]);
    expect((await admin.get(`${BASE}?valid=true`)).body.registration_tokens.map((x: { token: string }) => x.token)).to.not.include("soon");
  });
});

describe("registration tokens: registration off", () => {
  const t = useServer({ registration: { enabled: false } });
  it("the validity endpoint says registration is off (403)", async () => {
    const r = await t.s.client().get("/_matrix/client/v1/register/m.login.registration_token/validity?token=x");
    expect(r.status).to.equal(403);
    expect(r.body.errcode).to.equal("M_FORBIDDEN");
  });
});
