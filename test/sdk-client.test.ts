// @ganglion/client (packages/client) against the server, in Node with the `ws` package: live
// sync, local echo and the delivery state of a message (sending → sent → delivered → read),
// an outbox that survives a dropped socket without sending twice, errors as MatrixError,
// resuming from next_batch, and history and media over HTTP.
import { expect } from "chai";
import WebSocket from "ws";
import sharp from "sharp";
import { GanglionClient, MatrixError, login, register, type LocalMessage, type SocketConstructor } from "../packages/client/src/index.js";
import { useServer } from "./helpers/server.js";
import { createRoom, enc, join, send, twoInRoom } from "./helpers/rooms.js";
import { waitFor } from "./helpers/wait.js";

/** The `ws` WebSocket, keeping each instance so a test can cut the connection. */
const sockets: WebSocket[] = [];
class TestSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    sockets.push(this);
  }
}

describe("@ganglion/client", () => {
  const t = useServer({ delivery_receipts: { min_interval_ms: 0 } });
  const clients: GanglionClient[] = [];
  const make = (token: string, extra: Partial<ConstructorParameters<typeof GanglionClient>[0]> = {}) => {
    const c = new GanglionClient({ baseUrl: t.s.hs.url, accessToken: token, WebSocket: TestSocket as unknown as SocketConstructor, backoff: { minMs: 50, maxMs: 200 }, ...extra });
    clients.push(c);
    return c;
  };
  afterEach(() => { for (const c of clients.splice(0)) c.stop(); });

  it("live events; a message goes sending → sent → delivered → read as the other side gets and reads it", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const client = make(a.token!);
    const first = await client.start();
    expect(first.rooms?.join?.[roomId]).to.not.equal(undefined);
    expect(client.connection).to.equal("online");
    const seen: string[] = [];
    client.on("timeline", (r, ev) => { if (r === roomId && ev.type === "m.room.message") seen.push(String(ev.content.body)); });
    await send(b, roomId, "hello from b");
    await waitFor(() => seen.includes("hello from b"), 5000, "the live event");

    const states: string[] = [];
    client.on("message", (m) => states.push(m.state));
    const s0 = await b.get("/_matrix/client/v3/sync");
    const msg = client.sendText(roomId, "ticks please");
    expect(msg.state).to.equal("sending"); // the local echo, at once
    await waitFor(() => msg.state === "sent", 5000, "sent");
    expect(msg.eventId).to.match(/^\$/);
    // b's device gets it (its next sync passes it): delivered.
    const s1 = await b.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}&timeout=3000`);
    await b.get(`/_matrix/client/v3/sync?since=${enc(s1.body.next_batch)}&timeout=0`);
    await waitFor(() => msg.state === "delivered", 5000, "delivered");
    await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(msg.eventId!)}`, {});
    await waitFor(() => msg.state === "read", 5000, "read");
    expect(states.filter((s) => s !== "sending")).to.deep.equal(["sent", "delivered", "read"]);
  });

  it("while the socket is down messages queue; after the reconnect each is sent once, in order; refusals fail with a MatrixError", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const client = make(a.token!, { backoff: { minMs: 400, maxMs: 400 } }); // offline for 200-600 ms
    await client.start();
    const states: ConnectionState[] = [];
    client.on("connection", (s) => states.push(s));
    sockets[sockets.length - 1]!.terminate(); // the network goes
    await waitFor(() => states.includes("offline"), 5000, "offline");
    const queued: LocalMessage[] = [client.sendText(roomId, "queued 1"), client.sendText(roomId, "queued 2")];
    expect(queued.map((m) => m.state)).to.deep.equal(["sending", "sending"]);
    expect(client.pending.map((m) => m.content.body)).to.deep.equal(["queued 1", "queued 2"]);
    await waitFor(() => queued.every((m) => m.state === "sent"), 10_000, "sent after the reconnect");
    expect(states).to.include("online");
    const r = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=10`);
    const bodies = r.body.chunk.map((e: any) => e.content.body).filter((x: unknown) => String(x).startsWith("queued")).reverse();
    expect(bodies).to.deep.equal(["queued 1", "queued 2"]);

    const elsewhere = await createRoom(b); // a is not in it
    const refused = client.sendText(elsewhere, "let me in");
    await waitFor(() => refused.state === "failed", 5000, "failed");
    expect(refused.error?.errcode).to.equal("M_FORBIDDEN");
    const err = await client.typing(elsewhere, true).then(() => null, (e) => e);
    expect(err).to.be.instanceOf(MatrixError);
    expect((err as MatrixError).errcode).to.equal("M_FORBIDDEN");
  });

  it("a new session resumes from the kept next_batch and resends the kept outbox; history, reactions, edits, redactions, media", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    let kept: { since: string | null; outbox: LocalMessage[] } = { since: null, outbox: [] };
    const one = make(a.token!, { onPersist: (d) => { kept = d; } });
    await one.start();
    one.stop();
    await send(b, roomId, "while you were away");
    const two = make(a.token!, { since: kept.since!, outbox: [{ txnId: "kept-txn-1", roomId, type: "m.room.message", content: { msgtype: "m.text", body: "from before" }, state: "sending" }] });
    const resumed = await two.start();
    const bodies = (resumed.rooms?.join?.[roomId]?.timeline?.events ?? []).map((e) => e.content.body);
    expect(bodies).to.deep.equal(["while you were away"]);
    await waitFor(() => two.pending.length === 0, 5000, "the kept outbox sent");
    const target = await send(b, roomId, "react to me");
    const reaction = two.react(roomId, target, "👍");
    const edit = two.edit(roomId, target, "edited?");
    await waitFor(() => reaction.state === "sent", 5000, "reaction sent");
    await waitFor(() => edit.state === "failed", 5000, "someone else's message cannot be edited");
    const page = await two.http.messages(roomId, { limit: 5 });
    expect(page.chunk.some((e) => e.type === "m.reaction")).to.equal(true);
    expect((await two.redact(roomId, reaction.eventId!, "oops")).event_id).to.match(/^\$/);
    const mxc = await two.http.upload(new TextEncoder().encode("file body"), "text/plain", "a.txt");
    const got = await two.http.download(mxc);
    expect(new TextDecoder().decode(got.data)).to.equal("file body");
    const third = await t.s.client().register();
    await join(third, roomId);
    const found = await two.http.search("away");
    expect(JSON.stringify(found)).to.contain("while you were away");
  });

  it("register and login give sessions; rooms are made, joined and left; thumbnails; logout ends the token; reconnect() skips the backoff", async () => {
    const base = t.s.hs.url;
    const carol = await register(base, "sdk-carol", "a long enough password");
    expect(carol.userId).to.equal("@sdk-carol:localhost");
    expect(carol.baseUrl).to.equal(base);
    try { await register(base, "sdk-carol", "again"); expect.fail("registered twice"); } catch (e) { expect((e as MatrixError).errcode).to.equal("M_USER_IN_USE"); }
    try { await login(base, "sdk-carol", "wrong"); expect.fail("wrong password"); } catch (e) { expect((e as MatrixError).errcode).to.equal("M_FORBIDDEN"); }
    const again = await login(base, "@sdk-carol:localhost", "a long enough password", { deviceName: "second" });
    expect(again.userId).to.equal(carol.userId);
    expect(again.deviceId).to.not.equal(carol.deviceId);
    const dave = await register(base, "sdk-dave", "another long password");
    const c = make(carol.accessToken, { userId: carol.userId });
    const d = make(dave.accessToken);
    await c.start();
    await d.start();
    const { room_id } = await c.http.createRoom({ name: "SDK room", invite: [dave.userId] });
    await d.http.join(room_id);
    const png = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer();
    const mxc = await c.http.upload(png, "image/png", "red.png");
    const thumb = await d.http.thumbnail(mxc, 100, 100);
    expect(thumb.contentType).to.match(/^image\//);
    const meta = await sharp(Buffer.from(thumb.data)).metadata();
    expect(Math.max(meta.width ?? 0, meta.height ?? 0)).to.be.at.most(400).and.at.least(1);
    await d.http.leave(room_id);
    c.reconnect(); // online: nothing happens
    expect(c.connection).to.equal("online");
    // Offline with a long backoff: reconnect() goes at once.
    const slow = make(again.accessToken, { WebSocket: TestSocket as unknown as SocketConstructor, backoff: { minMs: 60_000, maxMs: 60_000 } });
    await slow.start();
    sockets[sockets.length - 1]!.terminate();
    await waitFor(() => slow.connection === "offline", 5000, "offline");
    slow.reconnect();
    await waitFor(() => slow.connection === "online", 5000, "back at once");
    await slow.http.logout();
    await waitFor(() => slow.connection === "stopped", 5000, "a logged-out token stops the client");
    try { await slow.http.json("GET", "/_matrix/client/v3/account/whoami"); expect.fail("token still works"); } catch (e) { expect((e as MatrixError).errcode).to.equal("M_UNKNOWN_TOKEN"); }
  });
});

type ConnectionState = GanglionClient["connection"];
