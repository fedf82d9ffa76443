// The HTTP conventions every /_matrix endpoint shares: errors, CORS, limits, discovery.
import { expect } from "chai";
import { userAgentOf } from "../../src/http/route.js";
import { useServer } from "../helpers/server.js";

describe("HTTP conventions", () => {
  const t = useServer();

  describe("discovery", () => {
    it("GET /versions lists spec versions and unstable features", async () => {
      const r = await t.s.client().get("/_matrix/client/versions");
      expect(r.status).to.equal(200);
      expect(r.headers.get("content-type")).to.match(/^application\/json/);
      expect(r.body.versions).to.include("v1.1").and.to.include("v1.12").and.to.include("v1.17");
      expect(r.body.unstable_features).to.be.an("object");
      expect(r.body.unstable_features["org.matrix.e2e_cross_signing"]).to.equal(true);
    });

    it("GET /.well-known/matrix/client names the base URL", async () => {
      const r = await t.s.client().get("/.well-known/matrix/client");
      expect(r.status).to.equal(200);
      expect(r.body["m.homeserver"].base_url).to.match(/^http:\/\//);
      expect(r.body["m.homeserver"].base_url).to.not.match(/\/$/);
    });

    it("GET /capabilities needs a token and lists the room versions", async () => {
      const anon = await t.s.client().get("/_matrix/client/v3/capabilities");
      expect(anon.status).to.equal(401);
      expect(anon.body.errcode).to.equal("M_MISSING_TOKEN");
      const u = await t.s.client().register();
      const r = await u.get("/_matrix/client/v3/capabilities");
      expect(r.status).to.equal(200);
      expect(r.body.capabilities["m.change_password"]).to.deep.equal({ enabled: true });
      expect(r.body.capabilities["m.room_versions"].available).to.have.property("10", "stable");
      expect(r.body.capabilities["m.room_versions"].default).to.be.a("string");
    });

    it("serves v3 endpoints under r0 too, for older clients", async () => {
      const r = await t.s.client().get("/_matrix/client/r0/login");
      expect(r.status).to.equal(200);
      expect(r.body.flows).to.deep.include({ type: "m.login.password" });
    });
  });

  describe("errors", () => {
    it("unknown endpoint: 404 M_UNRECOGNIZED", async () => {
      const r = await t.s.client().get("/_matrix/client/v3/no_such_thing");
      expect(r.status).to.equal(404);
      expect(r.body).to.include({ errcode: "M_UNRECOGNIZED" });
      expect(r.body.error).to.be.a("string");
    });

    it("known path with the wrong method: 405 M_UNRECOGNIZED with Allow", async () => {
      const r = await t.s.client().req("PUT", "/_matrix/client/v3/login", { body: {} });
      expect(r.status).to.equal(405);
      expect(r.body.errcode).to.equal("M_UNRECOGNIZED");
      expect(r.headers.get("allow")).to.include("POST").and.include("GET");
      const r2 = await t.s.client().req("DELETE", "/_matrix/client/v3/account/whoami");
      expect(r2.status).to.equal(405);
    });

    it("a body that is not JSON: 400 M_NOT_JSON", async () => {
      const r = await t.s.client().post("/_matrix/client/v3/login", undefined, { raw: "{not json", headers: { "Content-Type": "application/json" } });
      expect(r.status).to.equal(400);
      expect(r.body.errcode).to.equal("M_NOT_JSON");
    });

    it("JSON that is not an object: 400 M_BAD_JSON", async () => {
      for (const raw of ["[1,2]", "\"str\"", "42", "null"]) {
        const r = await t.s.client().post("/_matrix/client/v3/login", undefined, { raw });
        expect(r.status, raw).to.equal(400);
        expect(r.body.errcode, raw).to.equal("M_BAD_JSON");
      }
    });

    it("a missing required field: 400 M_MISSING_PARAM; a wrong type: 400 M_BAD_JSON", async () => {
      const missing = await t.s.client().post("/_matrix/client/v3/login", { password: "x" });
      expect(missing.status).to.equal(400);
      expect(missing.body.errcode).to.equal("M_MISSING_PARAM");
      const wrong = await t.s.client().post("/_matrix/client/v3/login", { type: 42 });
      expect(wrong.status).to.equal(400);
      expect(wrong.body.errcode).to.equal("M_BAD_JSON");
    });

    it("a body over the limit: 413 M_TOO_LARGE", async () => {
      const big = JSON.stringify({ type: "m.login.password", pad: "x".repeat(t.s.config.http.max_body_bytes) });
      const r = await t.s.client().post("/_matrix/client/v3/login", undefined, { raw: big });
      expect(r.status).to.equal(413);
      expect(r.body.errcode).to.equal("M_TOO_LARGE");
    });

    it("a string over its limit: 400 M_BAD_JSON", async () => {
      const r = await t.s.client().post("/_matrix/client/v3/register", { username: "a".repeat(300), password: "p" });
      expect(r.status).to.equal(400);
      expect(r.body.errcode).to.equal("M_BAD_JSON");
    });

    it("a path that does not decode: 400, not 500", async () => {
      const u = await t.s.client().register();
      const r = await u.get("/_matrix/client/v3/devices/%E0%A4%A");
      expect(r.status).to.equal(400);
      expect(r.body.errcode).to.be.a("string");
    });

    it("missing token: 401 M_MISSING_TOKEN; unknown token: 401 M_UNKNOWN_TOKEN with soft_logout false", async () => {
      const none = await t.s.client().get("/_matrix/client/v3/account/whoami");
      expect(none.status).to.equal(401);
      expect(none.body.errcode).to.equal("M_MISSING_TOKEN");
      const bad = await t.s.client("gat_nonsense").get("/_matrix/client/v3/account/whoami");
      expect(bad.status).to.equal(401);
      expect(bad.body).to.include({ errcode: "M_UNKNOWN_TOKEN", soft_logout: false });
      const malformed = await t.s.client().get("/_matrix/client/v3/account/whoami", { headers: { Authorization: "Basic abc" } });
      expect(malformed.status).to.equal(401);
      expect(malformed.body.errcode).to.equal("M_MISSING_TOKEN");
    });

    it("accepts the deprecated access_token query parameter", async () => {
      const u = await t.s.client().register();
      const r = await t.s.client().get(`/_matrix/client/v3/account/whoami?access_token=${encodeURIComponent(u.token!)}`);
      expect(r.status).to.equal(200);
      expect(r.body.user_id).to.equal(u.userId);
    });
  });

  describe("CORS", () => {
    it("answers OPTIONS preflight on any path without running the endpoint", async () => {
      for (const path of ["/_matrix/client/v3/login", "/_matrix/client/v3/account/whoami", "/_matrix/client/v3/unknown"]) {
        const r = await t.s.client().req("OPTIONS", path, { headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST" } });
        expect(r.status, path).to.equal(200);
        expect(r.headers.get("access-control-allow-origin")).to.equal("*");
        expect(r.headers.get("access-control-allow-methods")).to.include("PUT").and.include("DELETE");
        expect(r.headers.get("access-control-allow-headers")).to.include("Authorization");
      }
    });

    it("puts CORS headers on ordinary and error responses", async () => {
      const ok = await t.s.client().get("/_matrix/client/versions");
      expect(ok.headers.get("access-control-allow-origin")).to.equal("*");
      const err = await t.s.client().get("/_matrix/client/v3/nope");
      expect(err.headers.get("access-control-allow-origin")).to.equal("*");
    });
  });

  describe("operations", () => {
    it("GET /health reports the database reachable", async () => {
      const r = await t.s.client().get("/health");
      expect(r.status).to.equal(200);
      expect(r.body.status).to.equal("ok");
    });

    it("GET /metrics exposes request counts, latency, event loop lag and pool usage", async () => {
      await t.s.client().get("/_matrix/client/versions");
      const r = await t.s.client().get("/metrics");
      expect(r.status).to.equal(200);
      expect(r.text).to.match(/ganglion_http_requests_total\{method="GET",route="getVersions",status="200"\} \d+/);
      expect(r.text).to.include("ganglion_http_request_duration_seconds_bucket");
      expect(r.text).to.include("nodejs_eventloop_lag_seconds");
      expect(r.text).to.match(/ganglion_db_pool_max \d+/);
      // Connections counted from memory, not by listing every handle of the process.
      expect(r.text).to.match(/ganglion_websocket_connections \d+/);
      expect(r.text).to.match(/ganglion_sync_waiting \d+/);
      expect(r.text).to.not.include("nodejs_active_handles");
    });

    it("keeps at most 512 characters of a User-Agent for whois, without control characters", () => {
      expect(userAgentOf("Element/1.11 (Linux)")).to.equal("Element/1.11 (Linux)");
      expect(userAgentOf("x".repeat(5000))!.length).to.equal(512);
      expect(userAgentOf("a\u0000b\tc")).to.equal("abc");
      expect(userAgentOf(undefined)).to.equal(null);
      expect(userAgentOf("")).to.equal(null);
    });

    it("tags every response with a request id", async () => {
      const r = await t.s.client().get("/_matrix/client/versions");
      expect(r.headers.get("x-request-id")).to.match(/^[\w.-]+$/);
    });
  });
});
