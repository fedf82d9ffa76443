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
});
