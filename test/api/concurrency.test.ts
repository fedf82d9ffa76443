// Many clients sending into one room at once: every acknowledged event appears exactly once,
// in the same order, in every member's /sync and in /messages.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { allMessages, createRoom, enc, join } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

describe("concurrent sends", () => {
  const t = useServer();

  it("20 senders × 15 messages: all delivered once, in one order, to every member", async function () {
    this.timeout(120_000);
    const owner = await t.s.client().register();
    const roomId = await createRoom(owner, { preset: "public_chat" });
    const senders: UserClient[] = [];
    for (let i = 0; i < 20; i++) {
      const u = await t.s.client().register();
      await join(u, roomId);
      senders.push(u);
    }
    const readers = [owner, senders[0]!, senders[19]!];
    // Each reader long-polls throughout, collecting what arrives.
    const seen = new Map<UserClient, string[]>();
    let stop = false;
    const pollers = readers.map(async (r) => {
      const ids: string[] = [];
      seen.set(r, ids);
      let since = (await r.get(`/_matrix/client/v3/sync?filter=${enc(JSON.stringify({ room: { timeline: { limit: 0 } } }))}`)).body.next_batch;
      while (!stop) {
        const s = await r.get(`/_matrix/client/v3/sync?since=${since}&timeout=1000&filter=${enc(JSON.stringify({ room: { timeline: { limit: 500, types: ["m.room.message"] } } }))}`);
        expect(s.status).to.equal(200);
        const room = s.body.rooms.join[roomId];
        if (room) {
          expect(room.timeline.limited, "timeline cut: events would be lost to this reader").to.equal(false);
          ids.push(...room.timeline.events.map((e: any) => e.event_id));
        }
        since = s.body.next_batch;
      }
    });
    const acked: string[] = [];
    await Promise.all(senders.map(async (u, i) => {
      for (let n = 0; n < 15; n++) {
        const r = await u.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/c${i}-${n}`, { msgtype: "m.text", body: `${i}:${n}` });
        expect(r.status).to.equal(200);
        acked.push(r.body.event_id);
      }
    }));
    expect(new Set(acked).size).to.equal(300);
    // Let the readers catch up, then stop them.
    const deadline = Date.now() + 30_000;
    while ([...seen.values()].some((ids) => ids.length < 300) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(pollers);
    const history = (await allMessages(owner, roomId, 100)).filter((e) => e.type === "m.room.message").map((e) => e.event_id);
    expect(history).to.have.length(300);
    expect(new Set(history)).to.deep.equal(new Set(acked));
    for (const [, ids] of seen) {
      expect(ids).to.deep.equal(history); // exactly once, same order as history
    }
    // Per sender, messages keep the order they were sent in.
    const bodies = (await allMessages(owner, roomId, 100)).filter((e) => e.type === "m.room.message").map((e) => e.content.body as string);
    for (let i = 0; i < 20; i++) {
      const mine = bodies.filter((b) => b.startsWith(`${i}:`)).map((b) => Number(b.split(":")[1]));
      expect(mine).to.deep.equal([...mine].sort((x, y) => x - y));
    }
  });
});
