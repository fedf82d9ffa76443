// The WhatsApp bridge against the real homeserver and a fake Graph API that follows the real
// contract: webhook security and delivery semantics, text both ways, statuses.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { pino } from "pino";
import { registrationYaml } from "../../bridges/kit/registration.js";
import { WhatsAppBridge } from "../../bridges/whatsapp/bridge.js";
import { buildConfig } from "../../bridges/whatsapp/config.js";
import { startHomeserver, type Homeserver } from "../../src/server.js";
import { Client, type UserClient } from "../helpers/client.js";
import { FakeWhatsApp } from "../helpers/fake-whatsapp.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { testConfig } from "../helpers/server.js";

const freePort = () => new Promise<number>((r) => { const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); }); });

async function waitFor<T>(f: () => Promise<T | undefined | false> | T | undefined | false, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v as T;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("WhatsApp bridge", function () {
  this.timeout(60_000);
  let hs: Homeserver;
  let bridge: WhatsAppBridge;
  let fake: FakeWhatsApp;
  let alice: UserClient;
  let webhook = "";

  before(async () => {
    const dbUrl = await createTestDatabase();
    fake = await new FakeWhatsApp("wa-token", "wa-app-secret", "106540352242922").start();
    const port = await freePort();
    const config = buildConfig({
      homeserver: { url: "http://placeholder", domain: "localhost" },
      appservice: { listen: { host: "127.0.0.1", port }, url: `http://127.0.0.1:${port}`, as_token: "wa-as", hs_token: "wa-hs" },
      database: { url: dbUrl },
      whatsapp: { graph_base_url: fake.url, phone_number_id: "106540352242922", access_token: "wa-token", app_secret: "wa-app-secret", verify_token: "verify-me" },
      team: ["@alice:localhost"],
    });
    const reg = path.join(mkdtempSync(path.join(tmpdir(), "ganglion-wa-")), "registration.yaml");
    writeFileSync(reg, registrationYaml({ id: config.appservice.id, url: config.appservice.url, asToken: "wa-as", hsToken: "wa-hs", botLocalpart: config.appservice.bot_localpart, userPrefix: config.appservice.user_prefix, domain: "localhost" }));
    hs = await startHomeserver(testConfig(dbUrl, { appservices: { registration_files: [reg] } }), { log: pino({ level: "silent" }), shutdownGraceMs: 1000 });
    alice = await new Client(hs.url).register("alice");
    await alice.put(`/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`, { displayname: "Alice" });
    bridge = new WhatsAppBridge({ ...config, homeserver: { url: hs.url, domain: "localhost" } }, dbUrl);
    await bridge.start();
    webhook = `http://127.0.0.1:${port}${config.whatsapp.webhook_path}`;
  });
  after(async () => {
    await bridge?.stop();
    await hs?.close();
    await fake?.stop();
  });

  const portalOf = async (waId: string) => (await bridge.store.portalByRemote("whatsapp", waId))?.roomId;
  const timeline = async (c: UserClient, roomId: string) =>
    (await c.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`)).body.chunk as any[];

  it("answers Meta's verification handshake only with the right token", async () => {
    const ok = await fetch(`${webhook}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444`);
    expect(ok.status).to.equal(200);
    expect(await ok.text()).to.equal("1158201444");
    expect((await fetch(`${webhook}?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1`)).status).to.equal(403);
  });

  it("refuses unsigned or badly signed webhooks and processes nothing", async () => {
    expect(await fake.deliver(webhook, fake.inboundText("15550000001", "Mallory", "forged"), "bad")).to.equal(403);
    expect(await fake.deliver(webhook, fake.inboundText("15550000001", "Mallory", "forged"), "none")).to.equal(401);
    expect(await portalOf("15550000001")).to.equal(undefined);
  });

  it("a customer's first message makes a portal with the team invited; a retried delivery posts once", async () => {
    const payload = fake.inboundText("16505551234", "Sheena Nelson", "Does it come in another color?", "wamid.first", 1749416383);
    expect(await fake.deliver(webhook, payload)).to.equal(200);
    expect(await fake.deliver(webhook, payload)).to.equal(200); // Meta retries: at least once
    const roomId = await waitFor(() => portalOf("16505551234"));
    await waitFor(async () => (await alice.get("/_matrix/client/v3/sync")).body.rooms.invite[roomId]);
    expect((await alice.post(`/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {})).status).to.equal(200);
    const msgs = (await timeline(alice, roomId)).filter((e) => e.type === "m.room.message");
    expect(msgs).to.have.length(1);
    expect(msgs[0]).to.include({ sender: "@whatsapp_16505551234:localhost", origin_server_ts: 1749416383000 });
    expect(msgs[0].content.body).to.equal("Does it come in another color?");
  });

  it("the team's reply goes to WhatsApp with the relay prefix; read and failed statuses come back", async () => {
    const roomId = (await portalOf("16505551234"))!;
    const sent = await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/r1`, { msgtype: "m.text", body: "Yes, in blue." });
    const out = await waitFor(() => fake.sent.find((b) => b.type === "text" && b.to === "16505551234"));
    expect(out.text.body).to.equal("Alice: Yes, in blue.");
    expect(out.biz_opaque_callback_data).to.equal(sent.body.event_id);
    const wamid = await waitFor(async () => (await bridge.store.messageByEvent(sent.body.event_id))?.remoteId);
    expect(await fake.deliver(webhook, fake.status(wamid, "read", "16505551234"))).to.equal(200);
    await waitFor(async () => {
      const s = await alice.get("/_matrix/client/v3/sync");
      const r = (s.body.rooms.join[roomId]?.ephemeral.events ?? []).find((e: any) => e.type === "m.receipt");
      return r?.content[sent.body.event_id]?.["m.read"]?.["@whatsapp_16505551234:localhost"];
    });
    expect(await fake.deliver(webhook, fake.status(wamid, "failed", "16505551234", [{ code: 131047, title: "Re-engagement message" }]))).to.equal(200);
    const notice = await waitFor(async () => (await timeline(alice, roomId)).find((e) => e.content?.msgtype === "m.notice" && String(e.content.body).includes("24 hours")));
    expect(notice.sender).to.equal("@whatsappbot:localhost");
  });
});

describe("WhatsApp bridge: config and registration", () => {
  it("the sample config is valid; --generate-registration writes a file the homeserver accepts", async function () {
    this.timeout(30_000);
    const { spawnSync } = await import("node:child_process");
    const { readFileSync } = await import("node:fs");
    const { parse } = await import("yaml");
    const { loadRegistrations } = await import("../../src/config/appservices.js");
    const root = path.resolve(import.meta.dirname, "../..");
    const sample = path.join(root, "bridges/whatsapp/config.sample.yaml");
    const c = buildConfig(parse(readFileSync(sample, "utf8")));
    expect(c.appservice.user_prefix).to.equal("whatsapp_");
    expect(() => buildConfig({ homeserver: { url: "x" } })).to.throw(/invalid WhatsApp bridge config/);
    const out = path.join(mkdtempSync(path.join(tmpdir(), "ganglion-wa-reg-")), "reg.yaml");
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "bridges/whatsapp/main.ts"), "--config", sample, "--generate-registration", out], { cwd: root, encoding: "utf8" });
    expect(r.status, r.stderr).to.equal(0);
    const [reg] = loadRegistrations([out]);
    expect(reg!.namespaces.users[0]!.exclusive).to.equal(true);
    expect(reg!.sender_localpart).to.equal("whatsappbot");
  });
});
