// The rooms admin API (Synapse's paths and shapes): list, search, details, members, state,
// block, delete (v1 and v2 with its status; users moved into a new room, aliases moved, purge),
// make a user a room admin, and event reports; non-admins get 403 on every path.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { registerAdmin } from "../helpers/admin.js";
import { createRoom, enc, join, send } from "../helpers/rooms.js";
import { waitFor } from "../helpers/wait.js";

const A = "/_synapse/admin";

describe("admin API: rooms and reports", () => {
  const t = useServer();

  it("refuses non-admins on every path", async () => {
    const plain = await t.s.client().register();
    const roomId = enc(await createRoom(plain));
    const paths: [string, string][] = [
      ["GET", `${A}/v1/rooms`], ["GET", `${A}/v1/rooms/${roomId}`], ["GET", `${A}/v1/rooms/${roomId}/members`], ["GET", `${A}/v1/rooms/${roomId}/state`],
      ["GET", `${A}/v1/rooms/${roomId}/block`], ["PUT", `${A}/v1/rooms/${roomId}/block`], ["DELETE", `${A}/v1/rooms/${roomId}`], ["DELETE", `${A}/v2/rooms/${roomId}`],
      ["GET", `${A}/v2/rooms/${roomId}/delete_status`], ["GET", `${A}/v2/rooms/delete_status/x`], ["POST", `${A}/v1/rooms/${roomId}/make_room_admin`],
      ["GET", `${A}/v1/event_reports`], ["GET", `${A}/v1/event_reports/1`], ["DELETE", `${A}/v1/event_reports/1`],
      ["POST", `${A}/v1/purge_history/${roomId}`], ["POST", `${A}/v1/purge_history/${roomId}/x`], ["GET", `${A}/v1/purge_history_status/x`],
    ];
    for (const [m, p] of paths) {
      const r = await plain.req(m, p, m === "GET" ? {} : { body: {} });
      expect(r.status, `${m} ${p}`).to.equal(403);
      expect(r.body.errcode).to.equal("M_FORBIDDEN");
    }
  });

  it("lists, searches and pages rooms; details, members, state", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const bob = await t.s.client().register();
    const big = await createRoom(alice, { name: "Listed Big Room", preset: "public_chat", room_alias_name: "listedbig", visibility: "public" });
    await join(bob, big);
    const small = await createRoom(alice, { name: "Listed Small Room", initial_state: [{ type: "m.room.encryption", content: { algorithm: "m.megolm.v1.aes-sha2" } }] });
    const r = await admin.get(`${A}/v1/rooms?search_term=Listed&order_by=joined_members`);
    expect(r.status).to.equal(200);
    expect(r.body.total_rooms).to.equal(2);
    expect(r.body.rooms.map((x: { room_id: string }) => x.room_id)).to.deep.equal([big, small]);
    const first = r.body.rooms[0];
    expect(first).to.include({ name: "Listed Big Room", canonical_alias: "#listedbig:localhost", joined_members: 2, joined_local_members: 2, public: true, join_rules: "public", creator: alice.userId, federatable: true, room_type: null });
    expect(r.body.rooms[1]).to.include({ encryption: "m.megolm.v1.aes-sha2", joined_members: 1, public: false, join_rules: "invite" });
    const page = await admin.get(`${A}/v1/rooms?search_term=Listed&order_by=name&limit=1`);
    expect(page.body.rooms[0].room_id).to.equal(big);
    expect(page.body.next_batch).to.equal(1);
    const page2 = await admin.get(`${A}/v1/rooms?search_term=Listed&order_by=name&limit=1&from=1`);
    expect(page2.body.rooms[0].room_id).to.equal(small);
    expect(page2.body.next_batch).to.equal(undefined);
    expect(page2.body.prev_batch).to.equal(0);
    expect((await admin.get(`${A}/v1/rooms?search_term=listedbig`)).body.total_rooms).to.equal(1);
    expect((await admin.get(`${A}/v1/rooms?search_term=Listed&public_rooms=true`)).body.total_rooms).to.equal(1);
    expect((await admin.get(`${A}/v1/rooms?order_by=bogus`)).status).to.equal(400);

    const details = await admin.get(`${A}/v1/rooms/${enc(big)}`);
    expect(details.body).to.include({ room_id: big, name: "Listed Big Room", joined_local_devices: 2, forgotten: false, version: "10" });
    expect((await admin.get(`${A}/v1/rooms/${enc("!nope:localhost")}`)).status).to.equal(404);
    expect((await admin.get(`${A}/v1/rooms/${enc(big)}/members`)).body).to.deep.equal({ members: [alice.userId, bob.userId].sort(), total: 2 });
    const state = await admin.get(`${A}/v1/rooms/${enc(big)}/state`);
    expect(state.body.state.some((e: { type: string }) => e.type === "m.room.create")).to.equal(true);
    const creates = await admin.get(`${A}/v1/rooms/${enc(big)}/state?type=m.room.create`);
    expect(creates.body.state).to.have.length(1);
  });

  it("blocks a room: no one joins it until unblocked", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const bob = await t.s.client().register();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    expect((await admin.put(`${A}/v1/rooms/${enc(roomId)}/block`, { block: true })).body).to.deep.equal({ block: true });
    expect((await admin.get(`${A}/v1/rooms/${enc(roomId)}/block`)).body).to.deep.equal({ block: true, user_id: admin.userId });
    const refused = await bob.post(`/_matrix/client/v3/join/${enc(roomId)}`, {});
    expect(refused.status).to.equal(403);
    expect(refused.body.errcode).to.equal("M_FORBIDDEN");
    await admin.put(`${A}/v1/rooms/${enc(roomId)}/block`, { block: false });
    expect((await admin.get(`${A}/v1/rooms/${enc(roomId)}/block`)).body).to.deep.equal({ block: false });
    expect((await bob.post(`/_matrix/client/v3/join/${enc(roomId)}`, {})).status).to.equal(200);
  });

  it("deletes a room in the background: members moved to a new room with the aliases, blocked, purged; their syncs stay healthy", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const bob = await t.s.client().register();
    const roomId = await createRoom(alice, { preset: "public_chat", room_alias_name: "doomed" });
    await join(bob, roomId);
    await send(alice, roomId, "bad content");
    const before = (await bob.get("/_matrix/client/v3/sync?timeout=0")).body.next_batch;
    const del = await admin.del(`${A}/v2/rooms/${enc(roomId)}`, { new_room_user_id: "@moderator:localhost", message: "Closed.", block: true });
    expect(del.status).to.equal(200);
    expect(del.body.delete_id).to.be.a("string");
    let status: { status: string; shutdown_room: { kicked_users: string[]; new_room_id: string; local_aliases: string[] } } | undefined;
    await waitFor(async () => {
      status = (await admin.get(`${A}/v2/rooms/delete_status/${del.body.delete_id}`)).body;
      return status?.status === "complete" || status?.status === "failed";
    }, 15_000, "the deletion finished");
    expect(status!.status).to.equal("complete");
    expect(status!.shutdown_room.kicked_users.sort()).to.deep.equal([alice.userId, bob.userId].sort());
    expect(status!.shutdown_room.local_aliases).to.deep.equal(["#doomed:localhost"]);
    const newRoom = status!.shutdown_room.new_room_id;
    expect(newRoom).to.match(/^!/);
    const byRoom = await admin.get(`${A}/v2/rooms/${enc(roomId)}/delete_status`);
    expect(byRoom.body.results[0].delete_id).to.equal(del.body.delete_id);

    // Bob is in the new room, which says why; the alias now leads there; the old room is gone.
    expect((await bob.get("/_matrix/client/v3/joined_rooms")).body.joined_rooms).to.deep.equal([newRoom]);
    const msgs = await bob.get(`/_matrix/client/v3/rooms/${enc(newRoom)}/messages?dir=b&limit=10`);
    expect(msgs.body.chunk.some((e: { content: { body?: string } }) => e.content.body === "Closed.")).to.equal(true);
    expect((await bob.get(`/_matrix/client/v3/directory/room/${enc("#doomed:localhost")}`)).body.room_id).to.equal(newRoom);
    expect((await admin.get(`${A}/v1/rooms/${enc(roomId)}`)).status).to.equal(404);
    expect((await bob.post(`/_matrix/client/v3/join/${enc(roomId)}`, {})).status).to.equal(403);
    const sent = await bob.put(`/_matrix/client/v3/rooms/${enc(newRoom)}/send/m.room.message/t1`, { msgtype: "m.text", body: "can I talk?" });
    expect(sent.status, "users_default -10: the moved users cannot speak").to.equal(403);

    // Nothing the old room's users ask about it fails with a 500.
    for (const path of [
      `/_matrix/client/v3/sync?since=${enc(before)}&timeout=0`, "/_matrix/client/v3/sync?timeout=0",
      `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b`, `/_matrix/client/v3/rooms/${enc(roomId)}/state`,
      `/_matrix/client/v3/rooms/${enc(roomId)}/members`, `/_matrix/client/v1/room_summary/${enc(roomId)}`,
    ]) {
      const r = await bob.get(path);
      expect(r.status, `${path}: ${r.text}`).to.be.lessThan(500);
    }
    const ss = await bob.post("/_matrix/client/unstable/org.matrix.simplified_msc3575/sync?timeout=0", { lists: { all: { ranges: [[0, 10]], timeline_limit: 5 } } });
    expect(ss.status, ss.text).to.equal(200);
  });

  it("v1 deletes at once; without purge the room stays, empty", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const roomId = await createRoom(alice);
    const r = await admin.del(`${A}/v1/rooms/${enc(roomId)}`, { purge: false });
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ kicked_users: [alice.userId], failed_to_kick_users: [], local_aliases: [], new_room_id: null });
    const details = await admin.get(`${A}/v1/rooms/${enc(roomId)}`);
    expect(details.body.joined_members).to.equal(0);
    expect((await admin.del(`${A}/v1/rooms/${enc("!unknown:localhost")}`, {})).status).to.equal(400);
    // Blocking an unknown room ahead of time is allowed.
    expect((await admin.del(`${A}/v1/rooms/${enc("!unknown:localhost")}`, { block: true })).status).to.equal(200);
    expect((await admin.get(`${A}/v1/rooms/${enc("!unknown:localhost")}/block`)).body.block).to.equal(true);
  });

  it("makes a user a room admin", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const bob = await t.s.client().register();
    const roomId = await createRoom(alice);
    expect((await admin.post(`${A}/v1/rooms/${enc(roomId)}/make_room_admin`, { user_id: bob.userId })).status).to.equal(200);
    const pl = await alice.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.power_levels/`);
    expect(pl.body.users[bob.userId]).to.equal(100);
    // Not public: bob was invited too.
    const m = await alice.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`);
    expect(m.body.membership).to.equal("invite");
    const empty = await createRoom(alice);
    await alice.post(`/_matrix/client/v3/rooms/${enc(empty)}/leave`, {});
    expect((await admin.post(`${A}/v1/rooms/${enc(empty)}/make_room_admin`, {})).status).to.equal(400);
  });

  it("event reports: list, details with the event, delete", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const bob = await t.s.client().register();
    const roomId = await createRoom(alice, { name: "Reported room", preset: "public_chat" });
    await join(bob, roomId);
    const ev = await send(alice, roomId, "offensive");
    expect((await bob.post(`/_matrix/client/v3/rooms/${enc(roomId)}/report/${enc(ev)}`, { reason: "rude", score: -100 })).status).to.equal(200);
    const list = await admin.get(`${A}/v1/event_reports?room_id=${enc(roomId)}`);
    expect(list.body.total).to.equal(1);
    const rep = list.body.event_reports[0];
    expect(rep).to.include({ room_id: roomId, event_id: ev, user_id: bob.userId, reason: "rude", score: -100, sender: alice.userId, name: "Reported room" });
    const one = await admin.get(`${A}/v1/event_reports/${rep.id}`);
    expect(one.body.event_json.content.body).to.equal("offensive");
    expect((await admin.get(`${A}/v1/event_reports/999999`)).status).to.equal(404);
    expect((await admin.get(`${A}/v1/event_reports/abc`)).status).to.equal(400);
    expect((await admin.del(`${A}/v1/event_reports/${rep.id}`)).status).to.equal(200);
    expect((await admin.get(`${A}/v1/event_reports?room_id=${enc(roomId)}`)).body.total).to.equal(0);
  });

  it("purges history before an event: messages go, state and the latest event stay; local events only when asked", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const roomId = await createRoom(alice, { name: "History" });
    const old1 = await send(alice, roomId, "old one");
    await send(alice, roomId, "old two");
    const cut = await send(alice, roomId, "cut here");
    await send(alice, roomId, "new one");
    const kept = await admin.post(`${A}/v1/purge_history/${enc(roomId)}/${enc(cut)}`, {});
    expect(kept.body.purge_id).to.be.a("string");
    await waitFor(async () => (await admin.get(`${A}/v1/purge_history_status/${kept.body.purge_id}`)).body.status === "complete", 10_000, "purge done");
    // Without delete_local_events, this server's users' events stay (all of them, here).
    expect((await alice.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(old1)}`)).status).to.equal(200);
    const r = await admin.post(`${A}/v1/purge_history/${enc(roomId)}`, { purge_up_to_event_id: cut, delete_local_events: true });
    await waitFor(async () => (await admin.get(`${A}/v1/purge_history_status/${r.body.purge_id}`)).body.status === "complete", 10_000, "purge done");
    expect((await alice.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(old1)}`)).status).to.equal(404);
    const msgs = await alice.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=50`);
    const bodies = msgs.body.chunk.filter((e: { type: string }) => e.type === "m.room.message").map((e: { content: { body: string } }) => e.content.body);
    expect(bodies).to.deep.equal(["new one", "cut here"]);
    expect(msgs.body.chunk.some((e: { type: string }) => e.type === "m.room.name")).to.equal(true);
    expect((await alice.get("/_matrix/client/v3/sync?timeout=0")).status).to.equal(200);
    expect((await admin.post(`${A}/v1/purge_history/${enc(roomId)}`, {})).status).to.equal(400);
    expect((await admin.get(`${A}/v1/purge_history_status/nope`)).status).to.equal(404);
  });
});
