// POST /rooms/{roomId}/upgrade: the new room, what it keeps, what the old room becomes.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, invite, join, send, setState } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

async function state(c: UserClient, roomId: string): Promise<any[]> {
  const r = await c.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state`);
  expect(r.status, r.text).to.equal(200);
  return r.body;
}
const find = (s: any[], type: string, key = "") => s.find((e) => e.type === type && e.state_key === key);

async function upgrade(c: UserClient, roomId: string, body: Record<string, unknown>): Promise<string> {
  const r = await c.post(`/_matrix/client/v3/rooms/${enc(roomId)}/upgrade`, body);
  expect(r.status, r.text).to.equal(200);
  expect(r.body.replacement_room).to.be.a("string");
  return r.body.replacement_room;
}

describe("room upgrades", () => {
  const t = useServer();

  it("v1 → v11: the new room keeps the state, aliases, bans, power levels and listing; the old one is tombstoned", async () => {
    const [a, b, c] = [await t.s.client().register(), await t.s.client().register(), await t.s.client().register()];
    const old = await createRoom(a, { room_version: "1", preset: "private_chat", name: "Old name", topic: "Old topic", visibility: "public" });
    await invite(a, old, b.userId);
    await join(b, old);
    const server = a.userId.split(":").slice(1).join(":");
    const [al1, al2] = [`#up1-${Date.now()}:${server}`, `#up2-${Date.now()}:${server}`];
    for (const al of [al1, al2]) expect((await a.put(`/_matrix/client/v3/directory/room/${enc(al)}`, { room_id: old })).status).to.equal(200);
    expect((await setState(a, old, "m.room.canonical_alias", { alias: al1, alt_aliases: [al2] })).status).to.equal(200);
    expect((await setState(a, old, "m.room.member", { membership: "ban" }, c.userId)).status).to.equal(200);
    const pl = find(await state(a, old), "m.room.power_levels").content;
    expect((await setState(a, old, "m.room.power_levels", { ...pl, users: { ...pl.users, [b.userId]: "42" } })).status).to.equal(200); // a string: fine in v1
    // b's settings for the room: a tag, a DM entry, a room push rule.
    await b.put(`/_matrix/client/v3/user/${enc(b.userId)}/rooms/${enc(old)}/tags/u.work`, { order: 0.5 });
    await b.put(`/_matrix/client/v3/user/${enc(b.userId)}/account_data/m.direct`, { [a.userId]: [old] });
    await b.put(`/_matrix/client/v3/pushrules/global/room/${enc(old)}`, { actions: ["dont_notify"] });
    const before = await a.get("/_matrix/client/v3/sync");

    // Only someone who may send the tombstone upgrades.
    expect((await b.post(`/_matrix/client/v3/rooms/${enc(old)}/upgrade`, { new_version: "11" })).status).to.equal(403);
    const neu = await upgrade(a, old, { new_version: "11" });

    const ns = await state(a, neu);
    const create = find(ns, "m.room.create");
    expect(create.content.room_version).to.equal("11");
    expect(create.content).not.to.have.property("creator");
    const os = await state(a, old);
    const tomb = find(os, "m.room.tombstone");
    expect(tomb.content.replacement_room).to.equal(neu);
    expect(create.content.predecessor).to.deep.equal({ room_id: old, event_id: tomb.event_id });
    expect(find(ns, "m.room.name").content.name).to.equal("Old name");
    expect(find(ns, "m.room.topic").content.topic).to.equal("Old topic");
    expect(find(ns, "m.room.join_rules").content.join_rule).to.equal("invite");
    expect(find(ns, "m.room.history_visibility").content.history_visibility).to.equal("shared");
    expect(find(ns, "m.room.member", c.userId).content.membership).to.equal("ban");
    const npl = find(ns, "m.room.power_levels").content;
    expect(npl.users[b.userId]).to.equal(42); // an integer now: v11 has no string levels
    expect(npl.users[a.userId]).to.equal(100);
    expect(find(ns, "m.room.canonical_alias").content).to.deep.equal({ alias: al1, alt_aliases: [al2] });
    expect(find(os, "m.room.canonical_alias").content).to.deep.equal({});
    for (const al of [al1, al2]) expect((await a.get(`/_matrix/client/v3/directory/room/${enc(al)}`)).body.room_id).to.equal(neu);
    expect((await a.get(`/_matrix/client/v3/directory/list/room/${enc(neu)}`)).body.visibility).to.equal("public");
    expect((await a.get(`/_matrix/client/v3/directory/list/room/${enc(old)}`)).body.visibility).to.equal("private");
    // The old room: nobody below 50 may chat or invite.
    const opl = find(os, "m.room.power_levels").content;
    expect(opl.events_default).to.equal(50);
    expect(opl.invite).to.equal(50);
    const said = await b.put(`/_matrix/client/v3/rooms/${enc(old)}/send/m.room.message/late`, { msgtype: "m.text", body: "late" });
    expect(said.status).to.equal(403);
    // The upgrader's sync: the tombstone first in the old room, the new room from its create event.
    const after = await a.get(`/_matrix/client/v3/sync?since=${enc(before.body.next_batch)}&filter=${enc(JSON.stringify({ room: { timeline: { limit: 50 } } }))}`);
    expect(after.body.rooms.join[old].timeline.events[0].type).to.equal("m.room.tombstone");
    expect(after.body.rooms.join[neu].timeline.events[0].type).to.equal("m.room.create");

    // b was invited (the room is invite-only) and keeps their settings once joined.
    expect(find(ns, "m.room.member", b.userId).content.membership).to.equal("invite");
    await join(b, neu);
    expect((await b.get(`/_matrix/client/v3/user/${enc(b.userId)}/rooms/${enc(neu)}/tags`)).body.tags).to.deep.equal({ "u.work": { order: 0.5 } });
    expect((await b.get(`/_matrix/client/v3/user/${enc(b.userId)}/account_data/m.direct`)).body[a.userId]).to.deep.equal([old, neu]);
    expect((await b.get(`/_matrix/client/v3/pushrules/global/room/${enc(neu)}`)).body.actions).to.deep.equal(["dont_notify"]);
    await send(b, neu, "hello in the new room");
  });

  it("v10 → v12 with additional creators, then v12 → v12", async () => {
    const [a, b] = [await t.s.client().register(), await t.s.client().register()];
    const alias = `ten-${Date.now()}`;
    const old = await createRoom(a, { room_version: "10", preset: "public_chat", name: "Ten", room_alias_name: alias });
    const full = (await a.get(`/_matrix/client/v3/rooms/${enc(old)}/state/m.room.canonical_alias/`)).body.alias;
    await join(b, old);
    const v12 = await upgrade(a, old, { new_version: "12", additional_creators: [b.userId] });
    expect(v12).to.match(/^![A-Za-z0-9_-]{43}$/);
    const s12 = await state(a, v12);
    const create = find(s12, "m.room.create");
    expect(create.event_id).to.equal(`$${v12.slice(1)}`);
    expect(create.content.additional_creators).to.deep.equal([b.userId]);
    expect(create.content.predecessor).to.deep.equal({ room_id: old });
    const pl = find(s12, "m.room.power_levels").content;
    expect(pl.users).not.to.have.property(a.userId);
    expect(pl.users).not.to.have.property(b.userId);
    expect(find(s12, "m.room.name").content.name).to.equal("Ten");
    // The old room had no guest access event (forbidden by default): the new one says so.
    expect(find(await state(a, old), "m.room.guest_access")).to.equal(undefined);
    expect(find(s12, "m.room.guest_access").content).to.deep.equal({ guest_access: "forbidden" });
    expect(find(await state(a, old), "m.room.tombstone").content.replacement_room).to.equal(v12);
    // b, a creator of the v12 room, upgrades it again (no level listed, above every level).
    await join(b, v12);
    const again = await upgrade(b, v12, { new_version: "12" });
    const sa = await state(b, again);
    expect(find(sa, "m.room.create").sender).to.equal(b.userId);
    expect(find(sa, "m.room.create").content).not.to.have.property("additional_creators");
    expect(find(sa, "m.room.create").content.predecessor).to.deep.equal({ room_id: v12 });
    expect(find(sa, "m.room.name").content.name).to.equal("Ten");
    // The alias followed both upgrades.
    expect(find(sa, "m.room.canonical_alias").content.alias).to.equal(full);
    expect((await a.get(`/_matrix/client/v3/directory/room/${enc(full)}`)).body.room_id).to.equal(again);
  });

  it("refuses an unknown version (400), a room that does not exist (404), a tombstone pointing at its own room (400)", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a, {});
    const bad = await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/upgrade`, { new_version: "my_bad_version" });
    expect(bad.status).to.equal(400);
    expect(bad.body.errcode).to.equal("M_UNSUPPORTED_ROOM_VERSION");
    const none = await a.post(`/_matrix/client/v3/rooms/${enc("!fail:unknown")}/upgrade`, { new_version: "10" });
    expect(none.status).to.equal(404);
    expect(none.body.errcode).to.equal("M_NOT_FOUND");
    const self = await setState(a, roomId, "m.room.tombstone", { body: "x", replacement_room: roomId });
    expect(self.status).to.equal(400);
    const missing = await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/upgrade`, {});
    expect(missing.status).to.equal(400);
    // Someone not in the room may not upgrade it; additional creators must be user IDs.
    const stranger = await t.s.client().register();
    const notIn = await stranger.post(`/_matrix/client/v3/rooms/${enc(roomId)}/upgrade`, { new_version: "11" });
    expect(notIn.status).to.equal(403);
    expect(notIn.body.errcode).to.equal("M_FORBIDDEN");
    const badCreator = await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/upgrade`, { new_version: "12", additional_creators: ["not a user id"] });
    expect(badCreator.status).to.equal(400);
    // Nothing happened to the room on the way: no tombstone.
    expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.tombstone/`)).status).to.equal(404);
  });
});
