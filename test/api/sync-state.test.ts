// /sync state bookkeeping: what a client is sent lets it rebuild the room's current state;
// filters count what they keep; hidden events make no section; ignored users count nothing.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, join, send, setState } from "../helpers/rooms.js";

const leave = (c: { post: (p: string, b: unknown) => Promise<{ status: number }> }, roomId: string) => c.post(`/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {});

describe("sync: state bookkeeping", () => {
  const t = useServer();

  it("after leaving and rejoining, the current state set meanwhile (a join) reaches the timeline", async () => {
    const [creator, syncer, other] = [await t.s.client().register(), await t.s.client().register(), await t.s.client().register()];
    const roomId = await createRoom(creator, { preset: "public_chat" });
    await join(syncer, roomId);
    await setState(creator, roomId, "m.room.history_visibility", { history_visibility: "joined" });
    const s0 = await syncer.get("/_matrix/client/v3/sync");
    expect((await leave(syncer, roomId)).status).to.equal(200);
    await join(other, roomId);
    await join(syncer, roomId);
    const s1 = await syncer.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}`);
    const room = s1.body.rooms.join[roomId];
    const all = [...room.timeline.events, ...room.state.events];
    expect(all.some((e: any) => e.type === "m.room.member" && e.state_key === other.userId && e.content.membership === "join")).to.equal(true);
  });

  it("a filtered timeline's limit counts the events it keeps; limited only if more of those came before", async () => {
    const u = await t.s.client().register();
    const roomId = await createRoom(u);
    const msg = await send(u, roomId, "My message");
    for (let i = 0; i < 12; i++) await send(u, roomId, { filler: i }, "a.made.up.filler.type");
    const filter = enc(JSON.stringify({ room: { timeline: { limit: 1, types: ["m.room.message"] } } }));
    const r = await u.get(`/_matrix/client/v3/sync?filter=${filter}`);
    const tl = r.body.rooms.join[roomId].timeline;
    expect(tl.events.map((e: any) => e.event_id)).to.deep.equal([msg]);
    expect(tl.limited).to.equal(false);
  });

  it("an ignored user's new messages give no room section and no unread count", async () => {
    const [a, b] = [await t.s.client().register(), await t.s.client().register()];
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    await a.put(`/_matrix/client/v3/user/${enc(a.userId)}/account_data/m.ignored_user_list`, { ignored_users: { [b.userId]: {} } });
    const s0 = await a.get("/_matrix/client/v3/sync");
    await send(b, roomId, "ignored words");
    const s1 = await a.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}&timeout=300`);
    expect(s1.body.rooms.join[roomId]).to.equal(undefined);
    const full = await a.get("/_matrix/client/v3/sync");
    expect(full.body.rooms.join[roomId].unread_notifications.notification_count).to.equal(0);
  });

  it("a room left since the token: the state section carries what changed, not all of it", async () => {
    const [a, b] = [await t.s.client().register(), await t.s.client().register()];
    const roomId = await createRoom(a, { preset: "public_chat", name: "Named" });
    await join(b, roomId);
    const s0 = await b.get("/_matrix/client/v3/sync");
    expect((await leave(b, roomId)).status).to.equal(200);
    const s1 = await b.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}`);
    const left = s1.body.rooms.leave[roomId];
    expect(left.timeline.events.some((e: any) => e.type === "m.room.member" && e.state_key === b.userId)).to.equal(true);
    expect(left.state.events).to.deep.equal([]);
    // A room with a name has no heroes in its summary; one without has them.
    expect(s0.body.rooms.join[roomId].summary).to.not.have.property("m.heroes");
    const unnamed = await createRoom(a, { preset: "public_chat" });
    await join(b, unnamed);
    const s2 = await b.get("/_matrix/client/v3/sync");
    expect(s2.body.rooms.join[unnamed].summary["m.heroes"]).to.deep.equal([a.userId]);
  });

  it("event_format federation: events as the server holds them, with prev_events, auth_events, depth, hashes, signatures", async () => {
    const u = await t.s.client().register();
    const roomId = await createRoom(u);
    const id = await send(u, roomId, "Test message");
    const r = await u.get(`/_matrix/client/v3/sync?filter=${enc(JSON.stringify({ event_format: "federation", room: { timeline: { limit: 1 } } }))}`);
    const ev = r.body.rooms.join[roomId].timeline.events[0];
    expect(ev).to.include.keys("event_id", "content", "room_id", "sender", "origin_server_ts", "type", "prev_events", "auth_events", "depth", "hashes", "signatures");
    expect(ev.event_id).to.equal(id);
    expect(ev.content.body).to.equal("Test message");
  });

  describe("use_state_after (v1.16) and its unstable name", () => {
    const byKey = (events: any[]) => new Map(events.map((e: any) => [`${e.type}|${e.state_key}`, e.content]));

    it("initial: the state at the end of the timeline, under state_after; no state section", async () => {
      const u = await t.s.client().register();
      const roomId = await createRoom(u, { name: "Before" });
      await setState(u, roomId, "m.room.name", { name: "After" });
      const r = await u.get(`/_matrix/client/v3/sync?use_state_after=true&filter=${enc(JSON.stringify({ room: { timeline: { limit: 1 } } }))}`);
      const room = r.body.rooms.join[roomId];
      expect(room).to.not.have.property("state");
      // The timeline holds the rename; state_after carries it too (the state at its end).
      expect(room.timeline.events.map((e: any) => e.content.name)).to.deep.equal(["After"]);
      expect(byKey(room.state_after.events).get("m.room.name|")).to.deep.equal({ name: "After" });
      // Without the parameter: the state before the timeline, the old name.
      const old = await u.get(`/_matrix/client/v3/sync?filter=${enc(JSON.stringify({ room: { timeline: { limit: 1 } } }))}`);
      expect(old.body.rooms.join[roomId]).to.not.have.property("state_after");
      expect(byKey(old.body.rooms.join[roomId].state.events).get("m.room.name|")).to.deep.equal({ name: "Before" });
    });

    it("incremental: every state change of the range, those in the timeline too; a quiet room answers under the same key", async () => {
      const [a, b] = [await t.s.client().register(), await t.s.client().register()];
      const roomId = await createRoom(a, { preset: "public_chat" });
      const s0 = await a.get("/_matrix/client/v3/sync?org.matrix.msc4222.use_state_after=true");
      await setState(a, roomId, "m.room.topic", { topic: "new topic" });
      await join(b, roomId);
      const s1 = await a.get(`/_matrix/client/v3/sync?org.matrix.msc4222.use_state_after=true&since=${enc(s0.body.next_batch)}`);
      const room = s1.body.rooms.join[roomId];
      expect(room).to.not.have.property("state");
      const st = byKey(room["org.matrix.msc4222.state_after"].events);
      expect(st.get("m.room.topic|")).to.deep.equal({ topic: "new topic" });
      expect(st.get(`m.room.member|${b.userId}`)).to.include({ membership: "join" });
      expect(st.size).to.equal(2); // only what changed
      // A plain message (the quick path): an empty state_after, never `state`.
      await send(b, roomId, "hello");
      const s2 = await a.get(`/_matrix/client/v3/sync?org.matrix.msc4222.use_state_after=true&since=${enc(s1.body.next_batch)}&timeout=2000`);
      const quiet = s2.body.rooms.join[roomId];
      expect(quiet.timeline.events.map((e: any) => e.content.body)).to.deep.equal(["hello"]);
      expect(quiet["org.matrix.msc4222.state_after"].events).to.deep.equal([]);
      expect(quiet).to.not.have.property("state");
    });

    it("a room left: state_after holds the leave", async () => {
      const [a, b] = [await t.s.client().register(), await t.s.client().register()];
      const roomId = await createRoom(a, { preset: "public_chat" });
      await join(b, roomId);
      const s0 = await b.get("/_matrix/client/v3/sync?use_state_after=true");
      expect((await leave(b, roomId)).status).to.equal(200);
      const s1 = await b.get(`/_matrix/client/v3/sync?use_state_after=true&since=${enc(s0.body.next_batch)}`);
      const left = s1.body.rooms.leave[roomId];
      expect(left).to.not.have.property("state");
      expect(byKey(left.state_after.events).get(`m.room.member|${b.userId}`)).to.include({ membership: "leave" });
    });
  });
});
