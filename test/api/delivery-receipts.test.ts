// Delivered receipts (org.ganglion.delivered): a watermark per user and room that moves when a
// device has received the room's events, reaching the room as an m.receipt.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, join, send, twoInRoom } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";
import { waitFor } from "../helpers/wait.js";
import { WsClient } from "../helpers/ws.js";

const DELIVERED = "org.ganglion.delivered";

/** The delivered receipts `who` sees in the room through /sync (an initial sync: current ones). */
async function deliveredSeen(who: UserClient, roomId: string): Promise<Record<string, Record<string, unknown>>> {
  const r = await who.get("/_matrix/client/v3/sync");
  const out: Record<string, Record<string, unknown>> = {};
  for (const e of r.body.rooms.join[roomId]?.ephemeral.events ?? []) {
    if (e.type !== "m.receipt") continue;
    for (const [eventId, byType] of Object.entries(e.content as Record<string, Record<string, Record<string, unknown>>>)) {
      if (byType[DELIVERED]) out[eventId] = byType[DELIVERED]!;
    }
  }
  return out;
}

describe("delivered receipts", () => {
  const t = useServer({ delivery_receipts: { min_interval_ms: 0, max_room_members: 3 } });

  it("a device's next /sync past a message marks it delivered; the sender sees it; own messages are not marked", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const s0 = await b.get("/_matrix/client/v3/sync");
    const ev = await send(a, roomId, "did you get this?");
    const s1 = await b.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}&timeout=2000`);
    expect(s1.body.rooms.join[roomId].timeline.events.some((e: any) => e.event_id === ev)).to.equal(true);
    // Not yet: b's device has received it only when its next sync comes back past it.
    expect(Object.keys(await deliveredSeen(a, roomId))).to.not.include(ev);
    await b.get(`/_matrix/client/v3/sync?since=${enc(s1.body.next_batch)}&timeout=0`);
    const seen = await waitFor(async () => { const d = await deliveredSeen(a, roomId); return d[ev] ? d : null; }, 5000, "the delivered receipt");
    expect(seen[ev]).to.have.property(b.userId);
    // b's own message gets no delivered mark from b.
    const mine = await send(b, roomId, "mine");
    await b.get(`/_matrix/client/v3/sync?since=${enc(s1.body.next_batch)}&timeout=0`);
    await new Promise((r) => setTimeout(r, 200));
    expect((await deliveredSeen(a, roomId))[mine]).to.equal(undefined);
  });

  it("a user who turned it off sends none; a room over max_room_members has none", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    await b.put(`/_matrix/client/v3/user/${enc(b.userId)}/account_data/org.ganglion.delivery_receipts`, { enabled: false });
    const s0 = await b.get("/_matrix/client/v3/sync");
    const ev = await send(a, roomId, "quiet please");
    const s1 = await b.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}&timeout=2000`);
    await b.get(`/_matrix/client/v3/sync?since=${enc(s1.body.next_batch)}&timeout=0`);
    await new Promise((r) => setTimeout(r, 300));
    expect((await deliveredSeen(a, roomId))[ev]).to.equal(undefined);

    const [c, d, e] = [await t.s.client().register(), await t.s.client().register(), await t.s.client().register()];
    const big = await createRoom(a, { preset: "public_chat" });
    for (const u of [c, d, e]) await join(u, big);
    const c0 = await c.get("/_matrix/client/v3/sync");
    const bigEv = await send(a, big, "to a crowd");
    const c1 = await c.get(`/_matrix/client/v3/sync?since=${enc(c0.body.next_batch)}&timeout=2000`);
    await c.get(`/_matrix/client/v3/sync?since=${enc(c1.body.next_batch)}&timeout=0`);
    await new Promise((r) => setTimeout(r, 300));
    expect((await deliveredSeen(a, big))[bigEv]).to.equal(undefined);
  });

  it("set explicitly (as a bridge does for its users), never backwards; not threaded; only in rooms the user is in", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const first = await send(a, roomId, "one");
    const second = await send(a, roomId, "two");
    expect((await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/${DELIVERED}/${enc(second)}`, {})).status).to.equal(200);
    expect((await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/${DELIVERED}/${enc(first)}`, {})).status).to.equal(200);
    const seen = await deliveredSeen(a, roomId);
    expect(Object.keys(seen)).to.deep.equal([second]);
    const threaded = await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/${DELIVERED}/${enc(second)}`, { thread_id: "main" });
    expect([threaded.status, threaded.body.errcode]).to.deep.equal([400, "M_INVALID_PARAM"]);
    const outsider = await t.s.client().register();
    expect((await outsider.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/${DELIVERED}/${enc(second)}`, {})).status).to.equal(403);
  });

  it("over the WebSocket an ack frame marks delivered; so does a sliding sync request with a later pos", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const ws = await WsClient.connect(t.s.hs.url, b.token);
    try {
      await ws.call("sync", {});
      const ev = await send(a, roomId, "over the socket");
      const frame = await ws.waitFor((f: any) => f.method === "sync" && f.params.rooms?.join?.[roomId]?.timeline?.events?.some((e: any) => e.event_id === ev));
      // Pushed is not received: only the client's ack says so.
      await new Promise((r) => setTimeout(r, 300));
      expect((await deliveredSeen(a, roomId))[ev]).to.equal(undefined);
      const acked = await ws.call("ack", { next_batch: frame.params.next_batch });
      expect(acked.result).to.deep.equal({});
      await waitFor(async () => (await deliveredSeen(a, roomId))[ev], 5000, "the delivered receipt from the ack");
      expect((await ws.call("ack", {})).error.errcode).to.equal("M_MISSING_PARAM");
    } finally {
      ws.close();
    }
    const SS = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";
    const lists = { all: { range: [0, 9], timeline_limit: 1, required_state: { include: [] } } };
    const r0 = await b.post(SS, { conn_id: "d", lists });
    const ev2 = await send(a, roomId, "through sliding sync");
    const r1 = await b.post(SS, { conn_id: "d", lists, pos: r0.body.pos, timeout: 2000 });
    expect(r1.body.rooms[roomId].timeline.map((e: any) => e.event_id)).to.deep.equal([ev2]);
    await b.post(SS, { conn_id: "d", lists, pos: r1.body.pos, timeout: 0 });
    await waitFor(async () => (await deliveredSeen(a, roomId))[ev2], 5000, "the delivered receipt from sliding sync");
  });
});

describe("delivered receipts: many readers", () => {
  const t = useServer({ delivery_receipts: { min_interval_ms: 0, max_room_members: 20 } });

  it("members acknowledging together have their marks written together, and the sender sees every one", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    const readers: UserClient[] = [];
    for (let i = 0; i < 10; i++) {
      const u = await t.s.client().register();
      await join(u, roomId);
      readers.push(u);
    }
    const statements = async () => Number(/^ganglion_db_queries_total (\d+)/m.exec((await a.get("/metrics")).text)![1]);
    const tokens = await Promise.all(readers.map(async (u) => (await u.get("/_matrix/client/v3/sync")).body.next_batch as string));
    let aSince = (await a.get("/_matrix/client/v3/sync")).body.next_batch as string;
    // Each reader's next sync past a message acknowledges it; the sender follows with /sync.
    const round = async (body: string) => {
      const ev = await send(a, roomId, body);
      const got = await Promise.all(readers.map((u, i) => u.get(`/_matrix/client/v3/sync?since=${enc(tokens[i]!)}&timeout=5000`)));
      got.forEach((r, i) => { tokens[i] = r.body.next_batch; });
      const q0 = await statements();
      await Promise.all(readers.map((u, i) => u.get(`/_matrix/client/v3/sync?since=${enc(tokens[i]!)}&timeout=0`)));
      const marked = new Set<string>();
      while (marked.size < readers.length) {
        const r = await a.get(`/_matrix/client/v3/sync?since=${enc(aSince)}&timeout=5000`);
        aSince = r.body.next_batch;
        for (const e of r.body.rooms.join[roomId]?.ephemeral.events ?? []) {
          if (e.type === "m.receipt") for (const u of Object.keys(e.content[ev]?.[DELIVERED] ?? {})) marked.add(u);
        }
      }
      return (await statements()) - q0;
    };
    await round("warm-up"); // each reader's setting is read once
    const cost = await round("to everyone");
    // One transaction of three statements per batch (BEGIN and COMMIT around them), not five per reader.
    expect(cost).to.be.greaterThan(0);
    expect(cost, `${cost} statements for 10 readers' marks`).to.be.lessThan(20);
  });
});

