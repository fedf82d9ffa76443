// Per-action limits per user (sends, typing, search, history) over HTTP and the socket alike,
// shared by processes through a real Redis and counted in memory without it; sockets per user.
import { expect } from "chai";
import { pino } from "pino";
import { ActionLimiter } from "../../src/http/action-limits.js";
import { MatrixError } from "../../src/http/errors.js";
import { buildConfig } from "../../src/config/load.js";
import { LocalBus, RedisBus } from "../../src/services/bus.js";
import { startTestRedis } from "../helpers/redis.js";
import { useServer } from "../helpers/server.js";
import { createRoom, enc } from "../helpers/rooms.js";
import { WsClient } from "../helpers/ws.js";

const limits = { enabled: true, per_user: { send: 3, typing: 2, search: 1, history: 2 }, requests: { per_second: 1000, burst: 1000 } };

describe("per-action limits", () => {
  const t = useServer({ rate_limiting: limits, websocket: { max_sockets_per_user: 2 } });

  it("sends over HTTP and the socket share one window: the 4th in a second is 429 M_LIMIT_EXCEEDED with retry_after_ms", async () => {
    const u = await t.s.client().register();
    const roomId = await createRoom(u);
    await new Promise((r) => setTimeout(r, 1100)); // createRoom's own sends are not in the window
    const put = (i: number) => u.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/l${i}`, { msgtype: "m.text", body: `m${i}` });
    expect((await put(1)).status).to.equal(200);
    expect((await put(2)).status).to.equal(200);
    const ws = await WsClient.connect(t.s.hs.url, u.token);
    try {
      const third = await ws.call("send", { room_id: roomId, type: "m.room.message", content: { msgtype: "m.text", body: "m3" }, txn_id: "l3" });
      expect(third.result.event_id).to.match(/^\$/);
      const refusedWs = await ws.call("send", { room_id: roomId, type: "m.room.message", content: { msgtype: "m.text", body: "m4" }, txn_id: "l4" });
      expect(refusedWs.error.errcode).to.equal("M_LIMIT_EXCEEDED");
    } finally {
      ws.close();
    }
    const refused = await put(5);
    expect(refused.status).to.equal(429);
    expect(refused.body.errcode).to.equal("M_LIMIT_EXCEEDED");
    expect(refused.body.retry_after_ms).to.be.within(1, 1000);
    await new Promise((r) => setTimeout(r, refused.body.retry_after_ms + 50));
    expect((await put(6)).status).to.equal(200);
    // Other actions have windows of their own.
    expect((await u.post("/_matrix/client/v3/search", { search_categories: { room_events: { search_term: "m1" } } })).status).to.equal(200);
    expect((await u.post("/_matrix/client/v3/search", { search_categories: { room_events: { search_term: "m1" } } })).status).to.equal(429);
    const typing = [];
    for (let i = 0; i < 3; i++) typing.push((await u.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(u.userId)}`, { typing: true, timeout: 1000 })).status);
    expect(typing).to.deep.equal([200, 200, 429]);
    const history = [];
    for (let i = 0; i < 3; i++) history.push((await u.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=1`)).status);
    expect(history).to.deep.equal([200, 200, 429]);
  });

  it("a user's third socket closes the oldest with 4009", async () => {
    const u = await t.s.client().register();
    const first = await WsClient.connect(t.s.hs.url, u.token);
    const second = await WsClient.connect(t.s.hs.url, u.token);
    const third = await WsClient.connect(t.s.hs.url, u.token);
    try {
      expect((await first.closed).code).to.equal(4009);
      expect((await second.call("ping")).result).to.deep.equal({});
      expect((await third.call("ping")).result).to.deep.equal({});
    } finally {
      for (const c of [first, second, third]) c.close();
    }
  });
});

describe("per-action limits across processes (a real Redis) and without it", function () {
  this.timeout(30_000);

  it("two processes count one user's sends together; with Redis gone each counts in memory", async () => {
    const redis = await startTestRedis();
    const log = pino({ level: "silent" });
    const config = buildConfig({ rate_limiting: { per_user: { send: 4 } } }).rate_limiting;
    const [busA, busB] = [new RedisBus(redis.url, "limits.test", log), new RedisBus(redis.url, "limits.test", log)];
    try {
      await busA.start();
      await busB.start();
      const [a, b] = [new ActionLimiter(busA, config), new ActionLimiter(busB, config)];
      const results: string[] = [];
      for (const l of [a, b, a, b, a, b]) results.push(await l.take("send", "@u:limits.test").then(() => "ok", (e) => (e as MatrixError).errcode));
      expect(results).to.deep.equal(["ok", "ok", "ok", "ok", "M_LIMIT_EXCEEDED", "M_LIMIT_EXCEEDED"]);
      await redis.stop();
      // No shared store: this process's memory (its own window, empty for this user).
      const alone = new ActionLimiter(new LocalBus(), config);
      expect(await alone.take("send", "@v:limits.test").then(() => "ok")).to.equal("ok");
      expect(await a.take("send", "@w:limits.test").then(() => "ok")).to.equal("ok");
    } finally {
      await busA.close();
      await busB.close();
      await redis.stop().catch(() => undefined);
    }
  });
});
