// The Google Chat bridge against the real homeserver and a fake Google that follows the real
// contracts (token endpoint, x509 certs, Chat REST subset, signed events).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { GoogleChatBridge } from "../../bridges/googlechat/bridge.js";
import { buildConfig } from "../../bridges/googlechat/config.js";
import { IdTokenVerifier } from "../../bridges/googlechat/client.js";
import type { Homeserver } from "../../src/server.js";
import { Client, type UserClient } from "../helpers/client.js";
import { FakeGoogle } from "../helpers/fake-google.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { freePort, generateRegistration, homeserverFor } from "../helpers/bridge.js";
import { waitFor } from "../helpers/wait.js";


describe("Google Chat bridge", function () {
  this.timeout(60_000);
  let hs: Homeserver;
  let bridge: GoogleChatBridge;
  let google: FakeGoogle;
  let alice: UserClient;
  let events = "";
  let bridgeConfig: ReturnType<typeof buildConfig>;
  let bridgeDb = "";
  const space = { name: "spaces/AAAAAAAAAAA", displayName: "Customer Support Superstars", spaceType: "SPACE" };
  const izumi = { name: "users/12345678901234567890", displayName: "Izumi", type: "HUMAN" };
  const message = (id: string, text: string, thread = "spaces/AAAAAAAAAAA/threads/T1") => ({
    type: "MESSAGE", eventTime: new Date().toISOString(), space, user: izumi,
    message: { name: `spaces/AAAAAAAAAAA/messages/${id}`, sender: izumi, createTime: "2026-11-20T10:00:00Z", text: `@Bridge ${text}`, argumentText: ` ${text}`, thread: { name: thread }, space: { name: space.name } },
  });

  before(async () => {
    const dbUrl = await createTestDatabase();
    google = await new FakeGoogle("123456789012").start();
    const port = await freePort();
    const saFile = path.join(mkdtempSync(path.join(tmpdir(), "ganglion-gc-")), "sa.json");
    writeFileSync(saFile, JSON.stringify(google.serviceAccount));
    const config = buildConfig({
      homeserver: { url: "http://placeholder", domain: "localhost" },
      appservice: { listen: { host: "127.0.0.1", port }, url: `http://127.0.0.1:${port}`, as_token: "gc-as", hs_token: "gc-hs" },
      database: { url: dbUrl },
      googlechat: { chat_base_url: google.url, service_account_file: saFile, project_number: "123456789012", certs_url: `${google.url}/certs` },
      team: ["@alice:localhost"],
    });
    hs = await homeserverFor(dbUrl, config);
    alice = await new Client(hs.url).register("alice");
    await alice.put(`/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`, { displayname: "Alice" });
    bridgeConfig = { ...config, homeserver: { url: hs.url, domain: "localhost" } };
    bridgeDb = dbUrl;
    bridge = new GoogleChatBridge(bridgeConfig, dbUrl);
    await bridge.start();
    events = `http://127.0.0.1:${port}${config.googlechat.events_path}`;
  });
  after(async () => {
    await bridge?.stop();
    await hs?.close();
    await google?.stop();
  });

  const portal = () => bridge.store.portalByRemote("googlechat", space.name).then((p) => p?.roomId);
  const timeline = async (roomId: string) => (await alice.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`)).body.chunk as any[];

  it("accepts only events Chat signed for this project: bad aud, iss, expiry, signature or key are 401", async () => {
    const added = { type: "ADDED_TO_SPACE", eventTime: new Date().toISOString(), space, user: izumi };
    for (const t of ["aud", "iss", "expired", "signature", "unknownKid"] as const) expect(await google.emit(events, added, t), t).to.equal(401);
    expect(await portal()).to.equal(undefined);
    expect(await google.emit(events, added)).to.equal(200);
    const roomId = await waitFor(() => portal());
    await waitFor(async () => (await alice.get("/_matrix/client/v3/sync")).body.rooms.invite[roomId]);
    expect((await alice.post(`/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {})).status).to.equal(200);
    const name = await alice.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name`);
    expect(name.body.name).to.equal("Customer Support Superstars (Google Chat)");
  });

  it("a new signing key (unknown kid) is fetched once and accepted", async () => {
    google.rotateKey();
    expect(await google.emit(events, message("ROT", "after rotation", "spaces/AAAAAAAAAAA/threads/R"))).to.equal(200);
  });

  it("messages arrive from the sender's ghost; a Chat thread is a Matrix thread; a retry posts once", async () => {
    const roomId = (await portal())!;
    const first = message("M1", "hello from chat");
    expect(await google.emit(events, first)).to.equal(200);
    expect(await google.emit(events, first)).to.equal(200); // Google retries
    expect(await google.emit(events, message("M2", "same thread"))).to.equal(200);
    const tl = await waitFor(async () => { const t = await timeline(roomId); return t.some((e) => e.content?.body === "same thread") ? t : undefined; });
    const m1 = tl.filter((e) => e.content?.body === "hello from chat");
    expect(m1).to.have.length(1);
    expect(m1[0].sender).to.equal("@googlechat_12345678901234567890:localhost");
    const m2 = tl.find((e) => e.content?.body === "same thread");
    expect(m2.content["m.relates_to"]).to.include({ rel_type: "m.thread", event_id: m1[0].event_id });
  });

  it("Matrix → Chat: relay prefix, requestId and client- ID, thread replies, edits, deletions; reactions get a notice", async () => {
    const roomId = (await portal())!;
    const put = (txn: string, type: string, content: unknown) => alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${type}/${txn}`, content);
    const sent = await put("g1", "m.room.message", { msgtype: "m.text", body: "hi **all**", format: "org.matrix.custom.html", formatted_body: "hi <strong>all</strong>" });
    const req = await waitFor(() => google.requests.find((r) => r.method === "POST" && r.body?.text === "Alice: hi *all*"));
    const q = new URL(req.path, google.url).searchParams;
    expect(q.get("requestId")).to.be.a("string");
    expect(q.get("messageId")).to.match(/^client-/);
    const created = await waitFor(async () => (await bridge.store.messageByEvent(sent.body.event_id))?.remoteId);
    // A reply in the Matrix thread that mirrors Chat thread T1.
    const root = (await timeline(roomId)).find((e) => e.content?.body === "hello from chat");
    await put("g2", "m.room.message", { msgtype: "m.text", body: "in the thread", "m.relates_to": { rel_type: "m.thread", event_id: root.event_id } });
    const threaded = await waitFor(() => google.requests.find((r) => r.body?.text === "Alice: in the thread"));
    expect(threaded.body.thread).to.deep.equal({ name: "spaces/AAAAAAAAAAA/threads/T1" });
    expect(new URL(threaded.path, google.url).searchParams.get("messageReplyOption")).to.equal("REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD");
    // Edit and delete our own message.
    await put("g3", "m.room.message", { msgtype: "m.text", body: "* hi everyone", "m.new_content": { msgtype: "m.text", body: "hi everyone" }, "m.relates_to": { rel_type: "m.replace", event_id: sent.body.event_id } });
    await waitFor(() => google.messages.get(created)?.text === "Alice: hi everyone");
    await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(sent.body.event_id)}/g4`, {});
    await waitFor(() => !google.messages.has(created));
    // A reaction cannot be posted by a Chat app: the room is told.
    await put("g5", "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: root.event_id, key: "👍" } });
    await waitFor(async () => (await timeline(roomId)).find((e) => String(e.content?.body).includes("cannot react")));
    // Commands.
    await put("g6", "m.room.message", { msgtype: "m.text", body: "!gc spaces" });
    await waitFor(async () => (await timeline(roomId)).find((e) => String(e.content?.body).includes("spaces/AAAAAAAAAAA")));
  });

  it("the access token is cached, and renewed when Google stops taking it; a 429 after the message was made still makes one", async () => {
    const roomId = (await portal())!;
    const put = (txn: string, body: string) => alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`, { msgtype: "m.text", body });
    const tokens = google.tokenRequests;
    await put("tk1", "one");
    await put("tk2", "two");
    await waitFor(() => google.requests.find((r) => r.body?.text === "Alice: two"));
    expect(google.tokenRequests).to.equal(tokens); // cached since the earlier sends
    google.revokeTokens();
    await put("tk3", "three");
    await waitFor(() => google.requests.find((r) => r.body?.text === "Alice: three"));
    expect(google.tokenRequests).to.equal(tokens + 1);
    (bridge as any).chat.retryDelays = [50, 50, 50];
    google.failNext.push({ status: 429, afterCreate: true });
    await put("tk4", "four");
    await waitFor(() => google.requests.filter((r) => r.body?.text === "Alice: four").length >= 2);
    expect([...google.messages.values()].filter((m) => m.text === "Alice: four")).to.have.length(1);
  });

  it("attachments are fetched through the media API and uploaded to the homeserver", async () => {
    const roomId = (await portal())!;
    google.attachments.set("ATT-REF-1", { bytes: Buffer.from("PNGDATA"), type: "image/png" });
    const ev = message("A1", "a picture", "spaces/AAAAAAAAAAA/threads/A");
    (ev.message as any).attachment = [{ name: "spaces/AAAAAAAAAAA/messages/A1/attachments/X", contentName: "pic.png", contentType: "image/png", attachmentDataRef: { resourceName: "ATT-REF-1" } }];
    expect(await google.emit(events, ev)).to.equal(200);
    const img = await waitFor(async () => (await timeline(roomId)).find((e) => e.content?.msgtype === "m.image"));
    expect(img.content.body).to.equal("pic.png");
    const dl = await fetch(`${hs.url}/_matrix/client/v1/media/download/${String(img.content.url).slice(6)}`, { headers: { Authorization: `Bearer ${alice.token}` } });
    expect(await dl.text()).to.equal("PNGDATA");
  });

  it("a DM with the app is a portal of its own", async () => {
    const dm = { name: "spaces/DMDMDMDM", spaceType: "DIRECT_MESSAGE" };
    expect(await google.emit(events, { type: "ADDED_TO_SPACE", eventTime: new Date().toISOString(), space: dm, user: izumi })).to.equal(200);
    const roomId = await waitFor(() => bridge.store.portalByRemote("googlechat", dm.name).then((p) => p?.roomId));
    expect(await google.emit(events, { type: "MESSAGE", eventTime: new Date().toISOString(), space: dm, user: izumi,
      message: { name: "spaces/DMDMDMDM/messages/D1", sender: izumi, text: "just us", thread: { name: "spaces/DMDMDMDM/threads/D" } } })).to.equal(200);
    await waitFor(async () => (await alice.get("/_matrix/client/v3/sync")).body.rooms.invite[roomId]);
    await alice.post(`/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
    expect((await alice.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name`)).body.name).to.equal("Izumi (DM) (Google Chat)");
    await waitFor(async () => (await timeline(roomId)).find((e) => e.content?.body === "just us"));
  });

  it("a bridge restart mid-stream loses and duplicates nothing", async () => {
    const roomId = (await portal())!;
    await bridge.stop();
    const during = message("RS1", "while the bridge was down", "spaces/AAAAAAAAAAA/threads/RS");
    expect(await google.emit(events, during).catch(() => 0)).to.equal(0);
    await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/rs1`, { msgtype: "m.text", body: "queued while down" });
    bridge = new GoogleChatBridge(bridgeConfig, bridgeDb);
    await bridge.start();
    expect(await google.emit(events, during)).to.equal(200); // Google's retry
    expect(await google.emit(events, during)).to.equal(200);
    await new Client(hs.url, "gc-as").post("/_matrix/client/v1/appservice/googlechat/ping", {});
    await waitFor(() => google.requests.find((r) => r.body?.text === "Alice: queued while down"));
    const tl = await waitFor(async () => { const t = await timeline(roomId); return t.some((e) => e.content?.body === "while the bridge was down") ? t : undefined; });
    expect(tl.filter((e) => e.content?.body === "while the bridge was down")).to.have.length(1);
    await new Promise((r) => setTimeout(r, 300));
    expect([...google.messages.values()].filter((m) => m.text === "Alice: queued while down")).to.have.length(1);
  });

  it("the endpoint-URL audience: a Google ID token for the endpoint whose email is Chat's", async () => {
    const v = new IdTokenVerifier(`${google.url}/oauth2/v3/certs`, "https://bridge.example.org/googlechat/events");
    expect((await v.verify(await google.idToken("https://bridge.example.org/googlechat/events"))).email).to.equal("chat@system.gserviceaccount.com");
    for (const bad of [await google.idToken("https://elsewhere/"), await google.idToken("https://bridge.example.org/googlechat/events", { email: "x@y.z" }), await google.idToken("https://bridge.example.org/googlechat/events", { verified: false })]) {
      expect(await v.verify(bad).then(() => "accepted", () => "refused")).to.equal("refused");
    }
  });

  it("removed from the space: a notice, and nothing more is bridged", async () => {
    const roomId = (await portal())!;
    expect(await google.emit(events, { type: "REMOVED_FROM_SPACE", eventTime: new Date().toISOString(), space, user: izumi })).to.equal(200);
    await waitFor(async () => (await timeline(roomId)).find((e) => String(e.content?.body).includes("removed from this space")));
    const before = google.requests.length;
    await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/g7`, { msgtype: "m.text", body: "anyone?" });
    await new Promise((r) => setTimeout(r, 500));
    expect(google.requests.filter((r) => r.body?.text === "Alice: anyone?")).to.have.length(0);
    expect(google.requests.length).to.equal(before);
  });
});

describe("Google Chat bridge: config and registration", () => {
  it("the sample config is valid; --generate-registration writes a file the homeserver accepts", async function () {
    this.timeout(30_000);
    const { readFileSync } = await import("node:fs");
    const { parse } = await import("yaml");
    const { loadRegistrations } = await import("../../src/config/appservices.js");
    const g = generateRegistration("googlechat");
    const sample = g.sample;
    const c = buildConfig(parse(readFileSync(sample, "utf8")));
    expect(c.appservice).to.include({ id: "googlechat", bot_localpart: "googlechatbot", user_prefix: "googlechat_" });
    expect(c.appservice.listen.port).to.equal(29319);
    expect(g.status, g.stderr).to.equal(0);
    const [reg] = loadRegistrations([g.file]);
    expect(reg!.sender_localpart).to.equal("googlechatbot");
  });
});
