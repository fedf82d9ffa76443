// Every stable room version (1-12): create, join, invite, send, redact, power levels, each
// checked against that version's rules (event IDs, redaction, auth rules).
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, invite, join, send, setState } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

const VERSIONS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"];

async function getEvent(c: UserClient, roomId: string, eventId: string): Promise<any> {
  const r = await c.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`);
  expect(r.status, r.text).to.equal(200);
  return r.body;
}

async function redact(c: UserClient, roomId: string, eventId: string): Promise<void> {
  const r = await c.put(`/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(eventId)}/r${Math.random()}`, { reason: "test" });
  expect(r.status, r.text).to.equal(200);
}

describe("room versions", () => {
  const t = useServer();

  it("/capabilities lists versions 1 to 12 as stable, 10 the default", async () => {
    const a = await t.s.client().register();
    const r = await a.get("/_matrix/client/v3/capabilities");
    const rv = r.body.capabilities["m.room_versions"];
    expect(rv.default).to.equal("10");
    for (const v of VERSIONS) expect(rv.available[v]).to.equal("stable");
  });

  for (const v of VERSIONS) {
    it(`version ${v}: create, join, invite, send, redact and power levels follow its rules`, async () => {
      const [a, b, c] = [await t.s.client().register(), await t.s.client().register(), await t.s.client().register()];
      const roomId = await createRoom(a, { room_version: v, preset: "public_chat", name: `v${v}` });
      // Room IDs: the create event's hash from v12 on, `!opaque:server` before.
      if (v === "12") expect(roomId).to.match(/^![A-Za-z0-9_-]{43}$/);
      else expect(roomId).to.match(/^![A-Za-z]+:/);
      const state = (await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state`)).body as any[];
      const create = state.find((e) => e.type === "m.room.create");
      expect(create.content.room_version).to.equal(v);
      if (Number(v) <= 10) expect(create.content.creator).to.equal(a.userId);
      else expect(create.content).not.to.have.property("creator");
      const pl = state.find((e) => e.type === "m.room.power_levels");
      // v12: the creator stands above every level and is not listed.
      if (v === "12") expect(pl.content.users).not.to.have.property(a.userId);
      else expect(pl.content.users[a.userId]).to.equal(100);

      await join(b, roomId);
      await invite(a, roomId, c.userId);
      await join(c, roomId);
      const msg = await send(b, roomId, "hello");
      // Event IDs: `$random:server` (v1-2), standard base64 of the reference hash (v3), URL-safe (v4+).
      if (v === "1" || v === "2") expect(msg).to.match(/^\$[A-Za-z0-9_-]{18}:/);
      else if (v === "3") expect(msg).to.match(/^\$[A-Za-z0-9+/]{43}$/);
      else expect(msg).to.match(/^\$[A-Za-z0-9_-]{43}$/);
      expect((await getEvent(c, roomId, msg)).content.body).to.equal("hello");

      // Redaction: a message keeps nothing; join rules keep `allow` from v8 on.
      await redact(b, roomId, msg);
      expect((await getEvent(c, roomId, msg)).content).to.deep.equal({});
      const jr = (await setState(a, roomId, "m.room.join_rules", { join_rule: "public", allow: [], note: "x" })).body.event_id;
      await redact(a, roomId, jr);
      const redactedJr = (await getEvent(a, roomId, jr)).content;
      expect(redactedJr).to.deep.equal(Number(v) >= 8 ? { join_rule: "public", allow: [] } : { join_rule: "public" });

      // Power levels: b (0) may not change them; a raises b to 50; b may then kick c, not a.
      const plNow = (await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.power_levels/`)).body;
      expect((await setState(b, roomId, "m.room.power_levels", { ...plNow, users: { ...plNow.users, [b.userId]: 100 } })).status).to.equal(403);
      expect((await setState(a, roomId, "m.room.power_levels", { ...plNow, users: { ...plNow.users, [b.userId]: 50 } })).status).to.equal(200);
      expect((await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/kick`, { user_id: a.userId })).status).to.equal(403);
      expect((await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/kick`, { user_id: c.userId })).status).to.equal(200);
      // Power levels written as strings: allowed before v10 (parsed as integers), refused after.
      const asString = await setState(a, roomId, "m.room.power_levels", { ...plNow, users: { ...plNow.users, [b.userId]: "50" } });
      expect(asString.status, asString.text).to.equal(Number(v) >= 10 ? 403 : 200);
    });
  }

  it("knocking exists from v7 on; restricted joins from v8 on", async () => {
    const [a, b] = [await t.s.client().register(), await t.s.client().register()];
    for (const [v, ok] of [["6", false], ["7", true]] as const) {
      const roomId = await createRoom(a, { room_version: v });
      expect((await setState(a, roomId, "m.room.join_rules", { join_rule: "knock" })).status).to.equal(200);
      const k = await b.post(`/_matrix/client/v3/knock/${enc(roomId)}`, {});
      expect(k.status, `v${v}: ${k.text}`).to.equal(ok ? 200 : 403);
    }
    const outsider = await t.s.client().register();
    for (const [v, ok] of [["7", false], ["8", true], ["10", true]] as const) {
      const space = await createRoom(a, { preset: "public_chat" });
      await join(b, space);
      const roomId = await createRoom(a, { room_version: v });
      await setState(a, roomId, "m.room.join_rules", { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] });
      // v7 knows no restricted rule: nobody uninvited joins. From v8 on, members of the space do.
      const j = await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/join`, {});
      expect(j.status, `v${v}: ${j.text}`).to.equal(ok ? 200 : 403);
      if (ok) {
        const m = (await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.member/${enc(b.userId)}`)).body;
        expect(m.join_authorised_via_users_server).to.equal(a.userId);
      }
      // Someone outside the space cannot join, even naming an authoriser themselves.
      const o = await outsider.post(`/_matrix/client/v3/rooms/${enc(roomId)}/join`, { join_authorised_via_users_server: a.userId });
      expect(o.status, `v${v}: ${o.text}`).to.equal(403);
    }
  });

  it("v12: additional creators are creators, above every level, and cannot be given one", async () => {
    const [a, b, c] = [await t.s.client().register(), await t.s.client().register(), await t.s.client().register()];
    const roomId = await createRoom(a, { room_version: "12", preset: "public_chat", creation_content: { additional_creators: [b.userId] } });
    await join(b, roomId);
    await join(c, roomId);
    const pl = (await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.power_levels/`)).body;
    // A creator cannot be listed in users, nor kicked by the other creator.
    expect((await setState(a, roomId, "m.room.power_levels", { ...pl, users: { ...pl.users, [b.userId]: 50 } })).status).to.equal(403);
    expect((await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/kick`, { user_id: b.userId })).status).to.equal(403);
    // b, with no level listed, does what only 100 may.
    expect((await setState(b, roomId, "m.room.power_levels", { ...pl, users: { ...pl.users, [c.userId]: 100 } })).status).to.equal(200);
    expect((await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/kick`, { user_id: c.userId, reason: "x" })).status).to.equal(200);
    // The create event's ID is the room ID's hash; it is not in a later event's auth events.
    const state = (await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state`)).body as any[];
    expect(state.find((e) => e.type === "m.room.create").event_id).to.equal(`$${roomId.slice(1)}`);
  });

  it("an unknown version is 400 M_UNSUPPORTED_ROOM_VERSION", async () => {
    const a = await t.s.client().register();
    const r = await a.post("/_matrix/client/v3/createRoom", { room_version: "13" });
    expect(r.status).to.equal(400);
    expect(r.body.errcode).to.equal("M_UNSUPPORTED_ROOM_VERSION");
  });
});
