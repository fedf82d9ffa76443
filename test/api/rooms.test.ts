// create_room.yaml, room_state.yaml, room_send.yaml, rooms.yaml
import { expect } from "chai";
import { startTestServer, useServer } from "../helpers/server.js";
import { createRoom, enc, invite, join, send, setState, twoInRoom } from "../helpers/rooms.js";

describe("rooms", () => {
  const t = useServer();

  describe("POST /createRoom", () => {
    it("creates the events in the spec's order with the preset's state", async () => {
      const a = await t.s.client().register();
      const b = await t.s.client().register();
      const roomId = await createRoom(a, { name: "Ops", topic: "Deploys", invite: [b.userId], preset: "private_chat" });
      expect(roomId).to.match(/^![A-Za-z]+:localhost$/);
      const st = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state`);
      expect(st.status).to.equal(200);
      const byType = (type: string, key = "") => st.body.find((e: any) => e.type === type && e.state_key === key);
      expect(byType("m.room.create").content.room_version).to.equal("10");
      expect(byType("m.room.create").content.creator).to.equal(a.userId);
      expect(byType("m.room.member", a.userId).content.membership).to.equal("join");
      expect(byType("m.room.power_levels").content.users[a.userId]).to.equal(100);
      expect(byType("m.room.join_rules").content.join_rule).to.equal("invite");
      expect(byType("m.room.history_visibility").content.history_visibility).to.equal("shared");
      expect(byType("m.room.guest_access").content.guest_access).to.equal("can_join");
      expect(byType("m.room.name").content.name).to.equal("Ops");
      expect(byType("m.room.topic").content.topic).to.equal("Deploys");
      expect(byType("m.room.member", b.userId).content.membership).to.equal("invite");
      // Order: create, creator join, power levels, then the rest (check through /messages, oldest first).
      const msgs = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=f&limit=20&from=s0`);
      const types = msgs.body.chunk.map((e: any) => e.type);
      expect(types.slice(0, 3)).to.deep.equal(["m.room.create", "m.room.member", "m.room.power_levels"]);
      expect(types[types.length - 1]).to.equal("m.room.member");
    });

    it("public_chat: a public join rule; trusted_private_chat: invitees get the creator's level", async () => {
      const a = await t.s.client().register();
      const b = await t.s.client().register();
      const pub = await createRoom(a, { preset: "public_chat" });
      expect((await a.get(`/_matrix/client/v3/rooms/${enc(pub)}/state/m.room.join_rules`)).body.join_rule).to.equal("public");
      const trusted = await createRoom(a, { preset: "trusted_private_chat", invite: [b.userId] });
      expect((await a.get(`/_matrix/client/v3/rooms/${enc(trusted)}/state/m.room.power_levels`)).body.users[b.userId]).to.equal(100);
    });

    it("the default room version comes from the config", async () => {
      const s11 = await startTestServer({ rooms: { default_version: "11" } });
      try {
        const a = await s11.client().register();
        const roomId = await createRoom(a);
        expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.create`)).body.room_version).to.equal("11");
        expect((await a.get("/_matrix/client/v3/capabilities")).body.capabilities["m.room_versions"].default).to.equal("11");
      } finally {
        await s11.hs.close();
      }
    });

    it("room version 11 omits creator; an unknown version is M_UNSUPPORTED_ROOM_VERSION", async () => {
      const a = await t.s.client().register();
      const v11 = await createRoom(a, { room_version: "11" });
      const create = (await a.get(`/_matrix/client/v3/rooms/${enc(v11)}/state/m.room.create`)).body;
      expect(create.room_version).to.equal("11");
      expect(create).to.not.have.property("creator");
      const bad = await a.post("/_matrix/client/v3/createRoom", { room_version: "99" });
      expect(bad.status).to.equal(400);
      expect(bad.body.errcode).to.equal("M_UNSUPPORTED_ROOM_VERSION");
    });

    it("room_alias_name makes an alias and canonical alias; a taken one is M_ROOM_IN_USE", async () => {
      const a = await t.s.client().register();
      const r = await a.post("/_matrix/client/v3/createRoom", { room_alias_name: "lounge" });
      expect(r.status).to.equal(200);
      const res = await t.s.client().get(`/_matrix/client/v3/directory/room/${enc("#lounge:localhost")}`);
      expect(res.body.room_id).to.equal(r.body.room_id);
      const canon = await a.get(`/_matrix/client/v3/rooms/${enc(r.body.room_id)}/state/m.room.canonical_alias`);
      expect(canon.body.alias).to.equal("#lounge:localhost");
      const again = await a.post("/_matrix/client/v3/createRoom", { room_alias_name: "lounge" });
      expect(again.status).to.equal(400);
      expect(again.body.errcode).to.equal("M_ROOM_IN_USE");
    });

    it("initial_state overrides the preset and power_level_content_override is applied", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a, {
        preset: "private_chat",
        initial_state: [{ type: "m.room.history_visibility", content: { history_visibility: "joined" } }, { type: "org.example.custom", state_key: "k", content: { x: 1 } }],
        power_level_content_override: { events_default: 10 },
      });
      expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.history_visibility`)).body.history_visibility).to.equal("joined");
      expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/org.example.custom/k`)).body).to.deep.equal({ x: 1 });
      expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.power_levels`)).body.events_default).to.equal(10);
    });

    it("an initial state the auth rules refuse is M_INVALID_ROOM_STATE, and nothing is created", async () => {
      const a = await t.s.client().register();
      const r = await a.post("/_matrix/client/v3/createRoom", { power_level_content_override: { users: { [a.userId]: "lots" } } });
      expect(r.status).to.equal(400);
      expect(r.body.errcode).to.equal("M_INVALID_ROOM_STATE");
      expect((await a.get("/_matrix/client/v3/joined_rooms")).body.joined_rooms).to.deep.equal([]);
    });

    it("bad input: M_BAD_JSON for wrong types; inviting an unknown user is M_NOT_FOUND", async () => {
      const a = await t.s.client().register();
      const r = await a.post("/_matrix/client/v3/createRoom", { invite: "not-a-list" });
      expect(r.status).to.equal(400);
      expect(r.body.errcode).to.equal("M_BAD_JSON");
      const p = await a.post("/_matrix/client/v3/createRoom", { preset: "party" });
      expect(p.body.errcode).to.equal("M_BAD_JSON");
      const u = await a.post("/_matrix/client/v3/createRoom", { invite: ["@nobody:localhost"] });
      expect(u.status).to.equal(404);
    });
  });

  describe("state", () => {
    it("PUT and GET state, with and without a state key, format=event", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      const put = await setState(a, roomId, "m.room.name", { name: "Renamed" });
      expect(put.status).to.equal(200);
      expect(put.body.event_id).to.match(/^\$/);
      const noKey = await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic`, { topic: "T" });
      expect(noKey.status).to.equal(200);
      expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.name/`)).body).to.deep.equal({ name: "Renamed" });
      const ev = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.name?format=event`);
      expect(ev.body.event_id).to.equal(put.body.event_id);
      expect(ev.body.content).to.deep.equal({ name: "Renamed" });
      expect(ev.body.unsigned.prev_content).to.equal(undefined);
      const slash = await setState(a, roomId, "org.example.path", { v: 1 }, "a/b");
      expect(slash.status).to.equal(200);
      expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/org.example.path/${enc("a/b")}`)).body).to.deep.equal({ v: 1 });
    });

    it("an unset state key is 404 M_NOT_FOUND; a non-member gets 403", async () => {
      const a = await t.s.client().register();
      const stranger = await t.s.client().register();
      const roomId = await createRoom(a);
      const missing = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.avatar`);
      expect(missing.status).to.equal(404);
      expect(missing.body.errcode).to.equal("M_NOT_FOUND");
      const s1 = await stranger.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state`);
      expect(s1.status).to.equal(403);
      expect(s1.body.errcode).to.equal("M_FORBIDDEN");
    });

    it("setting the same state again makes no new event", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      const one = await setState(a, roomId, "m.room.name", { name: "Same" });
      const two = await setState(a, roomId, "m.room.name", { name: "Same" });
      expect(two.body.event_id).to.equal(one.body.event_id);
    });

    it("m.room.canonical_alias must name aliases of this room: M_BAD_ALIAS", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      const r = await setState(a, roomId, "m.room.canonical_alias", { alias: "#nowhere:localhost" });
      expect(r.status).to.equal(400);
      expect(r.body.errcode).to.equal("M_BAD_ALIAS");
    });

    it("a state key over 255 bytes is refused", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      const r = await setState(a, roomId, "org.example", {}, "k".repeat(300));
      expect(r.status).to.equal(400);
    });
  });

  describe("sending", () => {
    it("the same txnId from the same device gives the same event, even after the room has moved on", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      const path = `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/txn-1`;
      const one = await a.put(path, { msgtype: "m.text", body: "once" });
      await send(a, roomId, "something else");
      const two = await a.put(path, { msgtype: "m.text", body: "once" });
      expect(one.status).to.equal(200);
      expect(two.body.event_id).to.equal(one.body.event_id);
      const msgs = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=50`);
      expect(msgs.body.chunk.filter((e: any) => e.content.body === "once")).to.have.length(1);
    });

    it("the same txnId from another device is another event", async () => {
      const a = await t.s.client().register();
      const other = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", user: a.userId, password: a.password });
      const roomId = await createRoom(a);
      const path = `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/same`;
      const one = await a.put(path, { msgtype: "m.text", body: "x" });
      const two = await t.s.client(other.body.access_token).put(path, { msgtype: "m.text", body: "x" });
      expect(two.body.event_id).to.not.equal(one.body.event_id);
    });

    it("concurrent retries of one txnId make one event", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      const path = `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/burst`;
      const rs = await Promise.all(Array.from({ length: 8 }, () => a.put(path, { msgtype: "m.text", body: "burst" })));
      expect(new Set(rs.map((r) => r.body.event_id)).size).to.equal(1);
    });

    it("the sending device sees unsigned.transaction_id; others do not", async () => {
      const a = await t.s.client().register();
      const b = await t.s.client().register();
      const roomId = await createRoom(a, { preset: "public_chat" });
      await join(b, roomId);
      const eventId = (await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/mine`, { msgtype: "m.text", body: "x" })).body.event_id;
      const mine = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`);
      expect(mine.body.unsigned.transaction_id).to.equal("mine");
      const theirs = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`);
      expect(theirs.body.unsigned).to.not.have.property("transaction_id");
    });

    it("in /sync too: one event text shared by every member, but the sending device's copy carries its transaction_id", async () => {
      const { a, b, roomId } = await twoInRoom(t.s.client());
      const c = await t.s.client().register();
      await join(c, roomId);
      const since = async (u: typeof a) => (await u.get("/_matrix/client/v3/sync?timeout=0")).body.next_batch as string;
      const [sa, sb, sc] = [await since(a), await since(b), await since(c)];
      await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/shared1`, { msgtype: "m.text", body: "once \u0001 \"quoted\"" });
      const timeline = async (u: typeof a, s: string) => (await u.get(`/_matrix/client/v3/sync?since=${s}&timeout=0`)).body.rooms.join[roomId].timeline.events as any[];
      const [ea, eb, ec] = [(await timeline(a, sa)).at(-1), (await timeline(b, sb)).at(-1), (await timeline(c, sc)).at(-1)];
      expect(ea.unsigned.transaction_id).to.equal("shared1");
      for (const e of [eb, ec]) {
        expect(e.unsigned).to.not.have.property("transaction_id");
        expect(e.unsigned.age).to.be.a("number").and.at.least(0);
        expect(e.content.body).to.equal("once \u0001 \"quoted\"");
      }
      const { unsigned: _u1, ...restB } = eb;
      const { unsigned: _u2, ...restC } = ec;
      expect(restB).to.deep.equal(restC);
      expect(ea.event_id).to.equal(eb.event_id);
    });

    it("limits: content over 64 KiB is 413 M_TOO_LARGE; floats are M_BAD_JSON; a long type is refused", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      const big = await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/big`, { body: "x".repeat(70000) });
      expect(big.status).to.equal(413);
      expect(big.body.errcode).to.equal("M_TOO_LARGE");
      // Just under the content limit, but the whole event (with its envelope) is over it.
      const edge = await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/edge`, { body: "x".repeat(65500) });
      expect(edge.status).to.equal(413);
      const float = await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/float`, { n: 1.5 });
      expect(float.status).to.equal(400);
      expect(float.body.errcode).to.equal("M_BAD_JSON");
      const longType = await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/${"t".repeat(300)}/lt`, {});
      expect(longType.status).to.equal(400);
      const notObject = await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/arr`, undefined, { raw: "[1]" });
      expect(notObject.status).to.equal(400);
      expect(notObject.body.errcode).to.equal("M_BAD_JSON");
    });

    it("unknown room: 404 M_NOT_FOUND; malformed room ID: 400 M_INVALID_PARAM; not a member: 403", async () => {
      const a = await t.s.client().register();
      const b = await t.s.client().register();
      const unknown = await a.put(`/_matrix/client/v3/rooms/${enc("!nope:localhost")}/send/m.room.message/1`, { body: "x" });
      expect(unknown.status).to.equal(404);
      expect(unknown.body.errcode).to.equal("M_NOT_FOUND");
      const bad = await a.put(`/_matrix/client/v3/rooms/not-a-room/send/m.room.message/1`, { body: "x" });
      expect(bad.status).to.equal(400);
      expect(bad.body.errcode).to.equal("M_INVALID_PARAM");
      const roomId = await createRoom(a);
      const outsider = await b.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/1`, { body: "x" });
      expect(outsider.status).to.equal(403);
      expect(outsider.body.errcode).to.equal("M_FORBIDDEN");
    });

    it("GET /event returns the event; an unknown one is 404", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      const id = await send(a, roomId, "hello");
      const r = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(id)}`);
      expect(r.status).to.equal(200);
      expect(r.body).to.include({ event_id: id, type: "m.room.message", sender: a.userId, room_id: roomId });
      expect(r.body.content.body).to.equal("hello");
      expect(r.body.unsigned.age).to.be.a("number");
      const missing = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc("$nope")}`);
      expect(missing.status).to.equal(404);
    });

    it("event IDs are the reference hash (43 URL-safe base64 characters)", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      const id = await send(a, roomId, "hash me");
      expect(id).to.match(/^\$[A-Za-z0-9_-]{43}$/);
    });
  });

  describe("members", () => {
    it("/members, membership filters, /joined_members, /joined_rooms", async () => {
      const a = await t.s.client().register();
      const b = await t.s.client().register();
      const c = await t.s.client().register();
      const roomId = await createRoom(a, { invite: [b.userId, c.userId] });
      await join(b, roomId);
      const all = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/members`);
      expect(all.body.chunk.map((e: any) => e.state_key).sort()).to.deep.equal([a.userId, b.userId, c.userId].sort());
      const joined = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/members?membership=join`);
      expect(joined.body.chunk.map((e: any) => e.state_key).sort()).to.deep.equal([a.userId, b.userId].sort());
      const notJoined = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/members?not_membership=join`);
      expect(notJoined.body.chunk.map((e: any) => e.state_key)).to.deep.equal([c.userId]);
      const jm = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`);
      expect(Object.keys(jm.body.joined).sort()).to.deep.equal([a.userId, b.userId].sort());
      expect(jm.body.joined[b.userId].display_name).to.equal(b.userId.slice(1, b.userId.indexOf(":")));
      expect(jm.body.joined[b.userId]).to.have.property("avatar_url", null); // unset: null, the key still there
      expect((await b.get("/_matrix/client/v3/joined_rooms")).body.joined_rooms).to.deep.equal([roomId]);
      const bad = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/members?membership=dancing`);
      expect(bad.status).to.equal(400);
    });

    it("a display name change updates the member event in joined rooms", async () => {
      const a = await t.s.client().register();
      const roomId = await createRoom(a);
      await a.put(`/_matrix/client/v3/profile/${enc(a.userId)}/displayname`, { displayname: "New Name" });
      const m = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.member/${enc(a.userId)}`);
      expect(m.body.displayname).to.equal("New Name");
      expect(m.body.membership).to.equal("join");
    });
  });

  it("timestamp_to_event finds the closest event in either direction", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a);
    const e1 = await send(a, roomId, "one");
    await new Promise((r) => setTimeout(r, 20));
    const mid = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    const e2 = await send(a, roomId, "two");
    const f = await a.get(`/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=${mid}&dir=f`);
    expect(f.body.event_id).to.equal(e2);
    const b = await a.get(`/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=${mid}&dir=b`);
    expect(b.body.event_id).to.equal(e1);
    const none = await a.get(`/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=${Date.now() + 100000}&dir=f`);
    expect(none.status).to.equal(404);
    const bad = await a.get(`/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=abc&dir=f`);
    expect(bad.status).to.equal(400);
  });

  it("timestamp_to_event never answers with an event a former member may not see", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    expect((await setState(a, roomId, "m.room.history_visibility", { history_visibility: "joined" })).status).to.equal(200);
    await join(b, roomId);
    await send(a, roomId, "while b is here");
    const left = (await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {})).status;
    expect(left).to.equal(200);
    await new Promise((r) => setTimeout(r, 20));
    const beforeAfter = Date.now();
    const after = await send(a, roomId, "after b left");
    const seen = await b.get(`/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=${Date.now() + 1000}&dir=b`);
    expect(seen.status).to.equal(200);
    expect(seen.body.event_id).to.not.equal(after);
    const own = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(seen.body.event_id)}`);
    expect(own.status, "the answer is an event b may read").to.equal(200);
    // Forward from just before the later message: that message is the only candidate, unseen.
    expect((await a.get(`/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=${beforeAfter}&dir=f`)).body.event_id).to.equal(after);
    const later = await b.get(`/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=${beforeAfter}&dir=f`);
    expect(later.status).to.equal(404);
  });

  it("POST /rooms/{roomId}/send/{eventType} (no transaction ID) sends, checking the content as PUT does", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a, {});
    const base = `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message`;
    const r1 = await a.post(base, { msgtype: "m.text", body: "old style" });
    const r2 = await a.post(base, { msgtype: "m.text", body: "old style" });
    expect(r1.status, r1.text).to.equal(200);
    expect(r1.body.event_id).not.to.equal(r2.body.event_id); // not idempotent: two sends
    expect((await a.post(base, { n: 1.5 })).body.errcode).to.equal("M_BAD_JSON");
    const ev = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(r1.body.event_id)}`);
    expect(ev.body.content.body).to.equal("old style");
  });

  it("invite helper sanity: invite then join", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a);
    await invite(a, roomId, b.userId);
    await join(b, roomId);
    expect((await b.get("/_matrix/client/v3/joined_rooms")).body.joined_rooms).to.include(roomId);
  });
});
