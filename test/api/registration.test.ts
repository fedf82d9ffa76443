// registration.yaml and the shared-secret admin registration.
import { createHmac } from "node:crypto";
import { expect } from "chai";
import { startTestServer, useServer, type TestServer } from "../helpers/server.js";
import { withClient } from "../helpers/postgres.js";

const REGISTER = "/_matrix/client/v3/register";

describe("registration", () => {
  const t = useServer();

  it("runs the user-interactive auth round trip with a session", async () => {
    const c = t.s.client();
    const first = await c.post(REGISTER, { username: "uia_alice", password: "secret pass" });
    expect(first.status).to.equal(401);
    expect(first.body.flows).to.deep.equal([{ stages: ["m.login.dummy"] }]);
    expect(first.body.session).to.be.a("string");
    expect(first.body).to.have.property("params");
    expect(first.body).to.not.have.property("errcode");
    // Nothing is created by the 401.
    const avail = await c.get("/_matrix/client/v3/register/available?username=uia_alice");
    expect(avail.status).to.equal(200);
    const second = await c.post(REGISTER, {
      username: "uia_alice", password: "secret pass", initial_device_display_name: "Laptop",
      auth: { type: "m.login.dummy", session: first.body.session },
    });
    expect(second.status).to.equal(200);
    expect(second.body.user_id).to.equal("@uia_alice:localhost");
    expect(second.body.access_token).to.be.a("string");
    expect(second.body.device_id).to.be.a("string");
    const who = await t.s.client(second.body.access_token).get("/_matrix/client/v3/account/whoami");
    expect(who.body).to.deep.equal({ user_id: "@uia_alice:localhost", device_id: second.body.device_id, is_guest: false });
    const dev = await t.s.client(second.body.access_token).get(`/_matrix/client/v3/devices/${second.body.device_id}`);
    expect(dev.body.display_name).to.equal("Laptop");
  });

  it("accepts m.login.dummy in one request without a session", async () => {
    const r = await t.s.client().post(REGISTER, { username: "oneshot", password: "pw", auth: { type: "m.login.dummy" } });
    expect(r.status).to.equal(200);
    expect(r.body.user_id).to.equal("@oneshot:localhost");
  });

  it("refuses a session it does not know", async () => {
    const r = await t.s.client().post(REGISTER, { username: "nosession", password: "pw", auth: { type: "m.login.dummy", session: "made-up" } });
    expect(r.status).to.equal(400);
    expect(r.body.errcode).to.be.a("string");
  });

  it("refuses an auth type not in the flows", async () => {
    const r = await t.s.client().post(REGISTER, { username: "badtype", password: "pw", auth: { type: "m.login.recaptcha" } });
    expect(r.status).to.be.oneOf([400, 401]);
    expect(r.body.flows).to.be.an("array");
  });

  it("user in use: 400 M_USER_IN_USE, case-insensitively", async () => {
    await t.s.client().register("taken");
    const r = await t.s.client().post(REGISTER, { username: "taken", password: "pw", auth: { type: "m.login.dummy" } });
    expect(r.status).to.equal(400);
    expect(r.body.errcode).to.equal("M_USER_IN_USE");
    const upper = await t.s.client().post(REGISTER, { username: "TAKEN", password: "pw", auth: { type: "m.login.dummy" } });
    expect(upper.status).to.equal(400);
    expect(upper.body.errcode).to.equal("M_USER_IN_USE");
  });

  it("lower-cases the requested username", async () => {
    const r = await t.s.client().post(REGISTER, { username: "MixedCase", password: "pw", auth: { type: "m.login.dummy" } });
    expect(r.status).to.equal(200);
    expect(r.body.user_id).to.equal("@mixedcase:localhost");
  });

  for (const bad of ["with space", "bang!", "colon:x", "", "12345", "_reserved", "é"]) {
    it(`invalid username ${JSON.stringify(bad)}: 400 M_INVALID_USERNAME`, async () => {
      const r = await t.s.client().post(REGISTER, { username: bad, password: "pw", auth: { type: "m.login.dummy" } });
      expect(r.status).to.equal(400);
      expect(r.body.errcode).to.equal("M_INVALID_USERNAME");
    });
  }

  it("GET /register/available: true, M_USER_IN_USE, M_INVALID_USERNAME, M_MISSING_PARAM", async () => {
    await t.s.client().register("availcheck");
    const c = t.s.client();
    expect((await c.get("/_matrix/client/v3/register/available?username=freename")).body).to.deep.equal({ available: true });
    const used = await c.get("/_matrix/client/v3/register/available?username=availcheck");
    expect(used.status).to.equal(400);
    expect(used.body.errcode).to.equal("M_USER_IN_USE");
    const bad = await c.get("/_matrix/client/v3/register/available?username=a%20b");
    expect(bad.body.errcode).to.equal("M_INVALID_USERNAME");
    const missing = await c.get("/_matrix/client/v3/register/available");
    expect(missing.status).to.equal(400);
    expect(missing.body.errcode).to.equal("M_MISSING_PARAM");
  });

  it("inhibit_login: only the user ID, no device or token", async () => {
    const r = await t.s.client().post(REGISTER, { username: "inhibited", password: "pw", inhibit_login: true, auth: { type: "m.login.dummy" } });
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ user_id: "@inhibited:localhost" });
  });

  it("uses the requested device_id", async () => {
    const r = await t.s.client().post(REGISTER, { username: "withdevice", password: "pw", device_id: "MYDEVICE", auth: { type: "m.login.dummy" } });
    expect(r.body.device_id).to.equal("MYDEVICE");
  });

  it("a username is generated when none is given", async () => {
    const r = await t.s.client().post(REGISTER, { password: "pw", auth: { type: "m.login.dummy" } });
    expect(r.status).to.equal(200);
    expect(r.body.user_id).to.match(/^@[a-z0-9._=\-/+]+:localhost$/);
  });

  it("sets the display name to the localpart", async () => {
    const u = await t.s.client().register("named");
    const r = await u.get("/_matrix/client/v3/profile/@named:localhost");
    expect(r.body.displayname).to.equal("named");
  });

  it("the session remembers the first request's parameters; repeating the completed request answers the same account", async () => {
    const c = t.s.client();
    const first = await c.post(REGISTER, { username: "remembered", password: "sUp3rs3kr1t", device_id: "DEV1", inhibit_login: false });
    expect(first.status).to.equal(401);
    const session = first.body.session;
    // The password is remembered only as a hash.
    await withClient(t.s.dbUrl, async (db) => {
      const row = await db.query("SELECT params::text AS p FROM uia_sessions WHERE session_id = $1", [session]);
      expect(row.rows[0].p).to.include("password_hash").and.not.to.include("sUp3rs3kr1t");
    });
    const done = await c.post(REGISTER, { auth: { type: "m.login.dummy", session } });
    expect(done.status, done.text).to.equal(200);
    expect(done.body.user_id).to.match(/^@remembered:/);
    expect(done.body.device_id).to.equal("DEV1");
    const again = await c.post(REGISTER, { auth: { type: "m.login.dummy", session } });
    expect(again.status, again.text).to.equal(200);
    expect(again.body.user_id).to.equal(done.body.user_id);
    const login = await c.post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: "remembered" }, password: "sUp3rs3kr1t" });
    expect(login.status, login.text).to.equal(200);
    // inhibit_login remembered too: no device in the answer.
    const f2 = await c.post(REGISTER, { username: "inhibited_later", password: "sUp3rs3kr1t", inhibit_login: true });
    const d2 = await c.post(REGISTER, { auth: { type: "m.login.dummy", session: f2.body.session } });
    expect(d2.body, JSON.stringify(d2.body)).to.have.property("user_id");
    expect(d2.body).not.to.have.property("device_id");
    expect(d2.body).not.to.have.property("access_token");
  });

  it("stores only a hash of the password and of the token", async () => {
    const u = await t.s.client().register("hashcheck", "plain-text-password");
    await withClient(t.s.dbUrl, async (db) => {
      const user = await db.query("SELECT password_hash FROM users WHERE user_id = $1", [u.userId]);
      expect(user.rows[0].password_hash).to.match(/^\$scrypt\$/);
      expect(user.rows[0].password_hash).to.not.include("plain-text-password");
      const tokens = await db.query("SELECT token_hash FROM access_tokens WHERE user_id = $1", [u.userId]);
      expect(tokens.rows).to.have.length(1);
      expect(Buffer.from(tokens.rows[0].token_hash).toString("utf8")).to.not.include(u.token!);
    });
  });

  it("kind=guest is refused when guests are off: 403 M_GUEST_ACCESS_FORBIDDEN", async () => {
    const r = await t.s.client().post(`${REGISTER}?kind=guest`, {});
    expect(r.status).to.equal(403);
    expect(r.body.errcode).to.equal("M_GUEST_ACCESS_FORBIDDEN");
  });

  it("an unknown kind: 400 M_INVALID_PARAM", async () => {
    const r = await t.s.client().post(`${REGISTER}?kind=robot`, {});
    expect(r.status).to.equal(400);
    expect(r.body.errcode).to.equal("M_INVALID_PARAM");
  });

  describe("shared-secret admin registration", () => {
    const mac = (secret: string, nonce: string, user: string, pw: string, admin: boolean) =>
      createHmac("sha1", secret).update(`${nonce}\x00${user}\x00${pw}\x00${admin ? "admin" : "notadmin"}`).digest("hex");

    it("creates a user with a valid MAC, once per nonce", async () => {
      const c = t.s.client();
      const { body: { nonce } } = await c.get("/_synapse/admin/v1/register");
      expect(nonce).to.be.a("string");
      const secret = t.s.config.registration.shared_secret!;
      const body = { nonce, username: "adminmade", password: "pw", admin: true, mac: mac(secret, nonce, "adminmade", "pw", true) };
      const r = await c.post("/_synapse/admin/v1/register", body);
      expect(r.status).to.equal(200);
      expect(r.body.user_id).to.equal("@adminmade:localhost");
      expect(r.body.access_token).to.be.a("string");
      const again = await c.post("/_synapse/admin/v1/register", { ...body, username: "adminmade2", mac: mac(secret, nonce, "adminmade2", "pw", true) });
      expect(again.status).to.equal(400);
    });

    it("refuses a wrong MAC", async () => {
      const c = t.s.client();
      const { body: { nonce } } = await c.get("/_synapse/admin/v1/register");
      const r = await c.post("/_synapse/admin/v1/register", { nonce, username: "forged", password: "pw", mac: mac("wrong-secret-wrong-secret", nonce, "forged", "pw", false) });
      expect(r.status).to.equal(403);
      expect(r.body.errcode).to.equal("M_FORBIDDEN");
    });
  });
});

describe("registration settings", () => {
  let s: TestServer;
  afterEach(async () => { await s?.hs.close(); });

  it("registration.enabled false: 403 M_FORBIDDEN, but shared-secret registration still works", async () => {
    s = await startTestServer({ registration: { enabled: false, shared_secret: "another-shared-secret-123" } });
    const r = await s.client().post(REGISTER, { username: "closed", password: "pw", auth: { type: "m.login.dummy" } });
    expect(r.status).to.equal(403);
    expect(r.body.errcode).to.equal("M_FORBIDDEN");
    const { body: { nonce } } = await s.client().get("/_synapse/admin/v1/register");
    const mac = createHmac("sha1", "another-shared-secret-123").update(`${nonce}\x00opened\x00pw\x00notadmin`).digest("hex");
    const ok = await s.client().post("/_synapse/admin/v1/register", { nonce, username: "opened", password: "pw", mac });
    expect(ok.status).to.equal(200);
  });

  it("without a shared secret the admin registration is off", async () => {
    s = await startTestServer({ registration: { shared_secret: null } });
    const r = await s.client().get("/_synapse/admin/v1/register");
    expect(r.status).to.equal(400);
  });

  it("allow_guests: a guest account with a numeric ID, refused on non-guest endpoints", async () => {
    s = await startTestServer({ registration: { allow_guests: true } });
    const r = await s.client().post(`${REGISTER}?kind=guest`, {});
    expect(r.status).to.equal(200);
    expect(r.body.user_id).to.match(/^@\d+:localhost$/);
    const guest = s.client(r.body.access_token);
    const who = await guest.get("/_matrix/client/v3/account/whoami");
    expect(who.body.is_guest).to.equal(true);
    const devices = await guest.get("/_matrix/client/v3/devices");
    expect(devices.status).to.equal(403);
    expect(devices.body.errcode).to.equal("M_GUEST_ACCESS_FORBIDDEN");
    // Of the profile, a guest may set the display name only (spec: guest access).
    const me = encodeURIComponent(r.body.user_id);
    expect((await guest.put(`/_matrix/client/v3/profile/${me}/displayname`, { displayname: "Visitor" })).status).to.equal(200);
    const avatar = await guest.put(`/_matrix/client/v3/profile/${me}/avatar_url`, { avatar_url: "mxc://localhost/x" });
    expect(avatar.status).to.equal(403);
    expect(avatar.body.errcode).to.equal("M_GUEST_ACCESS_FORBIDDEN");
  });

  it("rate limits registration per address: 429 M_LIMIT_EXCEEDED with retry_after_ms and Retry-After", async () => {
    s = await startTestServer({ rate_limiting: { enabled: true, registration: { per_second: 0.1, burst: 3 } } });
    const statuses: number[] = [];
    let limited: any = null;
    for (let i = 0; i < 5; i++) {
      const r = await s.client().get(`/_matrix/client/v3/register/available?username=rl${i}`);
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(statuses.slice(0, 3)).to.deep.equal([200, 200, 200]);
    expect(limited, "no 429").to.not.equal(null);
    expect(limited.body.errcode).to.equal("M_LIMIT_EXCEEDED");
    expect(limited.body.retry_after_ms).to.be.a("number").greaterThan(0);
    expect(Number(limited.headers.get("retry-after"))).to.be.greaterThan(0);
  });

  it("password_min_length: a short password is M_WEAK_PASSWORD", async () => {
    s = await startTestServer({ registration: { password_min_length: 8 } });
    const r = await s.client().post(REGISTER, { username: "weak", password: "short", auth: { type: "m.login.dummy" } });
    expect(r.status).to.equal(400);
    expect(r.body.errcode).to.equal("M_WEAK_PASSWORD");
  });
});

describe("client addresses behind a proxy", () => {
  it("X-Forwarded-For is ignored unless trust_proxy names the proxy", async () => {
    const limited = { rate_limiting: { enabled: true, registration: { per_second: 0.01, burst: 1 } } };
    const plain = await startTestServer(limited);
    const proxied = await startTestServer({ ...limited, http: { trust_proxy: ["127.0.0.1"] } });
    try {
      const check = (s: TestServer, ip: string, name: string) =>
        s.client().get(`/_matrix/client/v3/register/available?username=${name}`, { headers: { "X-Forwarded-For": ip } });
      // Without trust, two "different clients" are one address: the second is limited.
      expect((await check(plain, "203.0.113.1", "p1")).status).to.equal(200);
      expect((await check(plain, "203.0.113.2", "p2")).status).to.equal(429);
      // With the proxy trusted, each forwarded address has its own budget.
      expect((await check(proxied, "203.0.113.1", "q1")).status).to.equal(200);
      expect((await check(proxied, "203.0.113.2", "q2")).status).to.equal(200);
      expect((await check(proxied, "203.0.113.1", "q3")).status).to.equal(429);
    } finally {
      await plain.hs.close();
      await proxied.hs.close();
    }
  });
});
