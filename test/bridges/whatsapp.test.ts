// The WhatsApp bridge against the real homeserver and a fake Graph API that follows the real
// contract: webhook security and delivery semantics, text both ways, statuses.
import { expect } from "chai";
import { WhatsAppBridge } from "../../bridges/whatsapp/bridge.js";
import { buildConfig } from "../../bridges/whatsapp/config.js";
import type { Homeserver } from "../../src/server.js";
import { Client, type UserClient } from "../helpers/client.js";
import { FakeWhatsApp } from "../helpers/fake-whatsapp.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { freePort, generateRegistration, homeserverFor } from "../helpers/bridge.js";
import { waitFor } from "../helpers/wait.js";



describe("WhatsApp bridge", function () {
  this.timeout(60_000);
  let hs: Homeserver;
  let bridge: WhatsAppBridge;
  let fake: FakeWhatsApp;
  let alice: UserClient;
  let webhook = "";
  let bridgeConfig: ReturnType<typeof buildConfig>;
  let bridgeDb = "";

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
    hs = await homeserverFor(dbUrl, config);
    alice = await new Client(hs.url).register("alice");
    await alice.put(`/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`, { displayname: "Alice" });
    bridge = new WhatsAppBridge({ ...config, homeserver: { url: hs.url, domain: "localhost" } }, dbUrl);
    await bridge.start();
    webhook = `http://127.0.0.1:${port}${config.whatsapp.webhook_path}`;
    fake.webhookUrl = webhook;
    bridgeConfig = { ...config, homeserver: { url: hs.url, domain: "localhost" } };
    bridgeDb = dbUrl;
  });
  after(async () => {
    await bridge?.stop();
    await hs?.close();
    await fake?.stop();
  });

  const portalOf = async (waId: string) => (await bridge.store.portalByRemote("whatsapp", waId))?.roomId;
  /** A customer's first message (as given), then Alice joins the portal; returns the room. */
  async function openPortal(who: string, payload: Record<string, unknown>): Promise<string> {
    expect(await fake.deliver(webhook, payload)).to.equal(200);
    const roomId = await waitFor(() => portalOf(who));
    await waitFor(async () => (await alice.get("/_matrix/client/v3/sync")).body.rooms.invite[roomId]);
    expect((await alice.post(`/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {})).status).to.equal(200);
    return roomId;
  }
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
    // WhatsApp's "delivered" becomes the customer ghost's delivered receipt, then "read" its read receipt.
    expect(await fake.deliver(webhook, fake.status(wamid, "delivered", "16505551234"))).to.equal(200);
    await waitFor(async () => {
      const s = await alice.get("/_matrix/client/v3/sync");
      const r = (s.body.rooms.join[roomId]?.ephemeral.events ?? []).find((e: any) => e.type === "m.receipt");
      return r?.content[sent.body.event_id]?.["org.ganglion.delivered"]?.["@whatsapp_16505551234:localhost"];
    }, 15_000, "the ghost's delivered receipt");
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

  it("customer media, locations, replies and reactions arrive as Matrix events; a removed reaction is redacted", async () => {
    const who = "16505550001";
    const roomId = await openPortal(who, fake.inboundText(who, "Pat", "first *bold* words", "wamid.p1"));
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]);
    const mediaId = fake.addMedia(jpeg, "image/jpeg");
    await fake.deliver(webhook, fake.inbound(who, { type: "image", image: { id: mediaId, mime_type: "image/jpeg", caption: "look" } }, "wamid.p2"));
    await fake.deliver(webhook, fake.inbound(who, { type: "location", location: { latitude: 37.44, longitude: -122.16, name: "Philz Coffee" } }, "wamid.p3"));
    await fake.deliver(webhook, fake.inbound(who, { type: "text", text: { body: "about that" }, context: { from: who, id: "wamid.p1" } }, "wamid.p4"));
    await fake.deliver(webhook, fake.inbound(who, { type: "reaction", reaction: { message_id: "wamid.p1", emoji: "❤️" } }, "wamid.p5"));
    const tl = await waitFor(async () => { const t = await timeline(alice, roomId); return t.some((e) => e.type === "m.reaction") ? t : undefined; });
    const first = tl.find((e) => e.content?.body === "first *bold* words");
    expect(first.content.formatted_body).to.equal("first <strong>bold</strong> words");
    const img = tl.find((e) => e.content?.msgtype === "m.image");
    expect(img.content.body).to.equal("look");
    const bytes = await fetch(`${hs.url}/_matrix/client/v1/media/download/${String(img.content.url).slice(6)}`, { headers: { Authorization: `Bearer ${alice.token}` } });
    expect(Buffer.from(await bytes.arrayBuffer()).equals(jpeg)).to.equal(true);
    expect(tl.find((e) => e.content?.msgtype === "m.location").content.geo_uri).to.equal("geo:37.44,-122.16");
    expect(tl.find((e) => e.content?.body === "about that").content["m.relates_to"]["m.in_reply_to"].event_id).to.equal(first.event_id);
    const reaction = tl.find((e) => e.type === "m.reaction");
    expect(reaction.content["m.relates_to"]).to.include({ event_id: first.event_id, key: "❤️" });
    await fake.deliver(webhook, fake.inbound(who, { type: "reaction", reaction: { message_id: "wamid.p1" } }, "wamid.p6"));
    await waitFor(async () => (await alice.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(reaction.event_id)}`)).body.unsigned?.redacted_because);
    await fake.deliver(webhook, fake.inbound(who, { type: "unsupported", unsupported: { type: "edit" } }, "wamid.p7"));
    await waitFor(async () => (await timeline(alice, roomId)).find((e) => String(e.content?.body).includes("edited a message")));
  });

  it("the team's media, reactions, replies, read receipts and templates reach WhatsApp; edits and deletions get a notice", async () => {
    const who = "16505550002";
    const roomId = await openPortal(who, fake.inboundText(who, "Quinn", "hello team", "wamid.q1"));
    const inbound = (await bridge.store.messageByRemote("whatsapp", "wamid.q1"))!.eventId;
    const put = (txn: string, type: string, content: unknown) => alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${type}/${txn}`, content);
    // An image: downloaded from the homeserver, uploaded to the Graph API, sent by ID.
    const up = await fetch(`${hs.url}/_matrix/media/v3/upload?filename=pic.png`, { method: "POST", headers: { Authorization: `Bearer ${alice.token}`, "Content-Type": "image/png" }, body: Buffer.from("png-bytes") });
    const mxc = ((await up.json()) as { content_uri: string }).content_uri;
    await put("t-img", "m.room.message", { msgtype: "m.image", body: "pic.png", url: mxc });
    const img = await waitFor(() => fake.sent.find((b) => b.type === "image" && b.to === who));
    expect(fake.media.get(img.image.id)?.bytes.toString()).to.equal("png-bytes");
    // A reply with formatting, quoting the customer's message.
    await put("t-rep", "m.room.message", { msgtype: "m.text", body: "> <@whatsapp_16505550002:localhost> hello team\n\nhi **there**", format: "org.matrix.custom.html",
      formatted_body: "<mx-reply>quoted</mx-reply>hi <strong>there</strong>", "m.relates_to": { "m.in_reply_to": { event_id: inbound } } });
    const rep = await waitFor(() => fake.sent.find((b) => b.type === "text" && b.to === who && b.context));
    expect(rep.text.body).to.equal("Alice: hi *there*");
    expect(rep.context.message_id).to.equal("wamid.q1");
    // A reaction, then taking it back.
    const r = await put("t-react", "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: inbound, key: "👍" } });
    await waitFor(() => fake.sent.find((b) => b.type === "reaction" && b.reaction.emoji === "👍" && b.reaction.message_id === "wamid.q1"));
    await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(r.body.event_id)}/t-unreact`, {});
    await waitFor(() => fake.sent.find((b) => b.type === "reaction" && b.reaction.emoji === "" && b.reaction.message_id === "wamid.q1"));
    // The team read the customer's message: WhatsApp's blue ticks.
    await alice.post(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(inbound)}`, {});
    await waitFor(() => fake.sent.find((b) => b.status === "read" && b.message_id === "wamid.q1"));
    // A template by command, and help.
    await put("t-tpl", "m.room.message", { msgtype: "m.text", body: "!wa template hello_world en_US Ada" });
    const tpl = await waitFor(() => fake.sent.find((b) => b.type === "template" && b.to === who));
    expect(tpl.template).to.deep.equal({ name: "hello_world", language: { code: "en_US" }, components: [{ type: "body", parameters: [{ type: "text", text: "Ada" }] }] });
    // An edit: not possible on WhatsApp, and the room is told.
    const sent = await put("t-orig", "m.room.message", { msgtype: "m.text", body: "typo" });
    await put("t-edit", "m.room.message", { msgtype: "m.text", body: "* fixed", "m.new_content": { msgtype: "m.text", body: "fixed" }, "m.relates_to": { rel_type: "m.replace", event_id: sent.body.event_id } });
    await waitFor(async () => (await timeline(alice, roomId)).find((e) => String(e.content?.body).includes("cannot edit")));
    expect(fake.sent.filter((b) => b.type === "text" && String(b.text.body).includes("fixed"))).to.have.length(0);
  });

  it("rate limits are retried; a refused token pauses sending until `!wa resume`", async () => {
    const who = "16505550003";
    const roomId = await openPortal(who, fake.inboundText(who, "Rae", "hi", "wamid.r1"));
    (bridge as any).wa.retryDelays = [50, 50, 50, 50];
    fake.failNext.push({ code: 130429, status: 400 }, { code: 131056, status: 400 });
    await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/rl1`, { msgtype: "m.text", body: "eventually" });
    await waitFor(() => fake.sent.find((b) => b.type === "text" && b.text.body === "Alice: eventually" && !b.failedWith));
    expect(fake.sent.filter((b) => b.text?.body === "Alice: eventually").length).to.equal(3);
    fake.failNext.push({ code: 190, status: 401 });
    await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/rl2`, { msgtype: "m.text", body: "nope" });
    await waitFor(async () => (await timeline(alice, roomId)).find((e) => String(e.content?.body).includes("access token")));
    const before = fake.sent.length;
    await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/rl3`, { msgtype: "m.text", body: "while paused" });
    await waitFor(async () => (await timeline(alice, roomId)).find((e) => String(e.content?.body).includes("paused because")));
    expect(fake.sent.length).to.equal(before);
    await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/rl4`, { msgtype: "m.text", body: "!wa resume" });
    await waitFor(async () => (await timeline(alice, roomId)).find((e) => e.content?.body === "Sending to WhatsApp resumed."));
    await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/rl5`, { msgtype: "m.text", body: "back again" });
    await waitFor(() => fake.sent.find((b) => b.type === "text" && b.text.body === "Alice: back again"));
  });

  it("batched and out-of-order webhooks: every message once, in order; a late 'delivered' after 'read' changes nothing", async () => {
    const who = "16505550006";
    const batch = fake.envelope({
      contacts: [{ profile: { name: "Uma" }, wa_id: who }],
      messages: [1, 2, 3].map((n) => ({ from: who, id: `wamid.u${n}`, timestamp: String(1749416380 + n), type: "text", text: { body: `batch ${n}` } })),
    });
    const roomId = await openPortal(who, batch);
    const sent = await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/u-out`, { msgtype: "m.text", body: "got them" });
    const wamid = await waitFor(async () => (await bridge.store.messageByEvent(sent.body.event_id))?.remoteId);
    expect(await fake.deliver(webhook, fake.status(wamid, "read", who))).to.equal(200);
    expect(await fake.deliver(webhook, fake.status(wamid, "delivered", who))).to.equal(200);
    expect(await fake.deliver(webhook, batch)).to.equal(200); // the whole batch again
    const bodies = (await timeline(alice, roomId)).filter((e) => String(e.content?.body).startsWith("batch")).map((e) => e.content.body).reverse();
    expect(bodies).to.deep.equal(["batch 1", "batch 2", "batch 3"]);
  });

  it("the homeserver's question about an unknown customer ghost makes it (invite by number)", async () => {
    const room = await new Client(hs.url, alice.token).post("/_matrix/client/v3/createRoom", {});
    const inv = await alice.post(`/_matrix/client/v3/rooms/${encodeURIComponent(room.body.room_id)}/invite`, { user_id: "@whatsapp_15559990000:localhost" });
    expect(inv.status, inv.text).to.equal(200);
    expect((await alice.post(`/_matrix/client/v3/rooms/${encodeURIComponent(room.body.room_id)}/invite`, { user_id: "@whatsapp_nonsense:localhost" })).status).to.equal(404);
  });

  it("when the 24-hour window has closed, WhatsApp's failure (131047) comes back as a notice", async () => {
    const who = "16505550004";
    const roomId = await openPortal(who, fake.inboundText(who, "Sol", "hi", "wamid.s1"));
    fake.advance(25 * 3600 * 1000);
    await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/late`, { msgtype: "m.text", body: "sorry for the delay" });
    const n = await waitFor(async () => (await timeline(alice, roomId)).find((e) => String(e.content?.body).includes("Not delivered") && String(e.content?.body).includes("24 hours")));
    expect(n.sender).to.equal("@whatsappbot:localhost");
    fake.advance(-25 * 3600 * 1000);
  });

  it("a bridge restart mid-stream loses and duplicates nothing", async () => {
    const who = "16505550005";
    const roomId = await openPortal(who, fake.inboundText(who, "Tam", "before", "wamid.t1"));
    await bridge.stop();
    // While it is down: the customer writes (Meta cannot deliver, and will retry), the team writes (the homeserver queues).
    const during = fake.inboundText(who, "Tam", "while you were away", "wamid.t2");
    expect(await fake.deliver(webhook, during).catch(() => 0)).to.equal(0);
    await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/down1`, { msgtype: "m.text", body: "are you there?" });
    bridge = new WhatsAppBridge(bridgeConfig, bridgeDb);
    await bridge.start();
    expect(await fake.deliver(webhook, during)).to.equal(200); // Meta's retry
    expect(await fake.deliver(webhook, during)).to.equal(200); // and another
    await new Client(hs.url, "wa-as").post("/_matrix/client/v1/appservice/whatsapp/ping", {}); // the homeserver retries now
    await waitFor(() => fake.sent.find((b) => b.type === "text" && b.text.body === "Alice: are you there?"));
    const tl = await waitFor(async () => { const t = await timeline(alice, roomId); return t.some((e) => e.content?.body === "while you were away") ? t : undefined; });
    expect(tl.filter((e) => e.content?.body === "while you were away")).to.have.length(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.sent.filter((b) => b.type === "text" && b.text.body === "Alice: are you there?")).to.have.length(1);
  });
});

describe("WhatsApp bridge: config and registration", () => {
  it("the sample config is valid; --generate-registration writes a file the homeserver accepts", async function () {
    this.timeout(30_000);
    const { readFileSync } = await import("node:fs");
    const { parse } = await import("yaml");
    const { loadRegistrations } = await import("../../src/config/appservices.js");
    const g = generateRegistration("whatsapp");
    const sample = g.sample;
    const c = buildConfig(parse(readFileSync(sample, "utf8")));
    expect(c.appservice.user_prefix).to.equal("whatsapp_");
    expect(() => buildConfig({ homeserver: { url: "x" } })).to.throw(/invalid WhatsApp bridge config/);
    expect(g.status, g.stderr).to.equal(0);
    const [reg] = loadRegistrations([g.file]);
    expect(reg!.namespaces.users[0]!.exclusive).to.equal(true);
    expect(reg!.sender_localpart).to.equal("whatsappbot");
  });
});
