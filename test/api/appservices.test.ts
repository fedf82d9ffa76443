// The application service API: registrations, namespaces, identity assertion, durable
// transaction delivery, queries, ping. A test application service runs inside the test.
import { spawnSync } from "node:child_process";
import { expect } from "chai";
import pg from "pg";
import { pino } from "pino";
import { ConfigError } from "../../src/config/load.js";
import { startHomeserver, type Homeserver } from "../../src/server.js";
import { FakeAppservice, writeRegistration } from "../helpers/appservice.js";
import { Client, UserClient } from "../helpers/client.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { createRoom, enc, send } from "../helpers/rooms.js";
import { testConfig } from "../helpers/server.js";

const log = pino({ level: process.env.TEST_LOG ?? "silent" });

function registration(id: string, url: string | null, extra: Record<string, unknown> = {}) {
  return {
    id, url, as_token: `as-${id}`, hs_token: `hs-${id}`, sender_localpart: `${id}bot`, rate_limited: false,
    namespaces: { users: [{ exclusive: true, regex: `@_${id}_.*:localhost` }], aliases: [{ exclusive: true, regex: `#_${id}_.*:localhost` }], rooms: [] },
    ...extra,
  };
}

async function start(dbUrl: string, files: string[]): Promise<Homeserver> {
  return startHomeserver(testConfig(dbUrl, { appservices: { registration_files: files, query_timeout_ms: 500 } }), { log, shutdownGraceMs: 1000 });
}

describe("application services", function () {
  this.timeout(60_000);
  let dbUrl: string;
  let hs: Homeserver;
  let bridge: FakeAppservice;
  let other: FakeAppservice;
  const as = (token = "as-bridge") => new Client(hs.url, token);

  before(async () => {
    dbUrl = await createTestDatabase();
    bridge = await new FakeAppservice("hs-bridge").start();
    other = await new FakeAppservice("hs-other").start();
    bridge.protocols = { whatsapp: { user_fields: ["phone"], location_fields: [], icon: "mxc://x/y", field_types: {}, instances: [] } };
    hs = await start(dbUrl, [
      writeRegistration(registration("bridge", bridge.url, { receive_ephemeral: true, "org.matrix.msc3202": true, protocols: ["whatsapp"] })),
      writeRegistration(registration("other", other.url)),
      writeRegistration(registration("nourl", null)),
    ]);
  });
  after(async () => {
    await hs?.close();
    await bridge?.stop();
    await other?.stop();
  });

  /** Registers a namespaced user through the application service. */
  async function asUser(localpart: string): Promise<string> {
    const r = await as().post("/_matrix/client/v3/register", { type: "m.login.application_service", username: localpart, inhibit_login: true });
    expect(r.status, r.text).to.equal(200);
    return r.body.user_id;
  }

  describe("registration files", () => {
    it("are checked at start: the file and the field are named; duplicate ids and tokens are refused", async () => {
      const bad = writeRegistration({ id: "x", url: "ftp://nope", as_token: "a", hs_token: "h", namespaces: {} });
      const err = await start(dbUrl, [bad]).then(() => null, (e) => e);
      expect(err).to.be.instanceOf(ConfigError);
      expect(err.message).to.contain(bad).and.to.contain("sender_localpart").and.to.contain("url");
      const a = writeRegistration(registration("dup", null));
      const b = writeRegistration({ ...registration("dup2", null), as_token: "as-dup" });
      const err2 = await start(dbUrl, [a, b]).then(() => null, (e) => e);
      expect(err2?.message).to.contain("as_token is the same");
      const badRe = writeRegistration({ ...registration("re", null), namespaces: { users: [{ exclusive: true, regex: "(" }] } });
      expect((await start(dbUrl, [badRe]).then(() => null, (e) => e))?.message).to.contain("namespaces.users.0.regex");
    });

    it("take namespace regexes in Python's dialect, as mautrix-python writes them with re.escape()", async () => {
      const py = writeRegistration({
        ...registration("py", null),
        as_token: "as-py", hs_token: "hs-py", sender_localpart: "pybot",
        namespaces: { users: [{ exclusive: true, regex: "@py\\-tg_.*:localhost" }], aliases: [{ exclusive: true, regex: "\\#py\\-tg_.*:localhost" }], rooms: [] },
      });
      const server = await start(dbUrl, [py]);
      try {
        const r = await new Client(server.url).post("/_matrix/client/v3/register", { username: "py-tg_someone", password: "pw-pw-pw-pw", auth: { type: "m.login.dummy" } });
        expect(r.body.errcode).to.equal("M_EXCLUSIVE");
        const ok = await new Client(server.url).post("/_matrix/client/v3/register", { username: "pytg_someone", password: "pw-pw-pw-pw", auth: { type: "m.login.dummy" } });
        expect(ok.status, ok.text).to.equal(200);
      } finally {
        await server.close();
      }
    });
  });

  describe("namespaces and identity", () => {
    it("a normal user cannot take a user ID or alias in an exclusive namespace", async () => {
      const r = await new Client(hs.url).post("/_matrix/client/v3/register", { username: "_bridge_mallory", password: "pw-pw-pw-pw", auth: { type: "m.login.dummy" } });
      expect(r.status).to.equal(400);
      expect(r.body.errcode).to.equal("M_EXCLUSIVE");
      const u = await new Client(hs.url).register();
      const roomId = await createRoom(u);
      const alias = await u.put(`/_matrix/client/v3/directory/room/${enc("#_bridge_room:localhost")}`, { room_id: roomId });
      expect(alias.status).to.equal(400);
      expect(alias.body.errcode).to.equal("M_EXCLUSIVE");
      // The same alias through createRoom's room_alias_name: the same answer, and no room.
      const viaCreate = await u.post("/_matrix/client/v3/createRoom", { room_alias_name: "_bridge_other" });
      expect(viaCreate.status).to.equal(400);
      expect(viaCreate.body.errcode).to.equal("M_EXCLUSIVE");
      expect((await u.get(`/_matrix/client/v3/directory/room/${enc("#_bridge_other:localhost")}`)).status).to.equal(404);
    });

    it("registers users in its namespace without a password, and only there; logs them in", async () => {
      const userId = await asUser("_bridge_alice");
      expect(userId).to.equal("@_bridge_alice:localhost");
      const outside = await as().post("/_matrix/client/v3/register", { type: "m.login.application_service", username: "plainbob", inhibit_login: true });
      expect(outside.body.errcode).to.equal("M_EXCLUSIVE");
      const other = await as("as-other").post("/_matrix/client/v3/register", { type: "m.login.application_service", username: "_bridge_carol", inhibit_login: true });
      expect(other.body.errcode).to.equal("M_EXCLUSIVE");
      const noToken = await new Client(hs.url).post("/_matrix/client/v3/register", { type: "m.login.application_service", username: "_bridge_dave" });
      expect(noToken.status).to.equal(401);
      const login = await as().post("/_matrix/client/v3/login", { type: "m.login.application_service", identifier: { type: "m.id.user", user: "_bridge_alice" } });
      expect(login.status, login.text).to.equal(200);
      expect((await new Client(hs.url, login.body.access_token).get("/_matrix/client/v3/account/whoami")).body.user_id).to.equal(userId);
      const flows = await new Client(hs.url).get("/_matrix/client/v3/login");
      expect(flows.body.flows.map((f: any) => f.type)).to.include("m.login.application_service");
    });

    it("identity assertion: user_id in the namespace (registered), refused outside it; device_id must be theirs", async () => {
      const userId = await asUser("_bridge_erin");
      expect((await as().get(`/_matrix/client/v3/account/whoami?user_id=${enc(userId)}`)).body.user_id).to.equal(userId);
      expect((await as().get("/_matrix/client/v3/account/whoami")).body.user_id).to.equal("@bridgebot:localhost");
      const human = await new Client(hs.url).register();
      const r1 = await as().get(`/_matrix/client/v3/account/whoami?user_id=${enc(human.userId)}`);
      expect(r1.status).to.equal(403);
      const r2 = await as().get(`/_matrix/client/v3/account/whoami?user_id=${enc("@_bridge_nobody:localhost")}`);
      expect(r2.status).to.equal(403);
      const r3 = await as().get(`/_matrix/client/v3/account/whoami?user_id=${enc(userId)}&device_id=NOPE`);
      expect(r3.status).to.equal(400);
      expect(r3.body.errcode).to.equal("M_UNKNOWN_DEVICE");
      // Bad values are refused before any lookup.
      const nul = await as().get(`/_matrix/client/v3/account/whoami?user_id=${enc(userId)}&org.matrix.msc3202.device_id=${enc("A\u0000B")}`);
      expect(nul.status).to.equal(400);
      expect(nul.body.errcode).to.equal("M_INVALID_PARAM");
      const long = await as().get(`/_matrix/client/v3/account/whoami?user_id=${enc(userId)}&device_id=${"D".repeat(2000)}`);
      expect(long.status).to.equal(400);
      // MSC3202's name for the device (matrix-bot-sdk sends it) is taken as device_id.
      const r4 = await as().get(`/_matrix/client/v3/account/whoami?user_id=${enc(userId)}&org.matrix.msc3202.device_id=NOPE`);
      expect(r4.body.errcode).to.equal("M_UNKNOWN_DEVICE");
    });

    it("deactivates its own users without user-interactive auth", async () => {
      const ghost = await asUser("_bridge_gone");
      const r = await as().post(`/_matrix/client/v3/account/deactivate?user_id=${enc(ghost)}`, {});
      expect(r.status, r.text).to.equal(200);
      const again = await as().get(`/_matrix/client/v3/account/whoami?user_id=${enc(ghost)}`);
      expect(again.status).to.equal(403);
      expect(again.body.errcode).to.equal("M_USER_DEACTIVATED"); // it cannot act as them any more
      // A person still needs to authenticate.
      const human = await new Client(hs.url).register();
      expect((await human.post("/_matrix/client/v3/account/deactivate", {})).status).to.equal(401);
    });

    it("MSC4190: the service creates and deletes its users' devices, without user-interactive auth", async () => {
      const userId = await asUser("_bridge_devices");
      const q = `user_id=${enc(userId)}`;
      const made = await as().put(`/_matrix/client/v3/devices/BRIDGEDEV?${q}`, { display_name: "bridge device" });
      expect(made.status, made.text).to.equal(201);
      expect((await as().put(`/_matrix/client/v3/devices/BRIDGEDEV?${q}`, {})).status).to.equal(200);
      const who = await as().get(`/_matrix/client/v3/account/whoami?${q}&device_id=BRIDGEDEV`);
      expect(who.body.device_id).to.equal("BRIDGEDEV");
      expect((await as().get(`/_matrix/client/v3/devices/BRIDGEDEV?${q}`)).body.display_name).to.equal("bridge device");
      expect((await as().del(`/_matrix/client/v3/devices/BRIDGEDEV?${q}`, {})).status).to.equal(200);
      expect((await as().get(`/_matrix/client/v3/devices/BRIDGEDEV?${q}`)).status).to.equal(404);
      // A person cannot create a device this way.
      const human = await new Client(hs.url).register();
      expect((await human.put("/_matrix/client/v3/devices/MADEUP", {})).status).to.equal(404);
      expect((await new Client(hs.url).get("/_matrix/client/versions")).body.unstable_features["io.element.msc4190"]).to.equal(true);
    });

    it("ts sets origin_server_ts on /send and /state for application services only", async () => {
      const userId = await asUser("_bridge_frank");
      const roomId = (await as().post(`/_matrix/client/v3/createRoom?user_id=${enc(userId)}`, {})).body.room_id;
      const sent = await as().put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/ts1?user_id=${enc(userId)}&ts=1000000000000`, { msgtype: "m.text", body: "old" });
      expect(sent.status, sent.text).to.equal(200);
      const ev = await as().get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(sent.body.event_id)}?user_id=${enc(userId)}`);
      expect(ev.body.origin_server_ts).to.equal(1000000000000);
      const bad = await as().put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/ts2?user_id=${enc(userId)}&ts=soon`, { msgtype: "m.text", body: "x" });
      expect(bad.status).to.equal(400);
    });
  });

  describe("transactions", () => {
    it("delivers the events of rooms its users are in, in order, with hs_token; not other rooms'", async () => {
      const userId = await asUser("_bridge_gina");
      const human = await new Client(hs.url).register();
      const roomId = await createRoom(human, { preset: "public_chat" });
      await as().post(`/_matrix/client/v3/join/${enc(roomId)}?user_id=${enc(userId)}`, {});
      const sent: string[] = [];
      for (let i = 0; i < 30; i++) sent.push(await send(human, roomId, `m${i}`));
      const elsewhere = await createRoom(human);
      const unrelated = await send(human, elsewhere, "not for the bridge");
      await bridge.waitFor(() => bridge.events().some((e) => e.event_id === sent[29]));
      const ids = bridge.events().map((e) => e.event_id);
      expect(ids.filter((id) => sent.includes(id))).to.deep.equal(sent);
      expect(ids).not.to.include(unrelated);
      expect(bridge.txns.every((t) => t.auth === "Bearer hs-bridge")).to.equal(true);
      expect(bridge.txns.every((t) => t.body.events.length <= 100)).to.equal(true);
      // The other service saw none of it.
      expect(other.events().map((e) => e.event_id)).not.to.include(sent[0]);
    });

    it("a failed transaction is resent with the same txnId and body; down for a while, then everything once, in order", async () => {
      const userId = await asUser("_bridge_hank");
      const human = await new Client(hs.url).register();
      const roomId = await createRoom(human, { preset: "public_chat" });
      await as().post(`/_matrix/client/v3/join/${enc(roomId)}?user_id=${enc(userId)}`, {});
      bridge.failWith = 500;
      const before = bridge.txns.length;
      const sent: string[] = [await send(human, roomId, "first while down")];
      await bridge.waitFor(() => bridge.txns.length > before);
      for (let i = 0; i < 150; i++) sent.push(await send(human, roomId, `while down ${i}`));
      // A ping retries at once instead of waiting out the backoff.
      await as().post("/_matrix/client/v1/appservice/bridge/ping", {});
      await bridge.waitFor(() => bridge.txns.length > before + 1);
      const failed = bridge.txns.slice(before);
      expect(failed[1]!.txnId).to.equal(failed[0]!.txnId);
      expect(JSON.stringify(failed[1]!.body)).to.equal(JSON.stringify(failed[0]!.body));
      bridge.failWith = null;
      await as().post("/_matrix/client/v1/appservice/bridge/ping", {});
      await bridge.waitFor(() => bridge.events().some((e) => e.event_id === sent[sent.length - 1]));
      const got = bridge.events().map((e) => e.event_id).filter((id) => sent.includes(id));
      expect(got).to.deep.equal(sent);
    });

    it("one service down does not delay another", async () => {
      const bridgeUser = await asUser("_bridge_ivy");
      const otherUser = (await as("as-other").post("/_matrix/client/v3/register", { type: "m.login.application_service", username: "_other_ivy", inhibit_login: true })).body.user_id;
      const human = await new Client(hs.url).register();
      const roomId = await createRoom(human, { preset: "public_chat" });
      await as().post(`/_matrix/client/v3/join/${enc(roomId)}?user_id=${enc(bridgeUser)}`, {});
      await as("as-other").post(`/_matrix/client/v3/join/${enc(roomId)}?user_id=${enc(otherUser)}`, {});
      bridge.failWith = 503;
      const id = await send(human, roomId, "for both");
      await other.waitFor(() => other.events().some((e) => e.event_id === id));
      bridge.failWith = null;
      await as().post("/_matrix/client/v1/appservice/bridge/ping", {});
      await bridge.waitFor(() => bridge.events().some((e) => e.event_id === id));
    });

    it("ephemeral: typing, receipts (private ones only of its own users) and presence", async () => {
      const userId = await asUser("_bridge_jack");
      const human = await new Client(hs.url).register();
      const roomId = await createRoom(human, { preset: "public_chat" });
      await as().post(`/_matrix/client/v3/join/${enc(roomId)}?user_id=${enc(userId)}`, {});
      const ev = await send(human, roomId, "read me");
      await human.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(human.userId)}`, { typing: true, timeout: 10000 });
      await human.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(ev)}`, {});
      await human.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read.private/${enc(ev)}`, {});
      const eph = () => bridge.txns.flatMap((t) => t.body.ephemeral ?? []).filter((e: any) => e.room_id === roomId);
      await bridge.waitFor(() => eph().some((e: any) => e.type === "m.typing") && eph().some((e: any) => e.type === "m.receipt"));
      expect(eph().find((e: any) => e.type === "m.typing").content.user_ids).to.deep.equal([human.userId]);
      expect(JSON.stringify(eph())).to.contain("m.read").and.not.to.contain("m.read.private");
      await human.put(`/_matrix/client/v3/presence/${enc(human.userId)}/status`, { presence: "unavailable", status_msg: "afk" });
      const pres = await bridge.waitFor(() => bridge.txns.flatMap((t) => t.body.ephemeral ?? []).find((e: any) => e.type === "m.presence" && e.sender === human.userId && e.content.status_msg === "afk"));
      expect(pres.content.presence).to.equal("unavailable");
    });
  });

  describe("encryption for bridges", () => {
    it("to-device messages for the service's users come in its transactions (MSC2409), others' do not", async () => {
      const ghost = await asUser("_bridge_tdev");
      expect((await as().put(`/_matrix/client/v3/devices/GHOSTDEV?user_id=${enc(ghost)}`, {})).status).to.equal(201);
      const human = await new Client(hs.url).register();
      const other = await new Client(hs.url).register();
      const r = await human.put(`/_matrix/client/v3/sendToDevice/m.room_key_request/td1`, {
        messages: { [ghost]: { GHOSTDEV: { secret: "for the ghost" } }, [other.userId]: { "*": { secret: "for a person" } } },
      });
      expect(r.status, r.text).to.equal(200);
      const all = () => bridge.txns.flatMap((t) => t.body["de.sorunome.msc2409.to_device"] ?? []);
      const got = await bridge.waitFor(() => all().find((m: any) => m.content.secret === "for the ghost"));
      expect(got).to.deep.include({ type: "m.room_key_request", sender: human.userId, to_user_id: ghost, to_device_id: "GHOSTDEV" });
      expect(bridge.txns.flatMap((t) => t.body.to_device ?? []).some((m: any) => m.content.secret === "for the ghost")).to.equal(true);
      expect(JSON.stringify(all())).not.to.contain("for a person");
      // The person still gets theirs by /sync.
      const sync = await other.get("/_matrix/client/v3/sync");
      expect(sync.body.to_device.events.map((e: any) => e.content.secret)).to.include("for a person");
    });

    it("MSC3202: its devices' one-time key counts, and device list changes of people who share a room with its users", async () => {
      const ghost = await asUser("_bridge_keys");
      expect((await as().put(`/_matrix/client/v3/devices/KEYDEV?user_id=${enc(ghost)}`, {})).status).to.equal(201);
      const up = await as().post(`/_matrix/client/v3/keys/upload?user_id=${enc(ghost)}&device_id=KEYDEV`, { one_time_keys: { "signed_curve25519:K1": { key: "k" }, "signed_curve25519:K2": { key: "k2" } } });
      expect(up.status, up.text).to.equal(200);
      const counts = await bridge.waitFor(() => bridge.txns.map((t) => t.body["org.matrix.msc3202.device_one_time_keys_count"]?.[ghost]?.KEYDEV).find((c: any) => c?.signed_curve25519 === 2));
      expect(counts).to.deep.equal({ signed_curve25519: 2 });
      // A person in a room with the ghost changes their keys.
      const human = await new Client(hs.url).register();
      const roomId = await createRoom(human, { preset: "public_chat" });
      await as().post(`/_matrix/client/v3/join/${enc(roomId)}?user_id=${enc(ghost)}`, {});
      const stranger = await new Client(hs.url).register(); // shares no room with any of the bridge's users
      for (const u of [human, stranger]) {
        expect((await u.post("/_matrix/client/v3/keys/upload", { device_keys: { user_id: u.userId, device_id: u.deviceId, algorithms: ["m.megolm.v1.aes-sha2"], keys: { [`ed25519:${u.deviceId}`]: "x" }, signatures: {} } })).status).to.equal(200);
      }
      const changed = () => bridge.txns.flatMap((t) => t.body["org.matrix.msc3202.device_lists"]?.changed ?? []);
      await bridge.waitFor(() => changed().includes(human.userId));
      expect(changed()).not.to.include(stranger.userId);
    });
  });

  describe("queries, ping, protocols", () => {
    it("asks the service about an unknown user in its namespace (invite, profile), and about an unknown alias (join)", async () => {
      bridge.onUserQuery = async (userId) => {
        const r = await as().post("/_matrix/client/v3/register", { type: "m.login.application_service", username: userId.slice(1).split(":")[0], inhibit_login: true });
        return r.status === 200;
      };
      const human = await new Client(hs.url).register();
      const roomId = await createRoom(human);
      const inv = await human.post(`/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: "@_bridge_kate:localhost" });
      expect(inv.status, inv.text).to.equal(200);
      expect((await human.get(`/_matrix/client/v3/profile/${enc("@_bridge_liam:localhost")}`)).status).to.equal(200);
      expect((await human.get(`/_matrix/client/v3/profile/${enc("@nobody_here:localhost")}`)).status).to.equal(404);
      // A service that does not answer in time: the client gets an error, not a hang (had the
      // homeserver waited, the service would have made the user and the answer would be 200).
      bridge.delayMs = 1500;
      expect((await human.get(`/_matrix/client/v3/profile/${enc("@_bridge_slow:localhost")}`)).status).to.equal(404);
      bridge.delayMs = 0;
      bridge.onRoomQuery = async (alias) => {
        if (!alias.startsWith("#_bridge_portal")) return false;
        const r = await as().post("/_matrix/client/v3/createRoom", { preset: "public_chat", room_alias_name: alias.slice(1).split(":")[0] });
        return r.status === 200;
      };
      const joined = await human.post(`/_matrix/client/v3/join/${enc("#_bridge_portal:localhost")}`, {});
      expect(joined.status, joined.text).to.equal(200);
      const resolved = await human.get(`/_matrix/client/v3/directory/room/${enc("#_bridge_portal:localhost")}`);
      expect(resolved.body.room_id).to.equal(joined.body.room_id);
      expect((await human.post(`/_matrix/client/v3/join/${enc("#_bridge_missing:localhost")}`, {})).status).to.equal(404);
      bridge.onRoomQuery = async () => false;
    });

    it("ping: duration, and each error", async () => {
      const ok = await as().post("/_matrix/client/v1/appservice/bridge/ping", { transaction_id: "t1" });
      expect(ok.status, ok.text).to.equal(200);
      expect(ok.body.duration_ms).to.be.a("number");
      expect(bridge.requests.some((r) => r.path === "/_matrix/app/v1/ping" && r.body?.transaction_id === "t1")).to.equal(true);
      expect((await as().post("/_matrix/client/v1/appservice/other/ping", {})).status).to.equal(403);
      const noUrl = await as("as-nourl").post("/_matrix/client/v1/appservice/nourl/ping", {});
      expect(noUrl.body.errcode).to.equal("M_URL_NOT_SET");
      bridge.failWith = 500;
      const badStatus = await as().post("/_matrix/client/v1/appservice/bridge/ping", {});
      bridge.failWith = null;
      bridge.delayMs = 1500;
      const slow = await as().post("/_matrix/client/v1/appservice/bridge/ping", {});
      bridge.delayMs = 0;
      expect(slow.status).to.equal(504);
      expect(slow.body.errcode).to.equal("M_CONNECTION_TIMEOUT");
      expect(badStatus.status).to.equal(502);
      expect(badStatus.body.errcode).to.equal("M_BAD_STATUS");
      expect(badStatus.body.status).to.equal(500);
      await other.stop();
      const down = await as("as-other").post("/_matrix/client/v1/appservice/other/ping", {});
      expect(down.body.errcode).to.equal("M_CONNECTION_FAILED");
      other = await new FakeAppservice("hs-other").start(); // a new port: the old registration now points nowhere
    });

    it("third-party protocols come from the services that declare them", async () => {
      const u = await new Client(hs.url).register();
      const all = await u.get("/_matrix/client/v3/thirdparty/protocols");
      expect(all.body).to.have.property("whatsapp");
      expect((await u.get("/_matrix/client/v3/thirdparty/protocol/whatsapp")).body.user_fields).to.deep.equal(["phone"]);
      expect((await u.get("/_matrix/client/v3/thirdparty/protocol/irc")).status).to.equal(404);
    });

    it("third-party locations and users are looked up by the services, both ways", async () => {
      bridge.thirdParty = (path) => path.startsWith("location/whatsapp?") && path.includes("phone=123")
        ? [{ alias: "#_bridge_123:localhost", protocol: "whatsapp", fields: { phone: "123" } }]
        : path.startsWith("user?userid=") ? [{ userid: "@_bridge_123:localhost", protocol: "whatsapp", fields: { phone: "123" } }] : [];
      const u = await new Client(hs.url).register();
      const loc = await u.get("/_matrix/client/v3/thirdparty/location/whatsapp?phone=123");
      expect(loc.status, loc.text).to.equal(200);
      expect(loc.body).to.deep.equal([{ alias: "#_bridge_123:localhost", protocol: "whatsapp", fields: { phone: "123" } }]);
      expect((await u.get("/_matrix/client/v3/thirdparty/location/whatsapp?phone=999")).status).to.equal(404);
      expect((await u.get("/_matrix/client/v3/thirdparty/location/irc?x=1")).status).to.equal(404);
      const rev = await u.get(`/_matrix/client/v3/thirdparty/user?userid=${enc("@_bridge_123:localhost")}`);
      expect(rev.body[0].fields.phone).to.equal("123");
      expect((await u.get("/_matrix/client/v3/thirdparty/user")).status).to.equal(400);
    });

    it("a service's own room list: listed for its network, not in the server's list", async () => {
      const human = await new Client(hs.url).register();
      const roomId = await createRoom(human, { preset: "public_chat", name: "Bridged" });
      const listed = await as().put(`/_matrix/client/v3/directory/list/appservice/wa-net/${enc(roomId)}`, { visibility: "public" });
      expect(listed.status, listed.text).to.equal(200);
      expect((await human.put(`/_matrix/client/v3/directory/list/appservice/wa-net/${enc(roomId)}`, { visibility: "public" })).status).to.equal(403);
      const ids = async (body: Record<string, unknown>) => ((await human.post("/_matrix/client/v3/publicRooms", body)).body.chunk as any[]).map((r) => r.room_id);
      expect(await ids({})).not.to.include(roomId);
      expect(await ids({ third_party_instance_id: "bridge|wa-net" })).to.include(roomId);
      expect(await ids({ include_all_networks: true })).to.include(roomId);
      expect((await as().del(`/_matrix/client/v3/directory/list/appservice/wa-net/${enc(roomId)}`)).status).to.equal(200);
      expect(await ids({ third_party_instance_id: "bridge|wa-net" })).not.to.include(roomId);
    });
  });
});

describe("application services: a backlog survives a homeserver restart", function () {
  this.timeout(60_000);

  it("events that arrived while the service was down are delivered after a restart, once, in order", async () => {
    const dbUrl = await createTestDatabase();
    const fake = await new FakeAppservice("hs-bridge").start();
    const file = writeRegistration(registration("bridge", fake.url));
    let hs = await start(dbUrl, [file]);
    const asc = new Client(hs.url, "as-bridge");
    const userId = (await asc.post("/_matrix/client/v3/register", { type: "m.login.application_service", username: "_bridge_max", inhibit_login: true })).body.user_id;
    const human = await new Client(hs.url).register();
    const roomId = await createRoom(human, { preset: "public_chat" });
    await asc.post(`/_matrix/client/v3/join/${enc(roomId)}?user_id=${enc(userId)}`, {});
    fake.failWith = 503;
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) sent.push(await send(human, roomId, `backlog ${i}`));
    await fake.waitFor(() => fake.txns.length > 0);
    await hs.close();
    fake.failWith = null;
    hs = await start(dbUrl, [file]);
    try {
      const h2 = Object.assign(new UserClient(hs.url, human.token), { userId: human.userId });
      sent.push(await send(h2, roomId, "after restart"));
      await fake.waitFor(() => fake.events().some((e) => e.event_id === sent[sent.length - 1]));
      expect(fake.events().map((e) => e.event_id).filter((id) => sent.includes(id))).to.deep.equal(sent);
      // Joined, the human's own join event is there too: nothing twice.
      const ids = fake.events().map((e) => e.event_id);
      expect(new Set(ids).size).to.equal(ids.length);
    } finally {
      await hs.close();
      await fake.stop();
    }
  });

  it("a lease left by a process of this machine that no longer runs is taken over at start, not waited out", async () => {
    const dbUrl = await createTestDatabase();
    const fake = await new FakeAppservice("hs-bridge").start();
    const file = writeRegistration(registration("bridge", fake.url));
    let hs = await start(dbUrl, [file]);
    const asc = new Client(hs.url, "as-bridge");
    const userId = (await asc.post("/_matrix/client/v3/register", { type: "m.login.application_service", username: "_bridge_lee", inhibit_login: true })).body.user_id;
    const human = await new Client(hs.url).register();
    const roomId = await createRoom(human, { preset: "public_chat" });
    await asc.post(`/_matrix/client/v3/join/${enc(roomId)}?user_id=${enc(userId)}`, {});
    await hs.close();
    // As if the server had been killed holding the lease for another hour: its owner names
    // this machine and a process that has exited.
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    try {
      const row = (await db.query("SELECT lease_owner FROM appservice_state WHERE as_id = 'bridge'")).rows[0];
      const machine = String(row.lease_owner).split(":")[0];
      await db.query("UPDATE appservice_state SET lease_owner = $1, lease_until = $2 WHERE as_id = 'bridge'", [`${machine}:${gone}:dead`, Date.now() + 3_600_000]);
    } finally {
      await db.end();
    }
    hs = await start(dbUrl, [file]);
    try {
      const h2 = Object.assign(new UserClient(hs.url, human.token), { userId: human.userId });
      const id = await send(h2, roomId, "after the crash");
      await fake.waitFor(() => fake.events().some((e) => e.event_id === id));
    } finally {
      await hs.close();
      await fake.stop();
    }
  });
});
