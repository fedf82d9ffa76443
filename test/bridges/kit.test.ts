// The bridges' shared toolkit against the real homeserver: the appservice endpoints, intents
// (ghosts), the store.
import { mkdtempSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import express from "express";
import { pino } from "pino";
import { mountAppservice, tokenMatches, type MatrixEvent } from "../../bridges/kit/appservice.js";
import { Intents } from "../../bridges/kit/intent.js";
import { registrationYaml } from "../../bridges/kit/registration.js";
import { KitStore } from "../../bridges/kit/store.js";
import { startHomeserver, type Homeserver } from "../../src/server.js";
import { Client } from "../helpers/client.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { testConfig } from "../helpers/server.js";

describe("bridge kit", function () {
  this.timeout(60_000);
  let hs: Homeserver;
  let store: KitStore;
  let server: Server;
  let url = "";
  const received: MatrixEvent[] = [];
  let failNext = false;
  let intents: Intents;

  before(async () => {
    const dbUrl = await createTestDatabase();
    store = new KitStore(dbUrl, "kit_test");
    await store.migrate();
    const app = express();
    mountAppservice(app, "kit-hs-token", store, {
      async onTransaction(events) {
        if (failNext) { failNext = false; throw new Error("not now"); }
        received.push(...events);
      },
      async onUserQuery(userId) { return userId.startsWith("@kit_"); },
    });
    server = await new Promise((r) => { const s = app.listen(0, "127.0.0.1", () => r(s)); });
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const dir = mkdtempSync(path.join(tmpdir(), "ganglion-kit-"));
    const reg = path.join(dir, "registration.yaml");
    writeFileSync(reg, registrationYaml({ id: "kit", url, asToken: "kit-as-token", hsToken: "kit-hs-token", botLocalpart: "kitbot", userPrefix: "kit_", domain: "localhost" }));
    hs = await startHomeserver(testConfig(dbUrl, { appservices: { registration_files: [reg] } }), { log: pino({ level: "silent" }), shutdownGraceMs: 1000 });
    intents = new Intents(hs.url, "kit-as-token", "@kitbot:localhost");
  });
  after(async () => {
    await hs?.close();
    await new Promise((r) => server?.close(r));
    await store?.close();
  });

  it("tokens compare in constant time and exactly", () => {
    expect(tokenMatches("abc", "abc")).to.equal(true);
    expect(tokenMatches("abd", "abc")).to.equal(false);
    expect(tokenMatches(undefined, "abc")).to.equal(false);
  });

  it("a ghost registers, makes a room, a person joins and writes: the bridge receives it", async () => {
    const ghost = intents.for("@kit_alice:localhost");
    await ghost.setDisplayName("Alice (Kit)");
    const human = await new Client(hs.url).register();
    const roomId = await ghost.createRoom({ preset: "private_chat", name: "Portal" });
    await ghost.invite(roomId, human.userId);
    expect((await human.post(`/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {})).status).to.equal(200);
    const sent = await human.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/k1`, { msgtype: "m.text", body: "hi ghost" });
    const end = Date.now() + 15_000;
    while (!received.some((e) => e.event_id === sent.body.event_id) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(received.find((e) => e.event_id === sent.body.event_id)?.content.body).to.equal("hi ghost");
    // Ghost sends are idempotent on the transaction ID and keep the bridged time.
    const e1 = await ghost.send(roomId, "m.room.message", { msgtype: "m.text", body: "from the other side" }, "remote-1", 1_700_000_000_000);
    const e2 = await ghost.send(roomId, "m.room.message", { msgtype: "m.text", body: "from the other side" }, "remote-1", 1_700_000_000_000);
    expect(e2).to.equal(e1);
    const ev = await human.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(e1)}`);
    expect(ev.body.origin_server_ts).to.equal(1_700_000_000_000);
    expect(ev.body.sender).to.equal("@kit_alice:localhost");
    // Media through the intent.
    const mxc = await ghost.upload(Buffer.from("bytes!"), "text/plain", "a.txt");
    expect((await ghost.download(mxc)).bytes.toString()).to.equal("bytes!");
  });

  it("transactions: wrong or missing token refused; one handled once; a failed one retried", async () => {
    const marker = (id: string) => ({ event_id: id, room_id: "!x:localhost", sender: "@x:localhost", type: "m.test", content: {}, origin_server_ts: 0 });
    const put = (txn: string, token?: string) => fetch(`${url}/_matrix/app/v1/transactions/${txn}`, {
      method: "PUT", headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ events: [marker(`$${txn}`)] }),
    });
    const seen = (txn: string) => received.filter((e) => e.event_id === `$${txn}`).length;
    expect((await put("t-x")).status).to.equal(401);
    expect((await put("t-x", "wrong")).status).to.equal(403);
    expect(seen("t-x")).to.equal(0);
    expect((await put("t-once", "kit-hs-token")).status).to.equal(200);
    expect((await put("t-once", "kit-hs-token")).status).to.equal(200);
    expect(seen("t-once")).to.equal(1);
    failNext = true;
    expect((await put("t-fail", "kit-hs-token")).status).to.equal(500);
    expect(seen("t-fail")).to.equal(0);
    expect((await put("t-fail", "kit-hs-token")).status).to.equal(200);
    expect(seen("t-fail")).to.equal(1);
    // The homeserver's ping reaches the kit.
    const ping = await new Client(hs.url, "kit-as-token").post("/_matrix/client/v1/appservice/kit/ping", {});
    expect(ping.status, ping.text).to.equal(200);
  });

  it("the store: portals, the message map, webhook deliveries seen once", async () => {
    await store.savePortal({ network: "wa", remoteId: "15551234", roomId: "!r:localhost", name: "Bob" });
    expect((await store.portalByRemote("wa", "15551234"))?.roomId).to.equal("!r:localhost");
    expect((await store.portalByRoom("!r:localhost"))?.remoteId).to.equal("15551234");
    await store.saveMessage({ network: "wa", remoteId: "wamid.1", roomId: "!r:localhost", eventId: "$e1", sendTxnId: "txn-1" });
    expect((await store.messageByEvent("$e1"))?.remoteId).to.equal("wamid.1");
    expect((await store.messageByRemote("wa", "wamid.1"))?.sendTxnId).to.equal("txn-1");
    expect(await store.firstDelivery("d1")).to.equal(true);
    expect(await store.firstDelivery("d1")).to.equal(false);
  });
});
