// /sync and the people in a room: lazy-loaded members across incremental syncs, the presence
// of people newly met, and what an invite shows of its inviter.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, invite, join, send } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

const lazy = (extra: Record<string, unknown> = {}) => enc(JSON.stringify({ room: { state: { lazy_load_members: true, ...extra }, timeline: { limit: 10 } } }));
const members = (body: any, roomId: string): string[] =>
  (body.rooms.join[roomId]?.state.events ?? []).filter((e: any) => e.type === "m.room.member").map((e: any) => e.state_key).sort();

describe("sync: members", () => {
  // Delivered receipts off: the tests compare two users' responses, and each sees the other's.
  const t = useServer({ delivery_receipts: { enabled: false } });

  async function room3(): Promise<{ a: UserClient; b: UserClient; c: UserClient; roomId: string }> {
    const [a, b, c] = [await t.s.client().register(), await t.s.client().register(), await t.s.client().register()];
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    await join(c, roomId);
    for (let i = 0; i < 10; i++) await send(b, roomId, `b ${i}`);
    return { a, b, c, roomId };
  }

  it("lazy members: a new sender's membership comes once, in the incremental sync where they first speak", async () => {
    const { a, b, c, roomId } = await room3();
    const s0 = await a.get(`/_matrix/client/v3/sync?filter=${lazy()}`);
    expect(members(s0.body, roomId)).to.deep.equal([a.userId, b.userId].sort());
    await send(c, roomId, "hello from c");
    const s1 = await a.get(`/_matrix/client/v3/sync?filter=${lazy()}&since=${enc(s0.body.next_batch)}`);
    expect(members(s1.body, roomId)).to.deep.equal([c.userId]);
    await send(c, roomId, "again");
    await send(b, roomId, "and b");
    const s2 = await a.get(`/_matrix/client/v3/sync?filter=${lazy()}&since=${enc(s1.body.next_batch)}`);
    expect(s2.body.rooms.join[roomId].timeline.events).to.have.length(2);
    expect(members(s2.body, roomId)).to.deep.equal([]); // both sent already
    // With include_redundant_members, every sender every time.
    await send(c, roomId, "once more");
    const s3 = await a.get(`/_matrix/client/v3/sync?filter=${lazy({ include_redundant_members: true })}&since=${enc(s2.body.next_batch)}`);
    expect(members(s3.body, roomId)).to.deep.equal([c.userId]);
  });

  it("lazy members: a sender's membership still comes when another room's news needs the full answer", async () => {
    const { a, c, roomId } = await room3();
    const other = await createRoom(a, { preset: "public_chat" });
    const s0 = await a.get(`/_matrix/client/v3/sync?filter=${lazy()}`);
    await send(c, roomId, "hello from c");
    await join(c, other); // a membership change: the answer cannot be the lean one
    const s1 = await a.get(`/_matrix/client/v3/sync?filter=${lazy()}&since=${enc(s0.body.next_batch)}`);
    expect(members(s1.body, roomId)).to.deep.equal([c.userId]);
    expect(s1.body.rooms.join[other].timeline.events.map((e: any) => e.state_key)).to.include(c.userId);
    // c's membership was sent: c's next message comes alone.
    await send(c, roomId, "again from c");
    const s2 = await a.get(`/_matrix/client/v3/sync?filter=${lazy()}&since=${enc(s1.body.next_batch)}`);
    expect(s2.body.rooms.join[roomId].timeline.events.map((e: any) => e.content.body)).to.deep.equal(["again from c"]);
    expect(members(s2.body, roomId)).to.deep.equal([]);
  });

  it("a wake-up for new messages alone is answered as the general path answers it (lazy members, unread counts)", async () => {
    // b ignores somebody who is not in the room: that changes nothing visible, but its sync
    // takes the general path, while a's takes the lean one (sync-quick.ts).
    const { c, roomId } = await room3();
    const [a, b] = [await t.s.client().register(), await t.s.client().register()];
    await join(a, roomId);
    await join(b, roomId);
    await b.put(`/_matrix/client/v3/user/${enc(b.userId)}/account_data/m.ignored_user_list`, { ignored_users: { "@nobody:elsewhere": {} } });
    const filter = enc(JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 10, unread_thread_notifications: true } } }));
    const [sa, sb] = [await a.get(`/_matrix/client/v3/sync?filter=${filter}`), await b.get(`/_matrix/client/v3/sync?filter=${filter}`)];
    const noAge = (x: any) => JSON.parse(JSON.stringify(x, (k, v) => (k === "age" ? undefined : v)));
    const since = { a: sa.body.next_batch as string, b: sb.body.next_batch as string };
    const both = async () => {
      const [ra, rb] = [await a.get(`/_matrix/client/v3/sync?filter=${filter}&since=${enc(since.a)}`), await b.get(`/_matrix/client/v3/sync?filter=${filter}&since=${enc(since.b)}`)];
      since.a = ra.body.next_batch;
      since.b = rb.body.next_batch;
      expect(noAge(ra.body.rooms.join[roomId] ?? null)).to.deep.equal(noAge(rb.body.rooms.join[roomId] ?? null));
      return noAge(ra.body.rooms.join[roomId] ?? null);
    };
    // Plain messages from somebody whose membership these devices were not sent yet.
    await send(c, roomId, "first from c");
    await send(c, roomId, "second from c");
    const r1 = await both();
    expect(r1.timeline.events.map((e: any) => e.content.body)).to.deep.equal(["first from c", "second from c"]);
    expect(r1.state.events.map((e: any) => e.state_key)).to.deep.equal([c.userId]);
    expect(r1.unread_notifications.notification_count).to.equal(2);
    // A thread (the general path for both), then plain messages again.
    const root = await send(c, roomId, "a thread root");
    await c.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t1`, { msgtype: "m.text", body: "in the thread", "m.relates_to": { rel_type: "m.thread", event_id: root } });
    const r2 = await both();
    expect(r2.unread_thread_notifications[root].notification_count).to.equal(1);
    await send(c, roomId, "after the thread");
    const r3 = await both();
    expect(r3.timeline.events.map((e: any) => e.content.body)).to.deep.equal(["after the thread"]);
    expect(r3.state.events).to.deep.equal([]);
    expect(r3.unread_thread_notifications).to.deep.equal(r2.unread_thread_notifications);
    // Receipts: c's public one alone; c's private one (nothing to show the others); a message
    // and a receipt together.
    const seen = r3.timeline.events[0].event_id;
    const receipt = (type: string, id: string) => c.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/${type}/${enc(id)}`, {});
    expect((await receipt("m.read", seen)).status).to.equal(200);
    const r4 = await both();
    expect(r4.timeline.events).to.deep.equal([]);
    expect(r4.ephemeral.events[0].content[seen]["m.read"][c.userId].ts).to.be.a("number");
    expect(r4.unread_notifications).to.have.property("notification_count");
    const next = await send(c, roomId, "one more");
    expect((await receipt("m.read.private", next)).status).to.equal(200);
    const r5 = await both();
    expect(r5.timeline.events.map((e: any) => e.content.body)).to.deep.equal(["one more"]);
    expect(r5.ephemeral.events).to.deep.equal([]);
    const last = await send(c, roomId, "and the last");
    expect((await receipt("m.read", last)).status).to.equal(200);
    const r6 = await both();
    expect(r6.timeline.events.map((e: any) => e.content.body)).to.deep.equal(["and the last"]);
    expect(Object.keys(r6.ephemeral.events[0].content)).to.deep.equal([last]);
  });

  it("lazy members: a gappy sync carries the members who joined or left in the gap", async () => {
    const { a, c, roomId } = await room3();
    const s0 = await a.get(`/_matrix/client/v3/sync?filter=${lazy()}`);
    const d = await t.s.client().register();
    await join(d, roomId);
    for (let i = 0; i < 15; i++) await send(c, roomId, `c ${i}`);
    const s1 = await a.get(`/_matrix/client/v3/sync?filter=${lazy()}&since=${enc(s0.body.next_batch)}`);
    expect(s1.body.rooms.join[roomId].timeline.limited).to.equal(true);
    expect(members(s1.body, roomId)).to.deep.equal([c.userId, d.userId].sort());
  });

  it("people newly met: each one's next sync carries the other's current presence", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    expect((await a.put(`/_matrix/client/v3/presence/${enc(a.userId)}/status`, { presence: "online", status_msg: "here" })).status).to.equal(200);
    const roomId = await createRoom(a, { preset: "public_chat" });
    const a0 = await a.get("/_matrix/client/v3/sync?set_presence=offline");
    const b0 = await b.get("/_matrix/client/v3/sync?set_presence=offline");
    await join(b, roomId);
    const b1 = await b.get(`/_matrix/client/v3/sync?set_presence=offline&since=${enc(b0.body.next_batch)}`);
    const ofA = b1.body.presence.events.find((e: any) => e.sender === a.userId);
    expect(ofA?.content).to.include({ presence: "online", status_msg: "here" });
    const a1 = await a.get(`/_matrix/client/v3/sync?set_presence=offline&since=${enc(a0.body.next_batch)}`);
    expect(a1.body.presence.events.map((e: any) => e.sender)).to.include(b.userId);
    // Only once: the next sync has nothing new of a.
    await send(a, roomId, "hi");
    const b2 = await b.get(`/_matrix/client/v3/sync?set_presence=offline&since=${enc(b1.body.next_batch)}`);
    expect(b2.body.presence.events.map((e: any) => e.sender)).to.not.include(a.userId);
  });

  it("an invite's stripped state carries the inviter's membership (name and avatar) and the invite", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    await a.put(`/_matrix/client/v3/profile/${enc(a.userId)}/displayname`, { displayname: "Alice" });
    const roomId = await createRoom(a, { is_direct: true });
    const b0 = await b.get("/_matrix/client/v3/sync");
    await invite(a, roomId, b.userId);
    const b1 = await b.get(`/_matrix/client/v3/sync?since=${enc(b0.body.next_batch)}`);
    const stripped = b1.body.rooms.invite[roomId].invite_state.events;
    const inviter = stripped.find((e: any) => e.type === "m.room.member" && e.state_key === a.userId);
    expect(inviter?.content).to.include({ membership: "join", displayname: "Alice" });
    expect(stripped[stripped.length - 1]).to.include({ type: "m.room.member", state_key: b.userId });
  });

  it("POST /join carries the body's own keys into the member event; the server's keys stay its own", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    const r = await b.post(`/_matrix/client/v3/join/${enc(roomId)}`, { foo: "bar", membership: "leave", reason: "hi" });
    expect(r.status).to.equal(200);
    const ev = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.member/${enc(b.userId)}`);
    expect(ev.body).to.include({ foo: "bar", membership: "join", reason: "hi" });
  });
});
