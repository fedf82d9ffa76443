// search.yaml: full-text search over the user's rooms (docs/search.md).
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, join, send, setState, twoInRoom } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

const search = (c: UserClient, roomEvents: Record<string, unknown>, nextBatch?: string) =>
  c.post(`/_matrix/client/v3/search${nextBatch ? `?next_batch=${enc(nextBatch)}` : ""}`, { search_categories: { room_events: roomEvents } });
const ids = (r: any): string[] => r.body.search_categories.room_events.results.map((x: any) => x.result.event_id);

describe("search", () => {
  const t = useServer();

  it("finds words, with English stemming; a message with all the terms ranks first", async () => {
    const { a, roomId } = await twoInRoom(t.s.client());
    const both = await send(a, roomId, "The runners were running past the lighthouse");
    const one = await send(a, roomId, "A lighthouse on the coast");
    await send(a, roomId, "nothing to see here");
    const r = await search(a, { search_term: "run" });
    expect(r.status, r.text).to.equal(200);
    expect(ids(r)).to.deep.equal([both]);
    expect(r.body.search_categories.room_events.highlights).to.include("run");
    const ranked = await search(a, { search_term: "running OR lighthouse", filter: { rooms: [roomId] } });
    expect(ids(ranked)).to.deep.equal([both, one]);
    expect(ranked.body.search_categories.room_events.results[0].rank).to.be.greaterThan(ranked.body.search_categories.room_events.results[1].rank);
    expect(ranked.body.search_categories.room_events.count).to.equal(2);
  });

  it("phrases and negation", async () => {
    const { a, roomId } = await twoInRoom(t.s.client());
    const phrase = await send(a, roomId, "green tea is nice");
    const apart = await send(a, roomId, "tea that is green");
    const r = await search(a, { search_term: "\"green tea\"", filter: { rooms: [roomId] } });
    expect(ids(r)).to.deep.equal([phrase]);
    const neg = await search(a, { search_term: "tea -nice", filter: { rooms: [roomId] } });
    expect(ids(neg)).to.deep.equal([apart]);
  });

  it("words in any script; Chinese, Japanese and Korean by substring; case-insensitive beyond ASCII", async () => {
    const { a, roomId } = await twoInRoom(t.s.client());
    const zh = await send(a, roomId, "我们明天去北京大学参观");
    const ja = await send(a, roomId, "東京都に住んでいます");
    const ko = await send(a, roomId, "안녕하세요 반갑습니다");
    const ru = await send(a, roomId, "Привет, Мир!");
    const f = { rooms: [roomId] };
    expect(ids(await search(a, { search_term: "北京大学", filter: f }))).to.deep.equal([zh]);
    expect(ids(await search(a, { search_term: "大学", filter: f }))).to.deep.equal([zh]);
    expect(ids(await search(a, { search_term: "京", filter: f })).sort()).to.deep.equal([zh, ja].sort());
    expect(ids(await search(a, { search_term: "東京", filter: f }))).to.deep.equal([ja]);
    expect(ids(await search(a, { search_term: "반갑", filter: f }))).to.deep.equal([ko]);
    expect(ids(await search(a, { search_term: "мир", filter: f }))).to.deep.equal([ru]);
    expect(ids(await search(a, { search_term: "北大", filter: f }))).to.deep.equal([]);
  });

  it("pagination with next_batch returns every match exactly once, in both orders", async () => {
    const { a, roomId } = await twoInRoom(t.s.client());
    const sent: string[] = [];
    for (let i = 0; i < 23; i++) sent.push(await send(a, roomId, `pagination marker number ${i}${i % 3 === 0 ? " marker" : ""}`));
    for (const order_by of ["recent", "rank"]) {
      const seen: string[] = [];
      let next: string | undefined;
      for (let i = 0; i < 20; i++) {
        const r = await search(a, { search_term: "marker", order_by, filter: { rooms: [roomId], limit: 5 } }, next);
        expect(r.status, r.text).to.equal(200);
        seen.push(...ids(r));
        next = r.body.search_categories.room_events.next_batch;
        if (!next) break;
      }
      expect([...seen].sort(), order_by).to.deep.equal([...sent].sort());
      expect(new Set(seen).size).to.equal(seen.length);
      if (order_by === "recent") expect(seen).to.deep.equal([...sent].reverse());
    }
  });

  it("event_context with profiles, groupings by room and sender, include_state, keys", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    await a.put(`/_matrix/client/v3/profile/${enc(a.userId)}/displayname`, { displayname: "Alice" });
    await send(a, roomId, "before");
    const hit = await send(a, roomId, "the needle");
    await send(b, roomId, "after");
    await setState(a, roomId, "m.room.topic", { topic: "needle topic" });
    const r = await search(a, {
      search_term: "needle", keys: ["content.body"], include_state: true,
      event_context: { before_limit: 1, after_limit: 1, include_profile: true },
      groupings: { group_by: [{ key: "room_id" }, { key: "sender" }] },
    });
    const re = r.body.search_categories.room_events;
    expect(ids(r)).to.deep.equal([hit]);
    const ctx = re.results[0].context;
    expect(ctx.events_before.map((e: any) => e.content.body)).to.deep.equal(["before"]);
    expect(ctx.events_after.map((e: any) => e.content.body)).to.deep.equal(["after"]);
    expect(ctx.profile_info[a.userId].displayname).to.equal("Alice");
    expect(ctx.start).to.be.a("string");
    expect(re.groups.room_id[roomId].results).to.deep.equal([hit]);
    expect(re.groups.sender[a.userId].results).to.deep.equal([hit]);
    expect(re.state[roomId].some((e: any) => e.type === "m.room.create")).to.equal(true);
    const topics = await search(a, { search_term: "needle", keys: ["content.topic"] });
    expect(topics.body.search_categories.room_events.results[0].result.type).to.equal("m.room.topic");
  });

  it("edits change what is found; a redacted message disappears at once", async () => {
    const { a, roomId } = await twoInRoom(t.s.client());
    const original = await send(a, roomId, "meet at the harbour");
    const e = await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/edit1`, {
      msgtype: "m.text", body: "* meet at the station", "m.new_content": { msgtype: "m.text", body: "meet at the station" }, "m.relates_to": { rel_type: "m.replace", event_id: original },
    });
    expect(e.status).to.equal(200);
    expect(ids(await search(a, { search_term: "harbour", filter: { rooms: [roomId] } }))).to.deep.equal([]);
    const found = await search(a, { search_term: "station", filter: { rooms: [roomId] } });
    expect(ids(found)).to.deep.equal([original]); // the original, not the edit event
    expect(found.body.search_categories.room_events.results[0].result.unsigned["m.relations"]["m.replace"].event_id).to.equal(e.body.event_id);
    await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(original)}/red1`, {});
    expect(ids(await search(a, { search_term: "station", filter: { rooms: [roomId] } }))).to.deep.equal([]);
  });

  it("history visibility: nothing from rooms never joined, or from before joining a 'joined' room, or after leaving", async () => {
    const a = await t.s.client().register();
    const c = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await setState(a, roomId, "m.room.history_visibility", { history_visibility: "joined" });
    await send(a, roomId, "zebra before");
    expect(ids(await search(c, { search_term: "zebra" }))).to.deep.equal([]);
    await join(c, roomId);
    const during = await send(a, roomId, "zebra during");
    expect((await c.post(`/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {})).status).to.equal(200);
    await send(a, roomId, "zebra after");
    expect(ids(await search(c, { search_term: "zebra" }))).to.deep.equal([during]);
    const other = await createRoom(a);
    await send(a, other, "zebra private");
    const r = await search(c, { search_term: "zebra" });
    expect(ids(r)).to.deep.equal([during]);
    // The count is of what c may read too: no oracle for words said out of c's sight.
    expect(r.body.search_categories.room_events.count).to.equal(1);
    await send(a, roomId, "okapi after");
    const none = await search(c, { search_term: "okapi" });
    expect(none.body.search_categories.room_events).to.include({ count: 0 });
    // Banned: the same.
    const d = await t.s.client().register();
    await join(d, roomId);
    expect((await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/ban`, { user_id: d.userId })).status).to.equal(200);
    await send(a, roomId, "quokka after the ban");
    expect((await search(d, { search_term: "quokka" })).body.search_categories.room_events.count).to.equal(0);
    expect((await search(d, { search_term: "zebra" })).body.search_categories.room_events.count).to.equal(0);
  });

  it("bad requests: missing search_term, unknown keys, bad next_batch, too many terms", async () => {
    const u = await t.s.client().register();
    const r1 = await u.post("/_matrix/client/v3/search", { search_categories: { room_events: {} } });
    expect(r1.status).to.equal(400);
    expect(r1.body.errcode).to.equal("M_MISSING_PARAM");
    const r2 = await search(u, { search_term: "x", keys: ["content.nope"] });
    expect(r2.status).to.equal(400);
    const r3 = await search(u, { search_term: "x" }, "garbage");
    expect(r3.status).to.equal(400);
    expect(r3.body.errcode).to.equal("M_INVALID_PARAM");
    const r4 = await search(u, { search_term: Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ") });
    expect(r4.status).to.equal(400);
    const r5 = await u.post("/_matrix/client/v3/search", {});
    expect(r5.status).to.equal(400);
    const r6 = await u.post("/_matrix/client/v3/search", { search_categories: {} });
    expect(r6.status).to.equal(200);
    expect(r6.body.search_categories).to.deep.equal({});
  });
});
