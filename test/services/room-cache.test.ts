// The in-memory room state never misses a committed event, even when its cache entry is
// dropped and reloaded while a write is in flight (sync serves new events from it).
import { expect } from "chai";
import type { RoomId, UserId } from "../../src/matrix/ids.js";
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
