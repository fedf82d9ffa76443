// sync.yaml, filter.yaml, account-data.yaml, tags.yaml
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, invite, join, send, setState } from "../helpers/rooms.js";

describe("sync", () => {
  const t = useServer();

  it("initial sync: joined rooms with state and timeline, and a next_batch", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a, { name: "Initial" });
    const id = await send(a, roomId, "hello");
    const r = await a.get("/_matrix/client/v3/sync");
    expect(r.status).to.equal(200);
    expect(r.body.next_batch).to.be.a("string");
    const room = r.body.rooms.join[roomId];
    expect(room.timeline.events.map((e: any) => e.event_id)).to.include(id);
    expect(room.timeline.prev_batch).to.be.a("string");
    expect(room.summary["m.joined_member_count"]).to.equal(1);
    for (const k of ["account_data", "presence", "to_device", "device_lists", "device_one_time_keys_count"]) expect(r.body).to.have.property(k);
    // State + timeline together hold the room's state.
    const all = [...room.state.events, ...room.timeline.events];
    expect(all.some((e: any) => e.type === "m.room.name" && e.content.name === "Initial")).to.equal(true);
  });

  it("a limited timeline: the rest of the state is in `state`, prev_batch pages back to the rest", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a, { name: "Limited" });
    for (let i = 0; i < 5; i++) await send(a, roomId, `m${i}`);
    const f = enc(JSON.stringify({ room: { timeline: { limit: 2 } } }));
    const r = await a.get(`/_matrix/client/v3/sync?filter=${f}`);
    const room = r.body.rooms.join[roomId];
    expect(room.timeline.events.map((e: any) => e.content.body)).to.deep.equal(["m3", "m4"]);
    expect(room.timeline.limited).to.equal(true);
    const types = room.state.events.map((e: any) => e.type);
    expect(types).to.include.members(["m.room.create", "m.room.power_levels", "m.room.name", "m.room.member"]);
    const back = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=2&from=${enc(room.timeline.prev_batch)}`);
    expect(back.body.chunk.map((e: any) => e.content.body)).to.deep.equal(["m2", "m1"]);
  });

  it("incremental sync returns only what is new; next_batch never goes back", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a);
    const s0 = await a.get("/_matrix/client/v3/sync");
    const id = await send(a, roomId, "new");
    const s1 = await a.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}`);
    expect(s1.body.rooms.join[roomId].timeline.events.map((e: any) => e.event_id)).to.deep.equal([id]);
    expect(s1.body.rooms.join[roomId].timeline.limited).to.equal(false);
    const pos = (tok: string) => Number(/^s(\d+)/.exec(tok)![1]);
    expect(pos(s1.body.next_batch)).to.be.greaterThan(pos(s0.body.next_batch));
    const s2 = await a.get(`/_matrix/client/v3/sync?since=${s1.body.next_batch}&timeout=0`);
    expect(s2.body.rooms.join).to.deep.equal({});
    expect(s2.body.next_batch).to.equal(s1.body.next_batch);
  });

  it("a long-poll wakes when a message arrives and waits out its timeout when none does", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    const s0 = await b.get("/_matrix/client/v3/sync");
    const started = Date.now();
    const poll = b.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}&timeout=20000`);
    await new Promise((r) => setTimeout(r, 200));
    const id = await send(a, roomId, "wake up");
    const r = await poll;
    expect(r.body.rooms.join[roomId].timeline.events.map((e: any) => e.event_id)).to.deep.equal([id]);
    expect(Date.now() - started).to.be.lessThan(15000);
    // Nothing happens: the long-poll answers empty after its timeout. (Its own acknowledgement
    // writes b's delivered receipt, which moves the stream but is news only to the others.)
    const idle = await b.get(`/_matrix/client/v3/sync?since=${r.body.next_batch}&timeout=300`);
    expect(idle.status).to.equal(200);
    expect(idle.body.rooms.join).to.deep.equal({});
    const again = await b.get(`/_matrix/client/v3/sync?since=${idle.body.next_batch}&timeout=300`);
    expect(again.body.rooms.join).to.deep.equal({});
    expect(again.body.next_batch).to.equal(idle.body.next_batch);
  });

  it("another user's room activity does not wake a long-poll", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const s0 = await b.get("/_matrix/client/v3/sync");
    const aRoom = await createRoom(a);
    const poll = b.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}&timeout=500`);
    await send(a, aRoom, "not for b");
    const r = await poll;
    expect(r.body.rooms.join).to.deep.equal({});
  });

  it("invites arrive with stripped state; joining moves the room to join with full state", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { name: "Invite me" });
    const s0 = await b.get("/_matrix/client/v3/sync");
    await invite(a, roomId, b.userId);
    const s1 = await b.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}`);
    const inv = s1.body.rooms.invite[roomId].invite_state.events;
    expect(inv.find((e: any) => e.type === "m.room.name").content.name).to.equal("Invite me");
    expect(inv.find((e: any) => e.type === "m.room.member" && e.state_key === b.userId).content.membership).to.equal("invite");
    await join(b, roomId);
    const s2 = await b.get(`/_matrix/client/v3/sync?since=${s1.body.next_batch}`);
    const room = s2.body.rooms.join[roomId];
    const all = [...room.state.events, ...room.timeline.events];
    expect(all.some((e: any) => e.type === "m.room.create")).to.equal(true);
    expect(all.some((e: any) => e.type === "m.room.member" && e.state_key === b.userId && e.content.membership === "join")).to.equal(true);
  });

  it("leaving puts the room in `leave` once; include_leave shows it in an initial sync", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    const s0 = await b.get("/_matrix/client/v3/sync");
    await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {});
    const s1 = await b.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}`);
    expect(s1.body.rooms.leave).to.have.property(roomId);
    const leaveEvents = s1.body.rooms.leave[roomId].timeline.events;
    expect(leaveEvents[leaveEvents.length - 1].content.membership).to.equal("leave");
    await send(a, roomId, "after leave");
    const s2 = await b.get(`/_matrix/client/v3/sync?since=${s1.body.next_batch}&timeout=0`);
    expect(s2.body.rooms.leave).to.deep.equal({});
    expect(s2.body.rooms.join).to.deep.equal({});
    const plain = await b.get("/_matrix/client/v3/sync");
    expect(plain.body.rooms.leave).to.deep.equal({});
    const withLeave = await b.get(`/_matrix/client/v3/sync?filter=${enc(JSON.stringify({ room: { include_leave: true } }))}`);
    expect(withLeave.body.rooms.leave).to.have.property(roomId);
  });

  it("filters: stored filter IDs, types, rooms, lazy-loaded members, event_fields", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const r1 = await createRoom(a, { preset: "public_chat" });
    const r2 = await createRoom(a);
    await join(b, r1);
    await send(b, r1, "from b");
    await send(a, r1, { x: 1 }, "org.example.noise");
    const def = await a.post(`/_matrix/client/v3/user/${enc(a.userId)}/filter`, {
      room: { rooms: [r1], timeline: { types: ["m.room.message"] }, state: { lazy_load_members: true } },
      event_fields: ["type", "content.body", "sender"],
    });
    expect(def.status).to.equal(200);
    const got = await a.get(`/_matrix/client/v3/user/${enc(a.userId)}/filter/${def.body.filter_id}`);
    expect(got.body.room.rooms).to.deep.equal([r1]);
    const s = await a.get(`/_matrix/client/v3/sync?filter=${def.body.filter_id}`);
    expect(Object.keys(s.body.rooms.join)).to.deep.equal([r1]);
    const tl = s.body.rooms.join[r1].timeline.events;
    expect(tl.map((e: any) => e.type)).to.deep.equal(["m.room.message"]);
    expect(tl[0]).to.deep.equal({ type: "m.room.message", content: { body: "from b" }, sender: b.userId });
    void r2;
    const other = await b.get(`/_matrix/client/v3/user/${enc(a.userId)}/filter/${def.body.filter_id}`);
    expect(other.status).to.equal(403);
    expect((await a.get(`/_matrix/client/v3/user/${enc(a.userId)}/filter/99999`)).status).to.equal(404);
    expect((await a.get("/_matrix/client/v3/sync?filter=99999")).status).to.equal(400);
    expect((await a.get(`/_matrix/client/v3/sync?filter=${enc("{bad")}`)).status).to.equal(400);
    expect((await a.post(`/_matrix/client/v3/user/${enc(a.userId)}/filter`, { room: { timeline: { limit: "ten" } } })).status).to.equal(400);
  });

  it("lazy-loaded members: only the timeline's senders (and the user) in state", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const c = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    await join(c, roomId);
    for (let i = 0; i < 3; i++) await send(b, roomId, `b${i}`);
    const f = enc(JSON.stringify({ room: { timeline: { limit: 2 }, state: { lazy_load_members: true } } }));
    const s = await a.get(`/_matrix/client/v3/sync?filter=${f}`);
    const members = s.body.rooms.join[roomId].state.events.filter((e: any) => e.type === "m.room.member").map((e: any) => e.state_key);
    expect(members.sort()).to.deep.equal([a.userId, b.userId].sort());
  });

  it("bad parameters: since, timeout, set_presence", async () => {
    const a = await t.s.client().register();
    expect((await a.get("/_matrix/client/v3/sync?since=nonsense")).status).to.equal(400);
    expect((await a.get("/_matrix/client/v3/sync?timeout=soon")).status).to.equal(400);
    expect((await a.get("/_matrix/client/v3/sync?set_presence=dancing")).status).to.equal(400);
    expect((await a.get("/_matrix/client/v3/sync?set_presence=online")).status).to.equal(200);
  });

  it("a long-poll (a named filter, as Element sends) and its wake-up read no table once the user's data is loaded", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    const filterId = (await b.post(`/_matrix/client/v3/user/${enc(b.userId)}/filter`, { room: { timeline: { limit: 5 } } })).body.filter_id;
    const statements = async () => Number(/^ganglion_db_queries_total (\d+)/m.exec((await a.get("/metrics")).text)![1]);
    let since = (await b.get(`/_matrix/client/v3/sync?filter=${filterId}`)).body.next_batch;
    since = (await b.get(`/_matrix/client/v3/sync?filter=${filterId}&since=${since}&timeout=0`)).body.next_batch;
    // The fewest statements, over a few tries (the server has background work of its own), of
    // a send that nobody waits for, and of the same send with b's long-poll waiting for it.
    let alone = Infinity;
    let woken = Infinity;
    for (let i = 0; i < 3; i++) {
      const q0 = await statements();
      await send(a, roomId, `alone ${i}`);
      alone = Math.min(alone, (await statements()) - q0);
      since = (await b.get(`/_matrix/client/v3/sync?filter=${filterId}&since=${since}&timeout=0`)).body.next_batch;
      const q1 = await statements();
      const poll = b.get(`/_matrix/client/v3/sync?filter=${filterId}&since=${since}&timeout=10000`);
      await new Promise((r) => setTimeout(r, 100));
      await send(a, roomId, `woken ${i}`);
      const res = await poll;
      woken = Math.min(woken, (await statements()) - q1);
      expect(res.body.rooms.join[roomId].timeline.events.at(-1).content.body).to.equal(`woken ${i}`);
      since = res.body.next_batch;
    }
    expect(alone).to.be.greaterThan(0); // the counter counts
    expect(woken).to.equal(alone);
  });

  it("a long-poll woken by someone's read receipt reads no table either (recent receipts are in memory)", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    const statements = async () => Number(/^ganglion_db_queries_total (\d+)/m.exec((await a.get("/metrics")).text)![1]);
    let since = (await b.get("/_matrix/client/v3/sync")).body.next_batch;
    since = (await b.get(`/_matrix/client/v3/sync?since=${since}&timeout=0`)).body.next_batch;
    const receipt = (eventId: string) => a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, {});
    let alone = Infinity;
    let woken = Infinity;
    for (let i = 0; i < 3; i++) {
      const e1 = await send(b, roomId, `first ${i}`);
      const e2 = await send(b, roomId, `second ${i}`);
      since = (await b.get(`/_matrix/client/v3/sync?since=${since}&timeout=0`)).body.next_batch;
      const q0 = await statements();
      expect((await receipt(e1)).status).to.equal(200);
      alone = Math.min(alone, (await statements()) - q0);
      since = (await b.get(`/_matrix/client/v3/sync?since=${since}&timeout=0`)).body.next_batch;
      const q1 = await statements();
      const poll = b.get(`/_matrix/client/v3/sync?since=${since}&timeout=10000`);
      await new Promise((r) => setTimeout(r, 100));
      expect((await receipt(e2)).status).to.equal(200);
      const res = await poll;
      woken = Math.min(woken, (await statements()) - q1);
      const ev = res.body.rooms.join[roomId].ephemeral.events.find((e: any) => e.type === "m.receipt");
      expect(ev.content[e2]["m.read"][a.userId].ts).to.be.a("number");
      expect(ev.content[e1], "only what changed since the token").to.equal(undefined);
      since = res.body.next_batch;
    }
    expect(alone).to.be.greaterThan(0);
    expect(woken).to.equal(alone);
  });

  describe("account data and tags", () => {
    it("global and per-room account data: set, get, and in /sync once", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      const s0 = await a.get("/_matrix/client/v3/sync");
      expect((await a.put(`/_matrix/client/v3/user/${enc(a.userId)}/account_data/org.example.settings`, { theme: "dark" })).status).to.equal(200);
      expect((await a.put(`/_matrix/client/v3/user/${enc(a.userId)}/rooms/${enc(roomId)}/account_data/org.example.room`, { pinned: true })).status).to.equal(200);
      expect((await a.get(`/_matrix/client/v3/user/${enc(a.userId)}/account_data/org.example.settings`)).body).to.deep.equal({ theme: "dark" });
      expect((await a.get(`/_matrix/client/v3/user/${enc(a.userId)}/rooms/${enc(roomId)}/account_data/org.example.room`)).body).to.deep.equal({ pinned: true });
      const s1 = await a.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}`);
      expect(s1.body.account_data.events).to.deep.include({ type: "org.example.settings", content: { theme: "dark" } });
      expect(s1.body.rooms.join[roomId].account_data.events).to.deep.include({ type: "org.example.room", content: { pinned: true } });
      const s2 = await a.get(`/_matrix/client/v3/sync?since=${s1.body.next_batch}&timeout=0`);
      expect(s2.body.account_data.events).to.deep.equal([]);
      const initial = await a.get("/_matrix/client/v3/sync");
      expect(initial.body.account_data.events).to.deep.include({ type: "org.example.settings", content: { theme: "dark" } });
    });

    it("account data errors: unknown is 404, someone else's is 403, server-managed types are refused", async () => {
      const a = await t.s.client().register();
      const b = await t.s.client().register();
      expect((await a.get(`/_matrix/client/v3/user/${enc(a.userId)}/account_data/org.example.none`)).status).to.equal(404);
      expect((await b.put(`/_matrix/client/v3/user/${enc(a.userId)}/account_data/x`, {})).status).to.equal(403);
      expect((await b.get(`/_matrix/client/v3/user/${enc(a.userId)}/account_data/x`)).status).to.equal(403);
      const managed = await a.put(`/_matrix/client/v3/user/${enc(a.userId)}/account_data/m.fully_read`, { event_id: "$x" });
      expect(managed.status).to.equal(405);
    });

    it("tags: add, list, delete, and m.tag in /sync", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      const base = `/_matrix/client/v3/user/${enc(a.userId)}/rooms/${enc(roomId)}/tags`;
      expect((await a.put(`${base}/m.favourite`, { order: 0.5 })).status).to.equal(200);
      expect((await a.put(`${base}/u.work`, {})).status).to.equal(200);
      expect((await a.get(base)).body.tags).to.deep.equal({ "m.favourite": { order: 0.5 }, "u.work": {} });
      expect((await a.del(`${base}/u.work`)).status).to.equal(200);
      expect((await a.get(base)).body.tags).to.deep.equal({ "m.favourite": { order: 0.5 } });
      const s = await a.get("/_matrix/client/v3/sync");
      expect(s.body.rooms.join[roomId].account_data.events).to.deep.include({ type: "m.tag", content: { tags: { "m.favourite": { order: 0.5 } } } });
      expect((await a.put(`${base}/bad`, { order: "high" })).status).to.equal(400);
    });
  });

  it("a state change in a limited gap is delivered in `state`", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a);
    const s0 = await a.get("/_matrix/client/v3/sync");
    await setState(a, roomId, "m.room.name", { name: "Changed in the gap" });
    for (let i = 0; i < 4; i++) await send(a, roomId, `x${i}`);
    const f = enc(JSON.stringify({ room: { timeline: { limit: 2 } } }));
    const s1 = await a.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}&filter=${f}`);
    const room = s1.body.rooms.join[roomId];
    expect(room.timeline.limited).to.equal(true);
    expect(room.state.events.find((e: any) => e.type === "m.room.name").content.name).to.equal("Changed in the gap");
  });
});

describe("sync: initial sync over many rooms", () => {
  const t = useServer();

  it("serves every room with correct summaries and per-room history visibility", async function () {
    this.timeout(60_000);
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const rooms: string[] = [];
    for (let i = 0; i < 12; i++) {
      const vis = i % 2 === 0 ? "joined" : "shared";
      const r = await createRoom(a, { preset: "public_chat", initial_state: [{ type: "m.room.history_visibility", content: { history_visibility: vis } }] });
      await send(a, r, `before b ${i}`);
      await join(b, r);
      await send(a, r, `after b ${i}`);
      rooms.push(r);
    }
    const s = await b.get("/_matrix/client/v3/sync");
    for (let i = 0; i < rooms.length; i++) {
      const room = s.body.rooms.join[rooms[i]!];
      expect(room.summary).to.deep.equal({ "m.heroes": [a.userId], "m.joined_member_count": 2, "m.invited_member_count": 0 });
      const bodies = room.timeline.events.map((e: any) => e.content.body).filter(Boolean);
      expect(bodies).to.include(`after b ${i}`);
      if (i % 2 === 0) expect(bodies).to.not.include(`before b ${i}`);
      else expect(bodies).to.include(`before b ${i}`);
    }
  });
});
