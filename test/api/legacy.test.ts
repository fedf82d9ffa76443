// The deprecated streams: GET /initialSync, /rooms/{roomId}/initialSync, /events, /events/{eventId}.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, join, send, setState } from "../helpers/rooms.js";

describe("legacy streams", () => {
  const t = useServer();

  it("initialSync and room initialSync: rooms with state, messages, membership and presence", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat", topic: "old ways" });
    const msg = await send(a, roomId, "hello");
    const g = await a.get("/_matrix/client/v3/initialSync?limit=5");
    expect(g.status, g.text).to.equal(200);
    const room = g.body.rooms.find((r: any) => r.room_id === roomId);
    expect(room.membership).to.equal("join");
    expect(room.messages.chunk.map((e: any) => e.event_id)).to.include(msg);
    expect(room.state.find((e: any) => e.type === "m.room.topic").content.topic).to.equal("old ways");
    expect(g.body.presence.map((e: any) => e.content.user_id)).to.include(a.userId);
    const none = await a.get("/_matrix/client/v3/initialSync?limit=0");
    expect(none.body.rooms.find((r: any) => r.room_id === roomId).messages.chunk).to.deep.equal([]);
    const r = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/initialSync`);
    expect(r.status).to.equal(200);
    expect(r.body).to.include.keys("state", "messages", "presence", "membership");
    expect(r.body.messages.chunk.map((e: any) => e.event_id)).to.include(msg);
  });

  it("/events waits for what comes after `from`; /events/{eventId} only for who may see it", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    for (const q of ["limit=hello", "limit=-2", "timeout=hello"]) expect((await b.get(`/_matrix/client/v3/events?${q}`)).status).to.equal(400);
    const first = await b.get("/_matrix/client/v3/events?timeout=0");
    expect(first.status).to.equal(200);
    const waiting = b.get(`/_matrix/client/v3/events?from=${enc(first.body.end)}&timeout=10000`);
    const id = await send(a, roomId, "streamed");
    let got = await waiting;
    expect(got.body.start).to.equal(first.body.end);
    const seen: string[] = got.body.chunk.map((e: any) => e.event_id);
    // A wake-up may come first for something else (presence): follow the stream.
    for (let i = 0; i < 5 && !seen.includes(id); i++) {
      got = await b.get(`/_matrix/client/v3/events?from=${enc(got.body.end)}&timeout=5000`);
      seen.push(...got.body.chunk.map((e: any) => e.event_id));
    }
    expect(seen).to.include(id);
    expect((await b.get(`/_matrix/client/v3/events/${enc(id)}`)).body.content.body).to.equal("streamed");
    const secret = await createRoom(a, { preset: "private_chat" });
    const hidden = await send(a, secret, "not for b");
    expect((await b.get(`/_matrix/client/v3/events/${enc(hidden)}`)).status).to.equal(404);
    // Peeking: a world-readable room only.
    expect((await b.get(`/_matrix/client/v3/events?room_id=${enc(secret)}&timeout=0`)).status).to.equal(403);
    await setState(a, secret, "m.room.history_visibility", { history_visibility: "world_readable" });
    const peek = await b.get(`/_matrix/client/v3/events?room_id=${enc(secret)}&timeout=0`);
    expect(peek.status).to.equal(200);
    // The peek follows the room's messages, its typing, receipts and its members' presence.
    const follow = async (pred: (e: any) => boolean): Promise<any> => {
      for (let i = 0; i < 10; i++) {
        const r = await b.get(`/_matrix/client/v3/events?room_id=${enc(secret)}&from=${enc(from)}&timeout=3000`);
        expect(r.status, r.text).to.equal(200);
        from = r.body.end;
        const hit = r.body.chunk.find(pred);
        if (hit) return hit;
      }
      throw new Error("not seen");
    };
    let from: string = peek.body.end;
    const mice = await send(a, secret, "mice");
    expect((await follow((e) => e.event_id === mice)).content.body).to.equal("mice");
    await a.put(`/_matrix/client/v3/presence/${enc(a.userId)}/status`, { presence: "online", status_msg: "peek me" });
    expect((await follow((e) => e.type === "m.presence" && e.content.user_id === a.userId)).content.status_msg).to.equal("peek me");
    await a.post(`/_matrix/client/v3/rooms/${enc(secret)}/receipt/m.read/${enc(mice)}`, {});
    expect((await follow((e) => e.type === "m.receipt")).content[mice]["m.read"]).to.have.property(a.userId);
    await a.put(`/_matrix/client/v3/rooms/${enc(secret)}/typing/${enc(a.userId)}`, { typing: true, timeout: 5000 });
    expect((await follow((e) => e.type === "m.typing")).content.user_ids).to.deep.equal([a.userId]);
  });
});
