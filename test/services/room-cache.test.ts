// The in-memory room state never misses a committed event, even when its cache entry is
// dropped and reloaded while a write is in flight (sync serves new events from it).
import { expect } from "chai";
import type { RoomId, UserId } from "../../src/matrix/ids.js";
import type { Db } from "../../src/store/db.js";
import type { Written } from "../../src/services/event-writer.js";
import { MembershipCache } from "../../src/services/memberships.js";
import type { RoomState } from "../../src/services/room-state.js";
import { useServer } from "../helpers/server.js";
import { createRoom, send } from "../helpers/rooms.js";

describe("room state cache", () => {
  const t = useServer();

  it("a reload racing a commit never leaves a cached room without the committed event", async () => {
    const a = await t.s.client().register();
    const roomId = (await createRoom(a)) as RoomId;
    await send(a, roomId, "warm");
    const { roomCache, writer } = t.s.hs.services;
    for (let i = 0; i < 25; i++) {
      const sending = writer.send(roomId, { type: "m.room.message", content: { body: `race ${i}` }, sender: a.userId as UserId });
      // Drop the entry and reload it while the send is being written.
      roomCache.invalidate(roomId);
      const reloading = roomCache.get(roomId);
      const [written] = await Promise.all([sending, reloading]);
      const cached = roomCache.peek(roomId);
      if (cached) {
        const fromMemory = cached.recentBetween(written.pos - 1, written.pos);
        // Either memory reaches back and holds the event, or it admits it does not (null).
        if (fromMemory !== null) expect(fromMemory.map((r) => r.event.event_id), `iteration ${i}`).to.include(written.eventId);
        expect(cached.head?.eventId, `iteration ${i}`).to.equal(written.eventId);
      }
    }
    // And a client sees every message.
    const s = await a.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=100`);
    expect(s.body.chunk.filter((e: any) => String(e.content.body).startsWith("race "))).to.have.length(25);
  });
});

describe("event writer batches", () => {
  const t = useServer();

  it("a send the database refuses fails alone, not the sends batched with it", async () => {
    const a = await t.s.client().register();
    const roomId = (await createRoom(a)) as RoomId;
    const { writer } = t.s.hs.services;
    const sender = a.userId as UserId;
    // Past the edge's checks (which refuse it earlier): Postgres refuses a lone surrogate.
    const sends = Array.from({ length: 12 }, (_, i) => writer.send(roomId, { type: "m.room.message", sender,
      content: { msgtype: "m.text", body: i === 5 ? "bad \ud800" : `good ${i}` } }).then(() => "ok", () => "failed"));
    const results = await Promise.all(sends);
    expect(results.filter((r) => r === "failed")).to.have.length(1);
    expect(results[5]).to.equal("failed");
  });
});

describe("membership cache", () => {
  // A database whose membership reads answer when the test says, each with what the table
  // held when it was read: orders two loads and a commit as they can interleave on a busy server.
  function slowDb() {
    const pending: { rows: unknown[]; resolve: (rows: unknown[]) => void }[] = [];
    let table: unknown[] = [];
    const db = (() => ({ where: () => ({ select: () => new Promise((resolve) => pending.push({ rows: table, resolve })) }) })) as unknown as Db;
    /** Answers reads until `p` settles. */
    const drive = async <T>(p: Promise<T>): Promise<T> => {
      let settled = false;
      void p.finally(() => { settled = true; });
      while (!settled) {
        while (pending.length) { const r = pending.shift()!; r.resolve(r.rows); }
        await new Promise((r) => setImmediate(r));
      }
      return p;
    };
    return { db, drive, write: (rows: unknown[]) => { table = rows; } };
  }
  const room = "!r:test" as RoomId;
  const user = "@u:test" as UserId;

  it("a load that read before a join and answers after it is not kept", async () => {
    const f = slowDb();
    const cache = new MembershipCache(f.db);
    const first = cache.get(user); // both read the table before the join
    const second = cache.get(user);
    f.write([{ room_id: room, membership: "join", pos: 7 }]);
    const join = { type: "m.room.member", state_key: user, content: { membership: "join" } };
    cache.onCommit({ roomId: room } as RoomState, [{ eventId: "$j", pos: 7, event: join } as unknown as Written]);
    await f.drive(Promise.all([first, second]));
    const rooms = await f.drive(cache.get(user));
    expect(rooms.map((m) => m.roomId)).to.deep.equal([room]);
  });
});
