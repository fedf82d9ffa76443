// The WebSocket extension (docs/websocket.md): auth both ways, live frames, commands with
// HTTP's validation and errcodes, resume without loss or duplicates, bad frames, slow readers.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, join, send, twoInRoom } from "../helpers/rooms.js";
import { WsClient } from "../helpers/ws.js";

const timeline = (sync: any, roomId: string): any[] => sync?.rooms?.join?.[roomId]?.timeline?.events ?? [];
const ephemeral = (sync: any, roomId: string, type: string): any[] => (sync?.rooms?.join?.[roomId]?.ephemeral?.events ?? []).filter((e: any) => e.type === type);
const pushedEvent = (eventId: string, roomId: string) => (f: any) => f.method === "sync" && timeline(f.params, roomId).some((e) => e.event_id === eventId);

describe("WebSocket extension", () => {
  const t = useServer({ websocket: { auth_timeout_ms: 400 } });
  const open: WsClient[] = [];
  const connect = async (token?: string) => {
    const c = await WsClient.connect(t.s.hs.url, token);
    open.push(c);
    return c;
  };
  afterEach(() => { for (const c of open.splice(0)) c.close(); });

  it("is advertised in /versions unstable_features", async () => {
    const r = await t.s.client().get("/_matrix/client/versions");
    expect(r.body.unstable_features["org.ganglion.ws"]).to.equal(true);
  });

  it("with the Authorization header: sync answers with a /sync response, then pushes new messages", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const ws = await connect(b.token);
    const first = await ws.call("sync", {});
    expect(first.result.next_batch).to.be.a("string");
    expect(first.result.rooms.join).to.have.property(roomId);
    const eventId = await send(a, roomId, "live");
    const frame = await ws.waitFor(pushedEvent(eventId, roomId));
    expect(frame.params.next_batch).to.be.a("string");
    expect(timeline(frame.params, roomId).find((e) => e.event_id === eventId).content.body).to.equal("live");
  });

  it("refuses the upgrade with the API's 401 for a bad token", async () => {
    const err = await WsClient.connect(t.s.hs.url, "not-a-token").then(() => null, (e) => e);
    expect(err?.status).to.equal(401);
    expect(err.body.errcode).to.equal("M_UNKNOWN_TOKEN");
  });

  it("with an auth frame (browsers): commands wait for it; a bad token closes with 4001; silence closes with 4001", async () => {
    const u = await t.s.client().register();
    const ws = await connect();
    const early = await ws.call("ping");
    expect(early.result).to.deep.equal({});
    const before = await ws.call("sync", {});
    expect(before.error.errcode).to.equal("M_MISSING_TOKEN");
    const ok = await ws.call("auth", { access_token: u.token });
    expect(ok.result).to.deep.equal({ user_id: u.userId, device_id: u.deviceId });
    expect((await ws.call("sync", {})).result.next_batch).to.be.a("string");

    const bad = await connect();
    const refused = await bad.call("auth", { access_token: "nope" });
    expect(refused.error.errcode).to.equal("M_UNKNOWN_TOKEN");
    expect((await bad.closed).code).to.equal(4001);

    const silent = await connect();
    expect((await silent.closed).code).to.equal(4001);
  });

  it("pushes typing and receipts as they happen", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const eventId = await send(a, roomId, "hi");
    const ws = await connect(b.token);
    await ws.call("sync", {});
    await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(a.userId)}`, { typing: true, timeout: 10000 });
    const typing = await ws.waitFor((f) => f.method === "sync" && ephemeral(f.params, roomId, "m.typing").some((e) => e.content.user_ids.includes(a.userId)));
    expect(typing.params.next_batch).to.be.a("string");
    await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, {});
    const receipt = await ws.waitFor((f) => f.method === "sync" && ephemeral(f.params, roomId, "m.receipt").length > 0);
    expect(ephemeral(receipt.params, roomId, "m.receipt")[0].content[eventId]["m.read"]).to.have.property(a.userId);
  });

  it("commands: send is idempotent on txn_id; state, typing, receipt, read_markers and presence work", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const ws = await connect(a.token);
    await ws.call("sync", {});
    const s1 = await ws.call("send", { room_id: roomId, type: "m.room.message", content: { msgtype: "m.text", body: "once" }, txn_id: "t1" });
    const s2 = await ws.call("send", { room_id: roomId, type: "m.room.message", content: { msgtype: "m.text", body: "once" }, txn_id: "t1" });
    expect(s1.result.event_id).to.match(/^\$/);
    expect(s2.result.event_id).to.equal(s1.result.event_id);
    // The same transaction over HTTP from the same device is the same send.
    const http = await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t1`, { msgtype: "m.text", body: "once" });
    expect(http.body.event_id).to.equal(s1.result.event_id);
    const st = await ws.call("state", { room_id: roomId, type: "m.room.topic", content: { topic: "via ws" } });
    expect(st.result.event_id).to.match(/^\$/);
    expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic`)).body.topic).to.equal("via ws");
    expect((await ws.call("typing", { room_id: roomId, typing: true, timeout: 5000 })).result).to.deep.equal({});
    expect((await ws.call("receipt", { room_id: roomId, receipt_type: "m.read", event_id: s1.result.event_id })).result).to.deep.equal({});
    expect((await ws.call("read_markers", { room_id: roomId, "m.fully_read": s1.result.event_id })).result).to.deep.equal({});
    expect((await ws.call("presence", { presence: "unavailable", status_msg: "ws" })).result).to.deep.equal({});
    expect((await b.get(`/_matrix/client/v3/presence/${enc(a.userId)}/status`)).body.status_msg).to.equal("ws");
    // b's sync shows the message once.
    const sync = await b.get("/_matrix/client/v3/sync");
    expect(timeline(sync.body, roomId).filter((e) => e.event_id === s1.result.event_id)).to.have.length(1);
  });

  it("commands get HTTP's errcodes: not in the room, bad content, unknown room", async () => {
    const a = await t.s.client().register();
    const outsider = await t.s.client().register();
    const roomId = await createRoom(a);
    const ws = await connect(outsider.token);
    const r1 = await ws.call("send", { room_id: roomId, type: "m.room.message", content: { body: "x" }, txn_id: "x1" });
    expect(r1.error.errcode).to.equal("M_FORBIDDEN");
    const r2 = await ws.call("send", { room_id: "not-a-room-id", type: "m.room.message", content: {}, txn_id: "x2" });
    expect(r2.error.errcode).to.equal("M_INVALID_PARAM");
    const r3 = await ws.call("typing", { room_id: roomId, typing: "yes" });
    expect(r3.error.errcode).to.equal("M_BAD_JSON");
  });

  it("bad frames get an error frame and the connection stays usable", async () => {
    const u = await t.s.client().register();
    const ws = await connect(u.token);
    ws.sendRaw("this is not json");
    const e1 = await ws.waitFor((f) => f.error?.errcode === "M_NOT_JSON");
    expect(e1.id).to.equal(null);
    ws.sendRaw(JSON.stringify({ method: "ping" }));
    expect((await ws.waitFor((f) => f.id === null && f.error?.errcode === "M_BAD_JSON")).error.error).to.contain("id");
    expect((await ws.call("frobnicate", {})).error.errcode).to.equal("M_UNRECOGNIZED");
    expect((await ws.call("send", { type: "m.room.message", content: {}, txn_id: "a" })).error.errcode).to.equal("M_MISSING_PARAM");
    expect((await ws.call("sync", { since: 42 })).error.errcode).to.equal("M_BAD_JSON");
    expect((await ws.call("sync", { since: "garbage" })).error.errcode).to.equal("M_INVALID_PARAM");
    expect((await ws.call("ping")).result).to.deep.equal({});
  });

  it("a dropped connection resumes with since: nothing lost, nothing twice", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const sent: string[] = [];
    const seen: string[] = [];
    const collect = (f: any) => seen.push(...timeline(f.params ?? f.result, roomId).filter((e) => e.type === "m.room.message").map((e) => e.event_id));
    let ws = await connect(b.token);
    const first = await ws.call("sync", { filter: { room: { timeline: { limit: 100 } } } });
    let since = first.result.next_batch;
    for (let i = 0; i < 3; i++) sent.push(await send(a, roomId, `before ${i}`));
    await ws.waitFor(pushedEvent(sent[2]!, roomId));
    for (const f of ws.syncs) { collect(f); since = f.params.next_batch; }
    ws.close();
    await ws.closed;
    for (let i = 0; i < 4; i++) sent.push(await send(a, roomId, `while away ${i}`));
    ws = await connect(b.token);
    const resumed = await ws.call("sync", { since, filter: { room: { timeline: { limit: 100 } } } });
    collect(resumed);
    sent.push(await send(a, roomId, "after"));
    await ws.waitFor(pushedEvent(sent[sent.length - 1]!, roomId));
    for (const f of ws.syncs) collect(f);
    expect(seen).to.deep.equal(sent);
  });

  it("a burst to several sockets with different filters: every message once, in order, as /sync gives it from the same token", async () => {
    const anon = t.s.client();
    const a = await anon.register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    const setups: { filter: Record<string, unknown>; stateAfter?: boolean; hidden?: boolean }[] = [
      { filter: {} },
      { filter: { room: { timeline: { limit: 50 }, state: { lazy_load_members: true } } } },
      { filter: { room: { timeline: { limit: 50, not_types: ["m.room.message"] } } }, hidden: true },
      { filter: { room: { timeline: { limit: 50, types: ["m.room.message"] } } }, stateAfter: true },
    ];
    const readers = [];
    for (const x of setups) {
      const u = await anon.register();
      await join(u, roomId);
      const ws = await connect(u.token);
      const first = await ws.call("sync", { filter: x.filter, ...(x.stateAfter ? { use_state_after: true } : {}) });
      readers.push({ ...x, u, ws, tokens: [first.result.next_batch as string] });
    }
    const own = await connect(a.token);
    await own.call("sync", { filter: { room: { timeline: { limit: 50 } } } });
    // Sent at once, so wake-ups meet frames still in flight and coalesce.
    const sent = await Promise.all(Array.from({ length: 12 }, (_, i) => send(a, roomId, `burst ${i}`)));
    const messages = (ws: WsClient) => ws.syncs.flatMap((f) => timeline(f.params, roomId)).filter((e) => e.type === "m.room.message");
    await own.waitFor(() => sent.every((id) => messages(own).some((e) => e.event_id === id)));
    for (const e of messages(own)) expect(e.unsigned.transaction_id, "the sender's own device sees its transaction IDs").to.be.a("string");
    for (const r of readers) if (!r.hidden) await r.ws.waitFor(() => sent.every((id) => messages(r.ws).some((e) => e.event_id === id)));
    for (const r of readers) {
      const seen = messages(r.ws).map((e) => e.event_id);
      expect(seen.length, "each once").to.equal(r.hidden ? 0 : sent.length);
      expect(new Set(seen).size).to.equal(seen.length);
      for (const e of messages(r.ws)) expect(e.unsigned?.transaction_id).to.equal(undefined);
      // Positions only move forward, frame after frame.
      const pos = r.ws.syncs.map((f) => Number(/^s(\d+)/.exec(f.params.next_batch)![1]));
      expect(pos).to.deep.equal([...pos].sort((x, y) => x - y));
      if (r.hidden) continue;
      for (const f of r.ws.syncs) r.tokens.push(f.params.next_batch);
      // The last frame is what /sync answers from the token before it, key for key (ages aside).
      const lastFrame = r.ws.syncs[r.ws.syncs.length - 1]!.params;
      const q = new URLSearchParams({ since: r.tokens[r.tokens.length - 2]!, timeout: "0", filter: JSON.stringify(r.filter) });
      if (r.stateAfter) q.set("use_state_after", "true");
      const polled = (await r.u.get(`/_matrix/client/v3/sync?${q}`)).body;
      const noAge = (v: unknown) => JSON.parse(JSON.stringify(v), (k, x) => (k === "age" ? undefined : x));
      expect(noAge(lastFrame)).to.deep.equal(noAge(polled));
    }
  });

  it("a revoked token closes the connection with 4001", async () => {
    const u = await t.s.client().register();
    const ws = await connect(u.token);
    await ws.call("sync", {});
    await u.post("/_matrix/client/v3/logout", {});
    // The next command is refused, or the socket (which noticed first) is already closing.
    ws.sendRaw(JSON.stringify({ id: "after", method: "typing", params: { room_id: "!x:localhost", typing: true } }));
    const closed = await ws.closed;
    expect(closed.code).to.equal(4001);
    const answer = ws.frames.find((f) => f.id === "after");
    if (answer) expect(answer.error.errcode).to.equal("M_UNKNOWN_TOKEN");
  });

  it("invited into a room while connected: the invite is pushed", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const ws = await connect(b.token);
    await ws.call("sync", {});
    const roomId = await createRoom(a, { invite: [b.userId] });
    const f = await ws.waitFor((fr) => fr.method === "sync" && fr.params.rooms?.invite?.[roomId]);
    expect(f.params.rooms.invite[roomId].invite_state.events.length).to.be.greaterThan(0);
    await join(b, roomId);
  });
});

describe("WebSocket extension: a slow reader", () => {
  const t = useServer({ websocket: { slow_timeout_ms: 300, max_buffered_bytes: 65536 } });

  it("is closed instead of buffered without bound, and resumes with since without loss", async function () {
    this.timeout(60_000);
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const filter = { room: { timeline: { limit: 500 } } };
    const ws = await WsClient.connect(t.s.hs.url, b.token);
    const first = await ws.call("sync", { filter });
    const since = first.result.next_batch;
    // Stop reading: the kernel buffers fill, then the server's frames stop being taken.
    (ws.ws as any)._socket.pause();
    const sent: string[] = [];
    const big = "x".repeat(60_000);
    for (let i = 0; i < 250 && t.s.hs.ws.connections > 0; i++) sent.push(await send(a, roomId, { msgtype: "m.text", body: `${i} ${big}` }));
    for (let i = 0; i < 100 && t.s.hs.ws.connections > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(t.s.hs.ws.connections).to.equal(0);
    (ws.ws as any)._socket.resume();
    expect([4008, 1006]).to.include((await ws.closed).code);
    // The client reconnects with the token it had and gets everything.
    const again = await WsClient.connect(t.s.hs.url, b.token);
    const resumed = await again.call("sync", { since, filter });
    const ids = timeline(resumed.result, roomId).map((e) => e.event_id);
    again.close();
    expect(ids.filter((id) => sent.includes(id))).to.deep.equal(sent);
  });
});
