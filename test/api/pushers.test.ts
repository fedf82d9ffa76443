// pusher.yaml and the push gateway API: a fake gateway in the test receives what the server pushes.
import { createServer, type Server } from "node:http";
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { enc, send, setState, twoInRoom } from "../helpers/rooms.js";
import { waitFor } from "../helpers/wait.js";

describe("pushers", function () {
  this.timeout(60_000);
  const t = useServer();
  let gw: Server;
  let url = "";
  const got: any[] = [];
  let failNext = 0;
  let reject: string[] = [];

  before(async () => {
    gw = createServer((req, res) => {
      let text = "";
      req.on("data", (c) => (text += c));
      req.on("end", () => {
        got.push({ path: req.url, body: JSON.parse(text) });
        if (failNext > 0) { failNext--; res.writeHead(500).end("{}"); return; }
        res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ rejected: reject }));
      });
    });
    await new Promise<void>((r) => gw.listen(0, "127.0.0.1", () => r()));
    url = `http://127.0.0.1:${(gw.address() as { port: number }).port}/_matrix/push/v1/notify`;
  });
  after(() => new Promise<void>((r) => gw.close(() => r())));

  const pusher = (pushkey: string, format?: string) => ({
    pushkey, kind: "http", app_id: "org.example.app", app_display_name: "App", device_display_name: "Phone", lang: "en",
    data: { url, ...(format ? { format } : {}) },
  });

  it("set, list, delete; the URL must be a push gateway's", async () => {
    const u = await t.s.client().register();
    expect((await u.post("/_matrix/client/v3/pushers/set", pusher("k-list"))).status).to.equal(200);
    expect((await u.get("/_matrix/client/v3/pushers")).body.pushers.map((p: any) => p.pushkey)).to.deep.equal(["k-list"]);
    expect((await u.post("/_matrix/client/v3/pushers/set", { ...pusher("bad"), data: { url: "http://x/other" } })).status).to.equal(400);
    expect((await u.post("/_matrix/client/v3/pushers/set", { pushkey: "k-list", kind: null, app_id: "org.example.app" })).status).to.equal(200);
    expect((await u.get("/_matrix/client/v3/pushers")).body.pushers).to.deep.equal([]);
  });

  it("a pusher goes with the access token that made it: logout, or a password change logging out other devices; a refresh keeps it", async () => {
    const u = await t.s.client().register();
    const second = async () => {
      const login = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: u.userId }, password: u.password });
      return Object.assign(Object.create(Object.getPrototypeOf(u)), u, { token: login.body.access_token, deviceId: login.body.device_id });
    };
    const keys = async () => (await u.get("/_matrix/client/v3/pushers")).body.pushers.map((p: any) => p.pushkey).sort();
    expect((await u.post("/_matrix/client/v3/pushers/set", pusher("k-mine"))).status).to.equal(200);
    const phone = await second();
    expect((await phone.post("/_matrix/client/v3/pushers/set", pusher("k-phone"))).status).to.equal(200);
    const tablet = await second();
    expect((await tablet.post("/_matrix/client/v3/pushers/set", pusher("k-tablet"))).status).to.equal(200);
    expect(await keys()).to.deep.equal(["k-mine", "k-phone", "k-tablet"]);
    expect((await tablet.post("/_matrix/client/v3/logout", {})).status).to.equal(200);
    expect(await keys()).to.deep.equal(["k-mine", "k-phone"]);
    const changed = await u.post("/_matrix/client/v3/account/password", {
      new_password: "another long password", logout_devices: true,
      auth: { type: "m.login.password", identifier: { type: "m.id.user", user: u.userId }, password: u.password },
    });
    expect(changed.status, changed.text).to.equal(200);
    expect(await keys()).to.deep.equal(["k-mine"]);
    // A refreshed token keeps its pushers.
    const fresh = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: u.userId }, password: "another long password", refresh_token: true });
    const r = Object.assign(Object.create(Object.getPrototypeOf(u)), u, { token: fresh.body.access_token });
    expect((await r.post("/_matrix/client/v3/pushers/set", pusher("k-refreshed"))).status).to.equal(200);
    const refreshed = await t.s.client().post("/_matrix/client/v3/refresh", { refresh_token: fresh.body.refresh_token });
    expect(refreshed.status).to.equal(200);
    const r2 = Object.assign(Object.create(Object.getPrototypeOf(u)), u, { token: refreshed.body.access_token });
    expect((await r2.get("/_matrix/client/v3/account/whoami")).status).to.equal(200); // first use retires the old token
    expect(await keys()).to.deep.equal(["k-mine", "k-refreshed"]);
  });

  it("a message and a mention reach the gateway with the spec's payload; a muted room sends nothing", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    await a.post("/_matrix/client/v3/pushers/set", pusher("k-a"));
    const m1 = await send(b, roomId, "hello");
    const n1 = await waitFor(() => got.find((g) => g.body.notification.event_id === m1));
    expect(n1.body.notification.id).to.equal(m1); // the older name gateways read
    expect(n1.path).to.equal("/_matrix/push/v1/notify");
    expect(n1.body.notification).to.include({ room_id: roomId, type: "m.room.message", sender: b.userId, prio: "high" });
    expect(n1.body.notification.content.body).to.equal("hello");
    expect(n1.body.notification.counts.unread).to.be.at.least(1);
    expect(n1.body.notification.devices[0]).to.include({ app_id: "org.example.app", pushkey: "k-a" });
    expect(n1.body.notification.devices[0].data).to.deep.equal({});
    const m2 = await send(b, roomId, { msgtype: "m.text", body: "hey you", "m.mentions": { user_ids: [a.userId] } });
    const n2 = await waitFor(() => got.find((g) => g.body.notification.event_id === m2));
    expect(n2.body.notification.devices[0].tweaks.highlight).to.equal(true);
    // Reading them sends the new count alone (a badge update).
    await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(m2)}`, {});
    const badge = await waitFor(() => got.find((g) => g.body.notification.event_id === undefined && g.body.notification.counts?.unread === 0));
    expect(badge.body.notification.devices[0]).to.include({ pushkey: "k-a" });
    expect(badge.body.notification).not.to.have.property("content");
    // A room without a name is named by its canonical alias.
    const alias = `#push-${Date.now()}:localhost`;
    expect((await a.put(`/_matrix/client/v3/directory/room/${enc(alias)}`, { room_id: roomId })).status).to.equal(200);
    const set = await setState(a, roomId, "m.room.canonical_alias", { alias });
    expect(set.status, set.text).to.equal(200);
    const m3 = await send(b, roomId, "named by its alias");
    const n3 = await waitFor(() => got.find((g) => g.body.notification.event_id === m3));
    expect(n3.body.notification).to.include({ room_name: alias, room_alias: alias });
    await a.put(`/_matrix/client/v3/pushrules/global/room/${enc(roomId)}`, { actions: [] });
    const muted = await send(b, roomId, "muted");
    const after = await send(b, roomId, { msgtype: "m.text", body: "still muted", "m.mentions": { user_ids: [a.userId] } });
    // The mention overrides the muted room (an override rule); the plain message does not.
    await waitFor(() => got.find((g) => g.body.notification.event_id === after));
    expect(got.some((g) => g.body.notification.event_id === muted)).to.equal(false);
  });

  it("event_id_only format; a gateway that fails once gets the push again; rejected pushkeys are removed", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    await a.post("/_matrix/client/v3/pushers/set", pusher("k-idonly", "event_id_only"));
    failNext = 1;
    const m = await send(b, roomId, "secret text");
    const deliveries = await waitFor(() => { const l = got.filter((g) => g.body.notification.event_id === m); return l.length >= 2 ? l : undefined; });
    expect(deliveries[1].body).to.deep.equal(deliveries[0].body);
    expect(deliveries[0].body.notification).not.to.have.property("content");
    expect(JSON.stringify(deliveries[0].body)).not.to.contain("secret text");
    reject = ["k-idonly"];
    const m2 = await send(b, roomId, "one more");
    await waitFor(() => got.find((g) => g.body.notification.event_id === m2));
    reject = [];
    for (let i = 0; i < 40 && (await a.get("/_matrix/client/v3/pushers")).body.pushers.length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await a.get("/_matrix/client/v3/pushers")).body.pushers).to.deep.equal([]);
  });
});
