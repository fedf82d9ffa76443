// Scale-out: two homeservers on one Postgres and one real Redis. What happens on one reaches
// the clients of the other; a Redis outage costs latency, never data.
import { expect } from "chai";
import { pino } from "pino";
import { startHomeserver, type Homeserver } from "../../src/server.js";
import { Client, UserClient } from "../helpers/client.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { createRoom, enc, join, send } from "../helpers/rooms.js";
import { testConfig } from "../helpers/server.js";
import { WsClient } from "../helpers/ws.js";

/** The same user's session, talking to another process. */
const via = (c: UserClient, hs: Homeserver): UserClient => Object.assign(new UserClient(hs.url, c.token), { userId: c.userId, deviceId: c.deviceId, password: c.password });

/** Long-polls until `pick` finds something in a sync response; returns it and the token after it. */
async function syncUntil<T>(c: Client, since: string, pick: (body: any) => T | undefined, ms = 10_000): Promise<{ found: T; next: string; bodies: any[] }> {
  const end = Date.now() + ms;
  const bodies: any[] = [];
  while (Date.now() < end) {
    const r = await c.get(`/_matrix/client/v3/sync?since=${enc(since)}&timeout=2000`);
    expect(r.status, r.text).to.equal(200);
    bodies.push(r.body);
    since = r.body.next_batch;
    const found = pick(r.body);
    if (found !== undefined) return { found, next: since, bodies };
  }
  throw new Error("not delivered in time");
}

const timelineOf = (body: any, roomId: string): any[] => body.rooms?.join?.[roomId]?.timeline?.events ?? [];
const ephemeralOf = (body: any, roomId: string, type: string): any[] => (body.rooms?.join?.[roomId]?.ephemeral?.events ?? []).filter((e: any) => e.type === type);

describe("scale-out: two processes, one Postgres, one Redis", function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let A: Homeserver;
  let B: Homeserver;

  before(async function () {
    redis = await startTestRedis();
    const dbUrl = await createTestDatabase();
    const config = testConfig(dbUrl, { redis: { url: redis.url }, presence: { enabled: true, offline_after_ms: 60_000 } });
    const log = pino({ level: process.env.TEST_LOG ?? "silent" });
    A = await startHomeserver(config, { log, shutdownGraceMs: 2000 });
    B = await startHomeserver(config, { log, shutdownGraceMs: 2000 });
  });

  after(async () => {
    await A?.close();
    await B?.close();
    await redis?.stop();
  });

  /** `a` talks to A, `b` to B; both in a room made on A. */
  async function pair(): Promise<{ a: UserClient; b: UserClient; roomId: string }> {
    const a = await new Client(A.url).register();
    const b = via(await new Client(A.url).register(), B);
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    return { a, b, roomId };
  }

  it("a message sent on one process wakes a long-poll on the other", async () => {
    const { a, b, roomId } = await pair();
    const s0 = await b.get("/_matrix/client/v3/sync");
    const poll = b.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}&timeout=10000`);
    await new Promise((r) => setTimeout(r, 150));
    const eventId = await send(a, roomId, "hello from A");
    const r = await poll;
    expect(timelineOf(r.body, roomId).map((e) => e.event_id)).to.include(eventId);
  });

  it("a WebSocket client of one process gets what is sent on the other", async () => {
    const { a, b, roomId } = await pair();
    const ws = await WsClient.connect(B.url, b.token);
    try {
      await ws.call("sync", {});
      const eventId = await send(a, roomId, "to the socket on B");
      const frame = await ws.waitFor((f) => f.method === "sync" && timelineOf(f.params, roomId).some((e) => e.event_id === eventId));
      expect(frame.params.next_batch).to.be.a("string");
      // And a send over B's socket reaches a long-poll on A.
      const s0 = await a.get("/_matrix/client/v3/sync");
      const sent = await ws.call("send", { room_id: roomId, type: "m.room.message", content: { msgtype: "m.text", body: "from B's socket" }, txn_id: "ws-1" });
      const got = await syncUntil(a, s0.body.next_batch, (body) => timelineOf(body, roomId).find((e) => e.event_id === sent.result.event_id));
      expect(got.found.content.body).to.equal("from B's socket");
    } finally {
      ws.close();
    }
  });

  it("typing and receipts made on one process reach a client of the other", async () => {
    const { a, b, roomId } = await pair();
    const eventId = await send(a, roomId, "read me");
    const s0 = await b.get("/_matrix/client/v3/sync");
    expect((await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(a.userId)}`, { typing: true, timeout: 20000 })).status).to.equal(200);
    const typing = await syncUntil(b, s0.body.next_batch, (body) => ephemeralOf(body, roomId, "m.typing").find((e) => e.content.user_ids.includes(a.userId)));
    expect(typing.found.content.user_ids).to.deep.equal([a.userId]);
    expect((await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, {})).status).to.equal(200);
    const receipt = await syncUntil(b, typing.next, (body) => ephemeralOf(body, roomId, "m.receipt")[0]);
    expect(receipt.found.content[eventId]["m.read"]).to.have.property(a.userId);
    // A private receipt stays private across processes too.
    const second = await send(a, roomId, "again");
    await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read.private/${enc(second)}`, {});
    const quiet = await b.get(`/_matrix/client/v3/sync?since=${enc(receipt.next)}&timeout=1000`);
    expect(JSON.stringify(ephemeralOf(quiet.body, roomId, "m.receipt"))).not.to.contain("m.read.private");
  });

  it("presence set on one process is seen by a room-mate on the other", async () => {
    const { a, b } = await pair();
    expect((await a.put(`/_matrix/client/v3/presence/${enc(a.userId)}/status`, { presence: "unavailable", status_msg: "lunch" })).status).to.equal(200);
    const seen = await (async () => {
      for (let i = 0; i < 50; i++) {
        const r = await b.get(`/_matrix/client/v3/presence/${enc(a.userId)}/status`);
        if (r.body.status_msg === "lunch") return r.body;
        await new Promise((res) => setTimeout(res, 50));
      }
      return null;
    })();
    expect(seen).to.include({ presence: "unavailable", status_msg: "lunch" });
  });

  it("a client moving between processes with its token loses nothing and gets nothing twice", async () => {
    const { a, b, roomId } = await pair();
    const bOnA = via(b, A);
    let since = (await b.get("/_matrix/client/v3/sync")).body.next_batch;
    const sent: string[] = [];
    const received: string[] = [];
    for (let round = 0; round < 6; round++) {
      const sender = round % 2 ? a : via(a, B);
      for (let i = 0; i < 5; i++) sent.push(await send(sender, roomId, `m${round}.${i}`));
      // Alternate the process the reader syncs on, carrying its token over.
      const reader = round % 2 ? b : bOnA;
      const r = await reader.get(`/_matrix/client/v3/sync?since=${enc(since)}&timeout=0`);
      received.push(...timelineOf(r.body, roomId).filter((e) => e.type === "m.room.message").map((e) => e.event_id));
      since = r.body.next_batch;
    }
    const rest = await b.get(`/_matrix/client/v3/sync?since=${enc(since)}&timeout=500`);
    received.push(...timelineOf(rest.body, roomId).filter((e) => e.type === "m.room.message").map((e) => e.event_id));
    expect(received).to.deep.equal(sent);
  });

  it("a sliding sync connection moves between processes: each request may reach either, nothing is lost or sent twice", async () => {
    const { a, b, roomId } = await pair();
    const onA = via(b, A);
    const SS = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";
    const lists = { all: { range: [0, 9], timeline_limit: 5, required_state: { include: [] } } };
    const first = await onA.post(SS, { lists });
    expect(first.status, first.text).to.equal(200);
    expect(first.body.rooms[roomId].initial).to.equal(true);
    await send(a, roomId, "one");
    const second = await b.post(SS, { lists, pos: first.body.pos, timeout: 5000 }); // on B
    expect(second.status, second.text).to.equal(200);
    expect(second.body.rooms[roomId].timeline.map((e: any) => e.content.body)).to.deep.equal(["one"]);
    expect(second.body.rooms[roomId]).to.not.have.property("initial");
    await send(a, roomId, "two");
    const third = await onA.post(SS, { lists, pos: second.body.pos, timeout: 5000 }); // back on A
    expect(third.status, third.text).to.equal(200);
    expect(third.body.rooms[roomId].timeline.map((e: any) => e.content.body)).to.deep.equal(["two"]);
  });

  it("a token revoked on one process stops working on the other", async () => {
    const user = await new Client(A.url).register();
    const onB = via(user, B);
    expect((await onB.get("/_matrix/client/v3/account/whoami")).status).to.equal(200); // now cached on B
    expect((await user.post("/_matrix/client/v3/logout", {})).status).to.equal(200);
    let status = 0;
    for (let i = 0; i < 40 && status !== 401; i++) {
      status = (await onB.get("/_matrix/client/v3/account/whoami")).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 25));
    }
    expect(status).to.equal(401);
  });

  it("state changed on one process is enforced by the other at once (room state is followed)", async () => {
    const { a, b, roomId } = await pair();
    // Warm B's copy of the room, then ban b on A: B must refuse b's next send.
    await send(b, roomId, "before");
    expect((await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/ban`, { user_id: b.userId })).status).to.equal(200);
    const r = await b.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/after-ban`, { msgtype: "m.text", body: "after" });
    expect(r.status).to.equal(403);
  });

  it("with Redis gone, messages still cross (through Postgres); when it returns, typing crosses again", async () => {
    const { a, b, roomId } = await pair();
    const s0 = await b.get("/_matrix/client/v3/sync");
    await redis.stop();
    const during = await send(a, roomId, "sent while redis is down");
    const got = await syncUntil(b, s0.body.next_batch, (body) => timelineOf(body, roomId).find((e) => e.event_id === during));
    expect(got.found.content.body).to.equal("sent while redis is down");
    await redis.restart();
    // Wait for both processes to reconnect.
    for (let i = 0; i < 100 && !(A.services.bus.connected && B.services.bus.connected); i++) await new Promise((r) => setTimeout(r, 50));
    expect(A.services.bus.connected && B.services.bus.connected).to.equal(true);
    await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(a.userId)}`, { typing: true, timeout: 20000 });
    const typing = await syncUntil(b, got.next, (body) => ephemeralOf(body, roomId, "m.typing").find((e) => e.content.user_ids.includes(a.userId)));
    expect(typing.found.content.user_ids).to.deep.equal([a.userId]);
  });
});
