// Simplified sliding sync (MSC4186): lists, rooms, connections, extensions, in the MSC's form
// and in the form matrix-js-sdk and matrix-rust-sdk send.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, invite, join, send, setState } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";
import { WsClient } from "../helpers/ws.js";

const SS = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";
const list = (range: [number, number], extra: Record<string, unknown> = {}) => ({ range, timeline_limit: 1, required_state: { include: [{ type: "m.room.name", state_key: "" }] }, ...extra });

async function ss(u: UserClient, body: Record<string, unknown>, query = ""): Promise<any> {
  const r = await u.post(`${SS}${query}`, body);
  expect(r.status, r.text).to.equal(200);
  return r.body;
}

describe("simplified sliding sync (MSC4186)", () => {
  const t = useServer();

  it("is advertised; a list is a window of the user's rooms, newest activity first, with its count", async () => {
    const u = await t.s.client().register();
    expect((await t.s.client().get("/_matrix/client/versions")).body.unstable_features["org.matrix.simplified_msc3575"]).to.equal(true);
    const r1 = await createRoom(u, { name: "One" });
    const r2 = await createRoom(u, { name: "Two" });
    const r3 = await createRoom(u, { name: "Three" });
    await send(u, r1, "bump one to the top");
    const res = await ss(u, { lists: { all: list([0, 1]) } });
    expect(res.pos).to.be.a("string");
    expect(res.lists.all.count).to.equal(3);
    expect(Object.keys(res.rooms).sort()).to.deep.equal([r1, r3].sort());
    const one = res.rooms[r1];
    expect(one).to.include({ initial: true, name: "One", membership: "join", joined_count: 1, invited_count: 0, num_live: 0 });
    expect(one.lists).to.deep.equal(["all"]);
    expect(one.timeline.map((e: any) => e.content.body)).to.deep.equal(["bump one to the top"]);
    expect(one.limited).to.equal(true);
    expect(one.required_state.map((e: any) => e.type)).to.deep.equal(["m.room.name"]);
    expect(one.bump_stamp).to.be.a("number");
    expect(one.bump_stamp).to.be.greaterThan(res.rooms[r3].bump_stamp);
    // prev_batch pages back with /messages.
    const back = await u.get(`/_matrix/client/v3/rooms/${enc(r1)}/messages?dir=b&limit=5&from=${enc(one.prev_batch)}`);
    expect(back.status).to.equal(200);
    expect(back.body.chunk.length).to.be.greaterThan(0);
    expect(back.body.chunk.every((e: any) => e.event_id !== one.timeline[0].event_id)).to.equal(true);
    // The pos works as a /messages token too.
    expect((await u.get(`/_matrix/client/v3/rooms/${enc(r1)}/messages?dir=b&limit=1&from=${enc(res.pos)}`)).status).to.equal(200);
    // Growing the window sends only the room not sent yet.
    const more = await ss(u, { lists: { all: list([0, 2]) }, pos: res.pos });
    expect(Object.keys(more.rooms)).to.deep.equal([r2]);
    expect(more.rooms[r2].initial).to.equal(true);
  });

  it("later responses carry only what changed; a long-poll wakes for a message with num_live", async () => {
    const [a, b] = [await t.s.client().register(), await t.s.client().register()];
    const roomId = await createRoom(a, { name: "Chat", preset: "public_chat" });
    await join(b, roomId);
    const first = await ss(a, { lists: { all: list([0, 9]) } });
    expect(first.rooms[roomId].joined_count).to.equal(2);
    const nothing = await ss(a, { lists: { all: list([0, 9]) }, pos: first.pos, timeout: 0 });
    expect(nothing.rooms).to.deep.equal({});
    const waiting = ss(a, { lists: { all: list([0, 9]) }, pos: nothing.pos, timeout: 10000 });
    await new Promise((r) => setTimeout(r, 200));
    await send(b, roomId, "hello");
    const woke = await waiting;
    const room = woke.rooms[roomId];
    expect(room.timeline.map((e: any) => e.content.body)).to.deep.equal(["hello"]);
    expect(room.num_live).to.equal(1);
    expect(room).to.not.have.property("initial");
    expect(room).to.not.have.property("name");
    expect(room.required_state).to.deep.equal([]);
    // A rename: the new name and the state event.
    await setState(a, roomId, "m.room.name", { name: "Renamed" });
    const renamed = await ss(a, { lists: { all: list([0, 9]) }, pos: woke.pos, timeout: 5000 });
    expect(renamed.rooms[roomId].name).to.equal("Renamed");
    expect(renamed.rooms[roomId].required_state.map((e: any) => e.content.name)).to.deep.equal(["Renamed"]);
  });

  it("a pos from another user or device, or one never given, is 400 M_UNKNOWN_POS; the same pos may be retried", async () => {
    const [a, b] = [await t.s.client().register(), await t.s.client().register()];
    await createRoom(a);
    const res = await ss(a, { lists: { all: list([0, 9]) } });
    for (const [who, pos] of [[b, res.pos], [a, "s1_0_0_1_1"], [a, "garbage"]] as const) {
      const r = await who.post(SS, { lists: { all: list([0, 9]) }, pos });
      expect(r.status, String(pos)).to.equal(400);
      expect(r.body.errcode).to.equal("M_UNKNOWN_POS");
    }
    const again1 = await ss(a, { lists: { all: list([0, 9]) }, pos: res.pos, txn_id: "retry-1" });
    expect(again1.txn_id).to.equal("retry-1"); // echoed (matrix-rust-sdk matches responses to requests by it)
    const again2 = await ss(a, { lists: { all: list([0, 9]) }, pos: res.pos });
    expect(again1.rooms).to.deep.equal({});
    expect(again2.rooms).to.deep.equal({});
    // Another conn_id is another connection.
    const other = await ss(a, { conn_id: "second", lists: { all: list([0, 9]) } });
    expect(Object.keys(other.rooms)).to.have.length(1);
    expect((await a.post(SS, { conn_id: "second", lists: { all: list([0, 9]) }, pos: res.pos })).body.errcode).to.equal("M_UNKNOWN_POS");
  });

  it("bad requests are 400 with the spec's codes", async () => {
    const u = await t.s.client().register();
    const lists: Record<string, unknown> = {};
    for (let i = 0; i < 101; i++) lists[`l${i}`] = list([0, 1]);
    expect((await u.post(SS, { lists })).body.errcode).to.equal("M_INVALID_PARAM");
    expect((await u.post(SS, { lists: { a: list([5, 1]) } })).body.errcode).to.equal("M_INVALID_PARAM");
    expect((await u.post(SS, { lists: { a: { range: [0, 1] } } })).body.errcode).to.equal("M_MISSING_PARAM");
    expect((await u.post(SS, { lists: { a: list([0, 1]) }, set_presence: "dancing" })).body.errcode).to.equal("M_INVALID_PARAM");
    expect((await u.post(SS, { room_subscriptions: { "not-a-room": { timeline_limit: 1 } } })).status).to.equal(400);
    expect((await u.post(SS, { lists: "x" })).body.errcode).to.equal("M_BAD_JSON");
    const subs: Record<string, unknown> = {};
    for (let i = 0; i < 101; i++) subs[`!r${i}:localhost`] = { timeline_limit: 1 };
    expect((await u.post(SS, { room_subscriptions: subs })).body.errcode).to.equal("M_INVALID_PARAM");
    expect((await u.post(SS, { lists: { "no spaces please": list([0, 1]) } })).body.errcode).to.equal("M_INVALID_PARAM");
    expect((await u.post(SS, { extensions: { e2ee: { enabled: "yes" } } })).body.errcode).to.equal("M_INVALID_PARAM");
    expect((await u.post(SS, { extensions: { typing: { enabled: true, lists: [1] } } })).body.errcode).to.equal("M_INVALID_PARAM");
    expect((await u.post(SS, { extensions: { to_device: { enabled: true, since: "not-a-token" } } })).body.errcode).to.equal("M_INVALID_PARAM");
    const many: Record<string, unknown> = {};
    for (let i = 0; i < 11; i++) many[`l${i}`] = { range: [0, 1], timeline_limit: 1, required_state: Array.from({ length: 100 }, (_, k) => ["t", `k${k}`]) };
    expect((await u.post(SS, { lists: many })).body.errcode).to.equal("M_INVALID_PARAM"); // 1,100 required_state entries
    // A timeline_limit above the cap is cut to it, not refused.
    expect((await u.post(SS, { lists: { a: { range: [0, 1], timeline_limit: 100000 } } })).status).to.equal(200);
    expect((await t.s.client().post(SS, {})).status).to.equal(401);
  });

  it("connections are bounded per user: the 21st forgets the least recently used", async () => {
    const u = await t.s.client().register();
    const first = await ss(u, { conn_id: "c0" });
    for (let i = 1; i <= 20; i++) await ss(u, { conn_id: `c${i}` });
    const gone = await u.post(SS, { conn_id: "c0", pos: first.pos });
    expect([gone.status, gone.body.errcode]).to.deep.equal([400, "M_UNKNOWN_POS"]);
  });

  it("Synapse's form (ranges, [type, state_key] pairs, $LAZY, is_invite): invites as invite_state, lazy members", async () => {
    const [a, b, c] = [await t.s.client().register(), await t.s.client().register(), await t.s.client().register()];
    const roomId = await createRoom(a, { name: "Lazy", preset: "public_chat" });
    await join(b, roomId);
    await join(c, roomId);
    await send(b, roomId, "from b");
    const invited = await createRoom(c, { name: "Invite me" });
    await invite(c, invited, a.userId);
    const body = {
      lists: {
        rooms: { ranges: [[0, 9]], timeline_limit: 1, required_state: [["m.room.create", ""], ["m.room.member", "$LAZY"]], filters: { is_invite: false } },
        invites: { ranges: [[0, 9]], timeline_limit: 0, required_state: [], filters: { is_invite: true } },
      },
    };
    const res = await ss(a, body, "?timeout=0");
    expect(res.lists.rooms.count).to.equal(1);
    expect(res.lists.invites.count).to.equal(1);
    const inv = res.rooms[invited];
    expect(inv.membership).to.equal("invite");
    expect(inv.invite_state.some((e: any) => e.type === "m.room.name" && e.content.name === "Invite me")).to.equal(true);
    expect(inv).to.not.have.property("timeline");
    const room = res.rooms[roomId];
    const members = room.required_state.filter((e: any) => e.type === "m.room.member").map((e: any) => e.state_key);
    expect(members).to.deep.equal([b.userId]); // the timeline's sender only
    expect(room.required_state.some((e: any) => e.type === "m.room.create")).to.equal(true);
    // A new sender: their membership comes along; b's is not sent again.
    await send(c, roomId, "from c");
    const step = await ss(a, body, `?pos=${enc(res.pos)}&timeout=0`);
    expect(step.rooms[roomId].limited).to.not.equal(true);
    expect(step.rooms[roomId].required_state.filter((e: any) => e.type === "m.room.member").map((e: any) => e.state_key)).to.deep.equal([c.userId]);
    await send(b, roomId, "b again");
    const next = await ss(a, { lists: { rooms: { ...body.lists.rooms, timeline_limit: 5 }, invites: body.lists.invites } }, `?pos=${enc(step.pos)}&timeout=0`);
    const again = next.rooms[roomId];
    // A limited timeline: the client drops its member cache, so every sender's membership comes again.
    expect(again.limited).to.equal(true);
    expect(again.required_state.filter((e: any) => e.type === "m.room.member").map((e: any) => e.state_key).sort()).to.deep.equal([b.userId, c.userId].sort());
    // A larger timeline_limit: the latest events again, marked as an expanded timeline.
    expect(again.unstable_expanded_timeline).to.equal(true);
    expect(again.timeline.map((e: any) => e.content.body)).to.include.members(["from b", "from c", "b again"]);
    expect(again.num_live).to.equal(1);
  });

  it("filters: is_dm, is_encrypted, room types, tags and not_tags, spaces", async () => {
    const u = await t.s.client().register();
    const plain = await createRoom(u, { name: "plain" });
    const enc1 = await createRoom(u, { name: "enc", initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] });
    const space = await createRoom(u, { name: "space", creation_content: { type: "m.space" } });
    const dm = await createRoom(u, { name: "dm" });
    await u.put(`/_matrix/client/v3/user/${enc(u.userId)}/account_data/m.direct`, { "@friend:localhost": [dm] });
    await u.put(`/_matrix/client/v3/user/${enc(u.userId)}/rooms/${enc(plain)}/tags/m.favourite`, {});
    await setState(u, space, "m.space.child", { via: ["localhost"] }, enc1);
    const f = (filters: Record<string, unknown>) => ({ range: [0, 20], timeline_limit: 0, required_state: { include: [] }, filters });
    const res = await ss(u, {
      lists: {
        dms: f({ is_dm: true }), encrypted: f({ is_encrypted: true }), spaces: f({ room_types: ["m.space"] }),
        rooms: f({ not_room_types: ["m.space"] }), fav: f({ tags: ["m.favourite"] }), notfav: f({ not_tags: ["m.favourite"], room_types: [null] }),
        inspace: f({ spaces: [space] }),
      },
    });
    const ids = (k: string) => Object.entries(res.rooms).filter(([, r]: [string, any]) => r.lists?.includes(k)).map(([id]) => id).sort();
    expect(ids("dms")).to.deep.equal([dm]);
    expect(res.rooms[dm].is_dm).to.equal(true);
    expect(ids("encrypted")).to.deep.equal([enc1]);
    expect(ids("spaces")).to.deep.equal([space]);
    expect(ids("rooms")).to.deep.equal([plain, enc1, dm].sort());
    expect(ids("fav")).to.deep.equal([plain]);
    expect(ids("notfav")).to.deep.equal([enc1, dm].sort());
    expect(ids("inspace")).to.deep.equal([enc1]);
  });

  it("room subscriptions: rooms the user is in, never others; unsubscribe_rooms", async () => {
    const [a, b] = [await t.s.client().register(), await t.s.client().register()];
    const mine = await createRoom(a, { name: "Mine" });
    const theirs = await createRoom(b, { name: "Secret" });
    await send(b, theirs, "private words");
    const res = await ss(a, { room_subscriptions: { [mine]: { timeline_limit: 5, required_state: [["*", "*"]] }, [theirs]: { timeline_limit: 5, required_state: [["*", "*"]] } } });
    expect(Object.keys(res.rooms)).to.deep.equal([mine]);
    expect(res.rooms[mine]).to.not.have.property("lists");
    expect(res.rooms[mine].required_state.length).to.be.greaterThan(4); // all of it
    // Sticky: a later request without it still follows the room, until unsubscribed.
    await send(a, mine, "still followed");
    const later = await ss(a, {}, `?pos=${enc(res.pos)}`);
    expect(later.rooms[mine].timeline.map((e: any) => e.content.body)).to.deep.equal(["still followed"]);
    const gone = await ss(a, { unsubscribe_rooms: [mine] }, `?pos=${enc(later.pos)}`);
    await send(a, mine, "not followed");
    const after = await ss(a, {}, `?pos=${enc(gone.pos)}&timeout=300`);
    expect(after.rooms).to.deep.equal({});
  });

  it("extensions: to_device, e2ee, account_data, typing, receipts", async () => {
    const [a, b] = [await t.s.client().register(), await t.s.client().register()];
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    const ev = await send(b, roomId, "read me");
    await a.put(`/_matrix/client/v3/user/${enc(a.userId)}/account_data/org.example.setting`, { on: true });
    await a.put(`/_matrix/client/v3/user/${enc(a.userId)}/rooms/${enc(roomId)}/account_data/org.example.room`, { x: 1 });
    await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(ev)}`, {});
    const extensions = { to_device: { enabled: true }, e2ee: { enabled: true }, account_data: { enabled: true }, typing: { enabled: true }, receipts: { enabled: true } };
    const res = await ss(a, { lists: { all: list([0, 9]) }, extensions });
    expect(res.extensions.to_device.events).to.deep.equal([]);
    expect(res.extensions.to_device.next_batch).to.be.a("string");
    expect(res.extensions.e2ee.device_one_time_keys_count).to.deep.equal({});
    expect(res.extensions.account_data.global.some((e: any) => e.type === "org.example.setting")).to.equal(true);
    expect(res.extensions.account_data.rooms[roomId].map((e: any) => e.type)).to.include("org.example.room");
    expect(res.extensions.receipts.rooms[roomId].content[ev]["m.read"][b.userId]).to.have.property("ts");
    // Later: typing, a to-device message, a key change of a room-mate (b uploads keys).
    await b.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(b.userId)}`, { typing: true, timeout: 10000 });
    await b.put(`/_matrix/client/v3/sendToDevice/m.test/t1`, { messages: { [a.userId]: { [a.deviceId]: { hello: "there" } } } });
    await b.post("/_matrix/client/v3/keys/upload", { device_keys: { user_id: b.userId, device_id: b.deviceId, algorithms: ["m.olm.v1.curve25519-aes-sha2"], keys: { [`ed25519:${b.deviceId}`]: "ed" }, signatures: {} } });
    // Extensions are sticky: the next request names only to_device's since.
    const next = await ss(a, { lists: { all: list([0, 9]) }, extensions: { to_device: { since: res.extensions.to_device.next_batch } } }, `?pos=${enc(res.pos)}&timeout=2000`);
    const all = [next];
    if (!next.extensions.to_device.events.length || !next.extensions.e2ee.device_lists.changed.length) {
      all.push(await ss(a, { lists: { all: list([0, 9]) }, extensions: { to_device: { since: next.extensions.to_device.next_batch } } }, `?pos=${enc(next.pos)}&timeout=2000`));
    }
    expect(all.some((x) => x.extensions.typing.rooms[roomId]?.content.user_ids.includes(b.userId))).to.equal(true);
    expect(all.flatMap((x) => x.extensions.to_device.events).map((e: any) => e.content)).to.deep.equal([{ hello: "there" }]);
    expect(all.some((x) => x.extensions.e2ee.device_lists.changed.includes(b.userId))).to.equal(true);
    // Acknowledged to-device messages are not sent again.
    const last = all[all.length - 1];
    const acked = await ss(a, { extensions: { to_device: { since: last.extensions.to_device.next_batch } } }, `?pos=${enc(last.pos)}&timeout=0`);
    expect(acked.extensions.to_device.events).to.deep.equal([]);
  });

  it("rooms left: the leave reaches the connection that had the room; a kick is listed on a new one", async () => {
    const [a, b] = [await t.s.client().register(), await t.s.client().register()];
    const left = await createRoom(a, { preset: "public_chat", name: "Left" });
    const kicked = await createRoom(a, { preset: "public_chat", name: "Kicked" });
    await join(b, left);
    await join(b, kicked);
    const res = await ss(b, { lists: { all: list([0, 9]) } });
    expect(res.lists.all.count).to.equal(2);
    expect((await b.post(`/_matrix/client/v3/rooms/${enc(left)}/leave`, {})).status).to.equal(200);
    expect((await a.post(`/_matrix/client/v3/rooms/${enc(kicked)}/kick`, { user_id: b.userId })).status).to.equal(200);
    await send(a, kicked, "after the kick");
    await setState(a, kicked, "m.room.name", { name: "Renamed after the kick" });
    const next = await ss(b, { lists: { all: list([0, 9]) } }, `?pos=${enc(res.pos)}`);
    expect(next.rooms[left].membership).to.equal("leave");
    expect(next.rooms[left].timeline.map((e: any) => e.type)).to.deep.equal(["m.room.member"]);
    expect(next.rooms[kicked].membership).to.equal("leave");
    expect(next.rooms[kicked].timeline.some((e: any) => e.content.body === "after the kick")).to.equal(false);
    const fresh = await ss(b, { conn_id: "new", lists: { all: list([0, 9]) } });
    expect(Object.keys(fresh.rooms)).to.deep.equal([kicked]);
    // What happened after the kick stays hidden: the name, the state, the members.
    expect(fresh.rooms[kicked].name).to.equal("Kicked");
    expect(fresh.rooms[kicked].required_state.map((e: any) => e.content.name)).to.deep.equal(["Kicked"]);
    expect(fresh.rooms[kicked].timeline.every((e: any) => e.content.body !== "after the kick")).to.equal(true);
  });

  it("over the WebSocket: sliding_sync answers, then pushes each response with news; a new command changes the window", async () => {
    const [a, b] = [await t.s.client().register(), await t.s.client().register()];
    const r1 = await createRoom(a, { name: "First", preset: "public_chat" });
    const r2 = await createRoom(a, { name: "Second", preset: "public_chat" });
    await join(b, r1);
    await join(b, r2);
    const ws = await WsClient.connect(t.s.hs.url, b.token);
    try {
      const first = await ws.call("sliding_sync", { lists: { all: list([0, 0]) }, extensions: { to_device: { enabled: true } } });
      expect(first.result.lists.all.count).to.equal(2);
      expect(Object.keys(first.result.rooms)).to.deep.equal([r2]);
      // A message in the other room moves it into the window: pushed.
      await send(a, r1, "moving up");
      const pushed = await ws.waitFor((f: any) => f.method === "sliding_sync" && f.params.rooms?.[r1]);
      expect(pushed.params.rooms[r1].initial).to.equal(true);
      expect(pushed.params.rooms[r1].timeline.map((e: any) => e.content.body)).to.deep.equal(["moving up"]);
      // A to-device message is pushed once.
      await a.put("/_matrix/client/v3/sendToDevice/m.test/ws1", { messages: { [b.userId]: { [b.deviceId]: { n: 1 } } } });
      const td = await ws.waitFor((f: any) => f.method === "sliding_sync" && f.params.extensions?.to_device?.events?.length);
      expect(td.params.extensions.to_device.events.map((e: any) => e.content)).to.deep.equal([{ n: 1 }]);
      // A wider window, continuing the connection: both rooms were sent and neither changed since.
      const wider = await ws.call("sliding_sync", { lists: { all: list([0, 1]) }, pos: td.params.pos });
      expect(wider.result.rooms).to.deep.equal({});
      expect(wider.result.lists.all.count).to.equal(2);
      await send(a, r2, "still live");
      const later = await ws.waitFor((f: any) => f.method === "sliding_sync" && f.params.rooms?.[r2]?.timeline?.some((e: any) => e.content.body === "still live"));
      expect(later.params.rooms[r2]).to.not.have.property("initial");
      expect(ws.frames.filter((f: any) => f.method === "sliding_sync" && f.params?.extensions?.to_device?.events?.length)).to.have.length(1);
    } finally {
      ws.close();
    }
  });
});
