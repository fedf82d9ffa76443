// unread_notifications in /sync: raised by messages the push rules say notify, reset by the
// user's read receipts (public or private) and by their own messages.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { enc, send, twoInRoom } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

describe("unread notification counts", () => {
  const t = useServer();

  /** Syncs from `since` until the room shows up; returns its unread counts and the next token. */
  async function countsAfter(c: UserClient, since: string | null, roomId: string): Promise<{ counts: any; next: string }> {
    for (let i = 0; i < 20; i++) {
      const r = await c.get(`/_matrix/client/v3/sync${since ? `?since=${enc(since)}&timeout=3000` : ""}`);
      expect(r.status).to.equal(200);
      since = r.body.next_batch;
      const room = r.body.rooms.join[roomId];
      if (room) return { counts: room.unread_notifications, next: r.body.next_batch };
    }
    throw new Error("room never appeared");
  }

  it("messages raise the count, mentions highlight, a receipt resets, and later messages raise it again", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    let { counts, next } = await countsAfter(a, null, roomId);
    expect(counts).to.deep.equal({ notification_count: 0, highlight_count: 0 });
    await send(b, roomId, "one");
    await send(b, roomId, "two");
    await send(b, roomId, { msgtype: "m.notice", body: "a notice does not notify" });
    const mention = await send(b, roomId, { msgtype: "m.text", body: "hey", "m.mentions": { user_ids: [a.userId] } });
    ({ counts, next } = await countsAfter(a, next, roomId));
    // Counted on from the kept counts (incremental), and recounted from scratch (initial).
    let last = counts;
    for (let i = 0; i < 10 && last.notification_count < 3; i++) ({ counts: last, next } = await countsAfter(a, next, roomId));
    expect(last).to.deep.equal({ notification_count: 3, highlight_count: 1 });
    const fresh = await countsAfter(a, null, roomId);
    expect(fresh.counts).to.deep.equal({ notification_count: 3, highlight_count: 1 });
    expect((await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(mention)}`, {})).status).to.equal(200);
    ({ counts, next } = await countsAfter(a, fresh.next, roomId));
    expect(counts).to.deep.equal({ notification_count: 0, highlight_count: 0 });
    await send(b, roomId, "three");
    ({ counts, next } = await countsAfter(a, next, roomId));
    expect(counts).to.deep.equal({ notification_count: 1, highlight_count: 0 });
  });

  it("a private receipt resets the count too; the user's own message reads everything before it", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    await send(b, roomId, "one");
    const last = await send(b, roomId, "two");
    let r = await countsAfter(a, null, roomId);
    expect(r.counts.notification_count).to.equal(2);
    await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read.private/${enc(last)}`, {});
    r = await countsAfter(a, r.next, roomId);
    expect(r.counts.notification_count).to.equal(0);
    await send(b, roomId, "three");
    r = await countsAfter(a, r.next, roomId);
    expect(r.counts.notification_count).to.equal(1);
    await send(a, roomId, "my reply");
    r = await countsAfter(a, r.next, roomId);
    expect(r.counts.notification_count).to.equal(0);
    // b never counts a's messages against a, and a's messages count for b.
    const forB = await countsAfter(b, null, roomId);
    expect(forB.counts.notification_count).to.equal(1);
  });

  it("a receipt for an older event does not lower the count below what is still unread", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const first = await send(b, roomId, "one");
    await send(b, roomId, "two");
    await send(b, roomId, "three");
    await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(first)}`, {});
    const r = await countsAfter(a, null, roomId);
    expect(r.counts.notification_count).to.equal(2);
  });

  it("threads: with unread_thread_notifications, counts per thread, reset by that thread's receipt", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const root = await send(b, roomId, "root");
    const inThread = (body: string) => ({ msgtype: "m.text", body, "m.relates_to": { rel_type: "m.thread", event_id: root } });
    await send(b, roomId, inThread("t1"));
    const t2 = await send(b, roomId, inThread("t2"));
    await send(b, roomId, "main 2");
    const filter = enc(JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } }));
    const threaded = async () => (await a.get(`/_matrix/client/v3/sync?filter=${filter}`)).body.rooms.join[roomId];
    let room = await threaded();
    expect(room.unread_notifications).to.deep.equal({ notification_count: 2, highlight_count: 0 });
    expect(room.unread_thread_notifications).to.deep.equal({ [root]: { notification_count: 2, highlight_count: 0 } });
    // Without the flag: one total.
    expect((await countsAfter(a, null, roomId)).counts).to.deep.equal({ notification_count: 4, highlight_count: 0 });
    // A receipt in the thread reads the thread only.
    expect((await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(t2)}`, { thread_id: root })).status).to.equal(200);
    room = await threaded();
    expect(room.unread_notifications.notification_count).to.equal(2);
    expect(room.unread_thread_notifications ?? {}).to.deep.equal({});
    // An unthreaded receipt at the end reads everything.
    const last = await send(b, roomId, "main 3");
    await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(last)}`, {});
    room = await threaded();
    expect(room.unread_notifications.notification_count).to.equal(0);
  });

  it("a redacted unread message no longer counts", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    await send(b, roomId, "one");
    const oops = await send(b, roomId, "two");
    let r = await countsAfter(a, null, roomId);
    expect(r.counts.notification_count).to.equal(2);
    expect((await b.put(`/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(oops)}/r1`, {})).status).to.equal(200);
    r = await countsAfter(a, r.next, roomId);
    expect(r.counts.notification_count).to.equal(1);
  });
});
