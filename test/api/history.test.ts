// History visibility through every read endpoint, and /messages pagination.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { allMessages, createRoom, enc, invite, join, send, setState } from "../helpers/rooms.js";

describe("history visibility and pagination", () => {
  const t = useServer();

  async function roomWith(visibility: string) {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat", initial_state: [{ type: "m.room.history_visibility", content: { history_visibility: visibility } }] });
    const before = await send(a, roomId, "before b joined");
    return { a, b, roomId, before };
  }

  it("joined: a later joiner cannot read earlier messages by any endpoint", async () => {
    const { a, b, roomId, before } = await roomWith("joined");
    await join(b, roomId);
    const after = await send(a, roomId, "after b joined");
    const bodies = (await allMessages(b, roomId)).map((e) => e.content.body).filter(Boolean);
    expect(bodies).to.deep.equal(["after b joined"]);
    const ev = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(before)}`);
    expect(ev.status).to.equal(404);
    const ctx = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/context/${enc(before)}`);
    expect(ctx.status).to.equal(404);
    const ctxOk = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/context/${enc(after)}?limit=10`);
    expect(ctxOk.status).to.equal(200);
    expect(ctxOk.body.events_before.map((e: any) => e.event_id)).to.not.include(before);
    const sync = await b.get("/_matrix/client/v3/sync");
    const tl = sync.body.rooms.join[roomId].timeline.events.map((e: any) => e.event_id);
    expect(tl).to.include(after);
    expect(tl).to.not.include(before);
    // a, who was there, sees both.
    expect((await allMessages(a, roomId)).map((e) => e.event_id)).to.include.members([before, after]);
  });

  it("shared: a later joiner reads earlier messages", async () => {
    const { b, roomId, before } = await roomWith("shared");
    await join(b, roomId);
    expect((await allMessages(b, roomId)).map((e) => e.event_id)).to.include(before);
    expect((await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(before)}`)).status).to.equal(200);
  });

  it("invited: visible from the invite on, not before", async () => {
    const { a, b, roomId, before } = await roomWith("invited");
    const between = await send(a, roomId, "between");
    await invite(a, roomId, b.userId);
    const afterInvite = await send(a, roomId, "after invite");
    await join(b, roomId);
    const ids = (await allMessages(b, roomId)).map((e) => e.event_id);
    expect(ids).to.include(afterInvite);
    expect(ids).to.not.include(before);
    expect(ids).to.not.include(between);
  });

  it("world_readable: a non-member may read messages and state", async () => {
    const { b, roomId, before } = await roomWith("world_readable");
    expect((await allMessages(b, roomId)).map((e) => e.event_id)).to.include(before);
    expect((await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state`)).status).to.equal(200);
  });

  it("a non-member of a shared room gets 403 on /messages, /state, /members, /context; 404 on /event", async () => {
    const { a, b, roomId } = await roomWith("shared");
    const id = await send(a, roomId, "members only");
    for (const path of ["messages", "state", "members", `context/${enc(id)}`]) {
      const r = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/${path}`);
      expect(r.status, path).to.equal(403);
      expect(r.body.errcode).to.equal("M_FORBIDDEN");
    }
    // The spec's /event answer for an event one may not see: not found.
    expect((await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(id)}`)).status).to.equal(404);
  });

  it("after leaving: nothing sent later is visible; state is as it was at the leave", async () => {
    const { a, b, roomId } = await roomWith("shared");
    await join(b, roomId);
    const seen = await send(a, roomId, "seen");
    expect((await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {})).status).to.equal(200);
    const unseen = await send(a, roomId, "sent after b left");
    await setState(a, roomId, "m.room.name", { name: "after b left" });
    const ids = (await allMessages(b, roomId)).map((e) => e.event_id);
    expect(ids).to.include(seen);
    expect(ids).to.not.include(unseen);
    expect((await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(unseen)}`)).status).to.equal(404);
    const st = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state`);
    expect(st.status).to.equal(200);
    expect(st.body.find((e: any) => e.type === "m.room.name")).to.equal(undefined);
    const members = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/members`);
    expect(members.body.chunk.find((e: any) => e.state_key === b.userId).content.membership).to.equal("leave");
  });

  it("/messages pages backwards and forwards over every event exactly once", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a);
    const sent: string[] = [];
    for (let i = 0; i < 25; i++) sent.push(await send(a, roomId, `m${i}`));
    const back = (await allMessages(a, roomId, 4)).filter((e) => e.type === "m.room.message").map((e) => e.event_id);
    expect(back).to.deep.equal(sent);
    // Forwards from the start.
    const fwd: string[] = [];
    let from = "s0";
    for (let i = 0; i < 100; i++) {
      const r = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=f&limit=6&from=${from}`);
      fwd.push(...r.body.chunk.filter((e: any) => e.type === "m.room.message").map((e: any) => e.event_id));
      if (!r.body.end) break;
      from = r.body.end;
    }
    expect(fwd).to.deep.equal(sent);
  });

  it("/messages: to, filter by type and sender, lazy-loaded members, bad parameters", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    await send(a, roomId, "from a");
    await send(b, roomId, "from b");
    await send(a, roomId, { topic: "x" }, "org.example.other");
    const filter = enc(JSON.stringify({ types: ["m.room.message"], senders: [b.userId], lazy_load_members: true }));
    const r = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=10&filter=${filter}`);
    expect(r.body.chunk.map((e: any) => e.content.body)).to.deep.equal(["from b"]);
    expect(r.body.state.map((e: any) => e.state_key)).to.deep.equal([b.userId]);
    const wild = enc(JSON.stringify({ types: ["org.example.*"] }));
    const w = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=10&filter=${wild}`);
    expect(w.body.chunk.map((e: any) => e.type)).to.deep.equal(["org.example.other"]);
    expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=x`)).status).to.equal(400);
    expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?from=garbage`)).status).to.equal(400);
    expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?filter=nojson`)).status).to.equal(400);
    expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?limit=-1`)).status).to.equal(400);
  });

  it("/context returns events around the target and the state", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await send(a, roomId, `c${i}`));
    const r = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/context/${enc(ids[3]!)}?limit=4`);
    expect(r.status).to.equal(200);
    expect(r.body.event.event_id).to.equal(ids[3]);
    expect(r.body.events_before.map((e: any) => e.event_id)).to.deep.equal([ids[2], ids[1]]);
    expect(r.body.events_after.map((e: any) => e.event_id)).to.deep.equal([ids[4], ids[5]]);
    expect(r.body.start).to.be.a("string");
    expect(r.body.end).to.be.a("string");
    expect(r.body.state.some((e: any) => e.type === "m.room.create")).to.equal(true);
    // Continue from `end` with /messages.
    const next = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=f&from=${enc(r.body.end)}&limit=10`);
    expect(next.body.chunk.map((e: any) => e.event_id)).to.deep.equal([ids[6]]);
  });
});
