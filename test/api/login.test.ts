// login.yaml, logout.yaml, whoami.yaml, refresh.yaml.
import { expect } from "chai";
import { startTestServer, useServer } from "../helpers/server.js";
import { withClient } from "../helpers/postgres.js";

const LOGIN = "/_matrix/client/v3/login";
const WHOAMI = "/_matrix/client/v3/account/whoami";

describe("login and sessions", () => {
  const t = useServer();

  it("GET /login offers m.login.password", async () => {
    const r = await t.s.client().get(LOGIN);
    expect(r.status).to.equal(200);
    expect(r.body.flows).to.deep.include({ type: "m.login.password" });
  });

  it("logs in with an m.id.user identifier (localpart or full ID) and the legacy user field", async () => {
    const u = await t.s.client().register("loginer", "pw-loginer");
    for (const body of [
      { type: "m.login.password", identifier: { type: "m.id.user", user: "loginer" }, password: "pw-loginer" },
      { type: "m.login.password", identifier: { type: "m.id.user", user: "@loginer:localhost" }, password: "pw-loginer" },
      { type: "m.login.password", identifier: { type: "m.id.user", user: "LOGINER" }, password: "pw-loginer" },
      { type: "m.login.password", user: "loginer", password: "pw-loginer" },
    ]) {
      const r = await t.s.client().post(LOGIN, body);
      expect(r.status, JSON.stringify(body)).to.equal(200);
      expect(r.body.user_id).to.equal(u.userId);
      expect(r.body.access_token).to.be.a("string");
      expect(r.body.device_id).to.be.a("string");
      expect(r.body.well_known["m.homeserver"].base_url).to.be.a("string");
      expect((await t.s.client(r.body.access_token).get(WHOAMI)).body.device_id).to.equal(r.body.device_id);
    }
  });

  it("wrong password and unknown user: 403 M_FORBIDDEN", async () => {
    await t.s.client().register("wrongpw", "right");
    const wrong = await t.s.client().post(LOGIN, { type: "m.login.password", identifier: { type: "m.id.user", user: "wrongpw" }, password: "wrong" });
    expect(wrong.status).to.equal(403);
    expect(wrong.body.errcode).to.equal("M_FORBIDDEN");
    const unknown = await t.s.client().post(LOGIN, { type: "m.login.password", identifier: { type: "m.id.user", user: "nobody-here" }, password: "x" });
    expect(unknown.status).to.equal(403);
    expect(unknown.body.errcode).to.equal("M_FORBIDDEN");
    const foreign = await t.s.client().post(LOGIN, { type: "m.login.password", identifier: { type: "m.id.user", user: "@wrongpw:elsewhere.org" }, password: "right" });
    expect(foreign.status).to.equal(403);
  });

  it("an unknown login type: 400 M_UNKNOWN; a missing identifier: 400 M_MISSING_PARAM", async () => {
    const r = await t.s.client().post(LOGIN, { type: "m.login.magic" });
    expect(r.status).to.equal(400);
    expect(r.body.errcode).to.equal("M_UNKNOWN");
    const m = await t.s.client().post(LOGIN, { type: "m.login.password", password: "x" });
    expect(m.status).to.equal(400);
    expect(m.body.errcode).to.equal("M_MISSING_PARAM");
  });

  it("reuses a device ID given at login and revokes that device's older token", async () => {
    const u = await t.s.client().register("reuse", "pw");
    const a = await t.s.client().post(LOGIN, { type: "m.login.password", user: "reuse", password: "pw", device_id: "PHONE", initial_device_display_name: "My phone" });
    expect(a.body.device_id).to.equal("PHONE");
    const b = await t.s.client().post(LOGIN, { type: "m.login.password", user: "reuse", password: "pw", device_id: "PHONE", initial_device_display_name: "Ignored" });
    expect(b.body.device_id).to.equal("PHONE");
    expect((await t.s.client(a.body.access_token).get(WHOAMI)).status).to.equal(401);
    expect((await t.s.client(b.body.access_token).get(WHOAMI)).status).to.equal(200);
    const dev = await u.get("/_matrix/client/v3/devices/PHONE");
    expect(dev.body.display_name).to.equal("My phone");
  });

  it("POST /logout revokes the token and deletes its device", async () => {
    const u = await t.s.client().register("leaver");
    const other = await t.s.client().post(LOGIN, { type: "m.login.password", user: "leaver", password: u.password });
    const r = await u.post("/_matrix/client/v3/logout");
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({});
    const after = await u.get(WHOAMI);
    expect(after.status).to.equal(401);
    expect(after.body.errcode).to.equal("M_UNKNOWN_TOKEN");
    const devices = await t.s.client(other.body.access_token).get("/_matrix/client/v3/devices");
    expect(devices.body.devices.map((d: any) => d.device_id)).to.deep.equal([other.body.device_id]);
  });

  it("POST /logout/all revokes every token of the user", async () => {
    const u = await t.s.client().register("leaveall");
    const other = await t.s.client().post(LOGIN, { type: "m.login.password", user: "leaveall", password: u.password });
    const bystander = await t.s.client().register();
    expect((await u.post("/_matrix/client/v3/logout/all")).status).to.equal(200);
    expect((await u.get(WHOAMI)).status).to.equal(401);
    expect((await t.s.client(other.body.access_token).get(WHOAMI)).status).to.equal(401);
    expect((await bystander.get(WHOAMI)).status).to.equal(200);
  });

  describe("refresh tokens", () => {
    it("issues an expiring access token and a refresh token when asked, and rotates them", async () => {
      await t.s.client().register("refresher", "pw");
      const l = await t.s.client().post(LOGIN, { type: "m.login.password", user: "refresher", password: "pw", refresh_token: true });
      expect(l.body.refresh_token).to.be.a("string");
      expect(l.body.expires_in_ms).to.be.a("number").greaterThan(0);
      const r = await t.s.client().post("/_matrix/client/v3/refresh", { refresh_token: l.body.refresh_token });
      expect(r.status).to.equal(200);
      expect(r.body.access_token).to.be.a("string").and.not.equal(l.body.access_token);
      expect(r.body.refresh_token).to.be.a("string").and.not.equal(l.body.refresh_token);
      expect(r.body.expires_in_ms).to.be.a("number");
      // The old pair lives until the new one is used (spec), then it is gone.
      expect((await t.s.client(l.body.access_token).get(WHOAMI)).status).to.equal(200);
      expect((await t.s.client(r.body.access_token).get(WHOAMI)).status).to.equal(200);
      expect((await t.s.client(l.body.access_token).get(WHOAMI)).status).to.equal(401);
      const reuse = await t.s.client().post("/_matrix/client/v3/refresh", { refresh_token: l.body.refresh_token });
      expect(reuse.status).to.equal(401);
      expect(reuse.body.errcode).to.equal("M_UNKNOWN_TOKEN");
    });

    it("an expired access token is 401 M_UNKNOWN_TOKEN with soft_logout true", async () => {
      await t.s.client().register("expiring", "pw");
      const l = await t.s.client().post(LOGIN, { type: "m.login.password", user: "expiring", password: "pw", refresh_token: true });
      await withClient(t.s.dbUrl, (db) => db.query("UPDATE access_tokens SET expires_ts = 1 WHERE user_id = '@expiring:localhost'"));
      const r = await t.s.client(l.body.access_token).get(WHOAMI);
      expect(r.status).to.equal(401);
      expect(r.body).to.include({ errcode: "M_UNKNOWN_TOKEN", soft_logout: true });
      const refreshed = await t.s.client().post("/_matrix/client/v3/refresh", { refresh_token: l.body.refresh_token });
      expect(refreshed.status).to.equal(200);
      expect((await t.s.client(refreshed.body.access_token).get(WHOAMI)).status).to.equal(200);
    });

    it("without refresh_token: true the access token does not expire", async () => {
      await t.s.client().register("noexpiry", "pw");
      const l = await t.s.client().post(LOGIN, { type: "m.login.password", user: "noexpiry", password: "pw" });
      expect(l.body).to.not.have.property("refresh_token");
      expect(l.body).to.not.have.property("expires_in_ms");
    });

    it("an unknown refresh token: 401 M_UNKNOWN_TOKEN", async () => {
      const r = await t.s.client().post("/_matrix/client/v3/refresh", { refresh_token: "grt_nope" });
      expect(r.status).to.equal(401);
      expect(r.body.errcode).to.equal("M_UNKNOWN_TOKEN");
    });
  });
});

describe("login rate limiting", () => {
  it("limits attempts per account and per address: 429 M_LIMIT_EXCEEDED", async () => {
    const s = await startTestServer({ rate_limiting: { enabled: true, login: { per_second: 0.1, burst: 2 } } });
    try {
      await s.client().register("ratelimited", "pw");
      const statuses: number[] = [];
      let last: any;
      for (let i = 0; i < 4; i++) {
        last = await s.client().post(LOGIN, { type: "m.login.password", user: "ratelimited", password: "wrong" });
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 2)).to.deep.equal([403, 403]);
      expect(statuses[3]).to.equal(429);
      expect(last.body.errcode).to.equal("M_LIMIT_EXCEEDED");
      expect(last.headers.get("retry-after")).to.match(/^\d+$/);
    } finally {
      await s.hs.close();
    }
  });
});
