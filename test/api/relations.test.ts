// Redactions, reactions, edits, threads, references: redaction.yaml, relations.yaml, threads_list.yaml.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, join, send, setState, twoInRoom } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

let txn = 0;
const redact = (c: UserClient, roomId: string, eventId: string, body: Record<string, unknown> = {}, txnId = `r${Date.now()}-${txn++}`) =>
  c.put(`/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(eventId)}/${txnId}`, body);
const react = (c: UserClient, roomId: string, eventId: string, key: string) =>
  c.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.reaction/re${Date.now()}-${txn++}`, { "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key } });
const edit = (c: UserClient, roomId: string, eventId: string, body: string) =>
  c.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/ed${Date.now()}-${txn++}`, {
    msgtype: "m.text", body: `* ${body}`, "m.new_content": { msgtype: "m.text", body }, "m.relates_to": { rel_type: "m.replace", event_id: eventId },
  });
const inThread = (rootId: string, body: string) => ({ msgtype: "m.text", body, "m.relates_to": { rel_type: "m.thread", event_id: rootId, is_falling_back: true, "m.in_reply_to": { event_id: rootId } } });

describe("redactions", () => {
  const t = useServer();

  it("strips content everywhere the event is served, with redacted_because; idempotent on txnId", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const s0 = await b.get("/_matrix/client/v3/sync");
    const eventId = await send(a, roomId, "secret words");
    const r1 = await redact(a, roomId, eventId, { reason: "oops" }, "same-txn");
    expect(r1.status, r1.text).to.equal(200);
    const r2 = await redact(a, roomId, eventId, { reason: "oops" }, "same-txn");
    expect(r2.body.event_id).to.equal(r1.body.event_id);
    const ev = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`);
    expect(ev.body.content).to.deep.equal({});
    expect(ev.body.unsigned.redacted_because.event_id).to.equal(r1.body.event_id);
    expect(ev.body.unsigned.redacted_because.content.reason).to.equal("oops");
    const msgs = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=5`);
    expect(msgs.body.chunk.find((e: any) => e.event_id === eventId).content).to.deep.equal({});
    const ctx = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/context/${enc(eventId)}`);
    expect(ctx.body.event.content).to.deep.equal({});
    // Incremental sync (from memory) and initial sync (from the database) agree.
    const inc = await b.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}`);
    const tl = inc.body.rooms.join[roomId].timeline.events;
    expect(tl.find((e: any) => e.event_id === eventId).content).to.deep.equal({});
    expect(tl.find((e: any) => e.event_id === r1.body.event_id).redacts).to.equal(eventId);
    const full = await b.get("/_matrix/client/v3/sync");
    expect(JSON.stringify(full.body)).not.to.contain("secret words");
  });

  it("others' events need the redact power level; own events do not; unknown events are 404", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const fromA = await send(a, roomId, "by a");
    const fromB = await send(b, roomId, "by b");
    const denied = await redact(b, roomId, fromA);
    expect(denied.status).to.equal(403);
    expect(denied.body.errcode).to.equal("M_FORBIDDEN");
    expect((await redact(b, roomId, fromB)).status).to.equal(200);
    expect((await redact(a, roomId, fromB)).status).to.equal(200); // a created the room: power 100
    const missing = await redact(a, roomId, "$nope");
    expect(missing.status).to.equal(404);
  });

  it("a redacted state event's content is gone from the current state too", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a, { topic: "old topic" });
    const topic = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic`);
    expect(topic.body.topic).to.equal("old topic");
    const stateRes = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state`);
    const ev = stateRes.body.find((e: any) => e.type === "m.room.topic");
    expect((await redact(a, roomId, ev.event_id)).status).to.equal(200);
    const after = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic`);
    expect(after.body).to.deep.equal({});
  });
});

describe("relations", () => {
  const t = useServer();

  it("reactions: a second identical one is refused (M_DUPLICATE_ANNOTATION); they are aggregated; redacting allows it again", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const target = await send(a, roomId, "react to me");
    const r1 = await react(b, roomId, target, "👍");
    expect(r1.status, r1.text).to.equal(200);
    const dup = await react(b, roomId, target, "👍");
    expect(dup.status).to.equal(400);
    expect(dup.body.errcode).to.equal("M_DUPLICATE_ANNOTATION");
    expect((await react(a, roomId, target, "👍")).status).to.equal(200);
    expect((await react(b, roomId, target, "🎉")).status).to.equal(200);
    const ev = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(target)}`);
    const chunk = ev.body.unsigned["m.relations"]["m.annotation"].chunk;
    expect(chunk).to.deep.include({ type: "m.reaction", key: "👍", count: 2 });
    expect(chunk).to.deep.include({ type: "m.reaction", key: "🎉", count: 1 });
    expect((await redact(b, roomId, r1.body.event_id)).status).to.equal(200);
    expect((await react(b, roomId, target, "👍")).status).to.equal(200);
  });

  it("edits: only by the sender; the latest is bundled on /event, /messages and /sync", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const original = await send(a, roomId, "tpyo");
    const notMine = await edit(b, roomId, original, "hijacked");
    expect(notMine.status).to.equal(403);
    const e1 = await edit(a, roomId, original, "typo?");
    const e2 = await edit(a, roomId, original, "typo");
    expect(e1.status).to.equal(200);
    expect(e2.status).to.equal(200);
    expect((await edit(a, roomId, e2.body.event_id, "edit of an edit")).status).to.equal(400);
    const ev = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(original)}`);
    expect(ev.body.content.body).to.equal("tpyo"); // the original is served as it was
    expect(ev.body.unsigned["m.relations"]["m.replace"].event_id).to.equal(e2.body.event_id);
    const msgs = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=10`);
    expect(msgs.body.chunk.find((e: any) => e.event_id === original).unsigned["m.relations"]["m.replace"].content["m.new_content"].body).to.equal("typo");
    const sync = await b.get(`/_matrix/client/v3/sync?filter=${enc(JSON.stringify({ room: { timeline: { limit: 20 } } }))}`);
    const tl = sync.body.rooms.join[roomId].timeline.events;
    expect(tl.find((e: any) => e.event_id === original).unsigned["m.relations"]["m.replace"].event_id).to.equal(e2.body.event_id);
  });

  it("threads: summaries bundled (from memory and from the database alike), /threads lists them", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const s0 = await a.get("/_matrix/client/v3/sync");
    const root = await send(a, roomId, "thread root");
    const other = await send(b, roomId, "another root");
    await send(b, roomId, inThread(root, "reply 1"));
    const last = await send(b, roomId, inThread(root, "reply 2"));
    await send(b, roomId, inThread(other, "only reply"));
    const check = (ev: any, participated: boolean) => {
      const th = ev.unsigned["m.relations"]["m.thread"];
      expect(th.count).to.equal(2);
      expect(th.latest_event.event_id).to.equal(last);
      expect(th.current_user_participated).to.equal(participated);
    };
    const inc = await a.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}`);
    check(inc.body.rooms.join[roomId].timeline.events.find((e: any) => e.event_id === root), true);
    check((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(root)}`)).body, true);
    const all = await a.get(`/_matrix/client/v1/rooms/${enc(roomId)}/threads`);
    expect(all.status).to.equal(200);
    expect(all.body.chunk.map((e: any) => e.event_id)).to.deep.equal([other, root]);
    const mine = await a.get(`/_matrix/client/v1/rooms/${enc(roomId)}/threads?include=participated`);
    expect(mine.body.chunk.map((e: any) => e.event_id)).to.deep.equal([root]);
    const paged = await a.get(`/_matrix/client/v1/rooms/${enc(roomId)}/threads?limit=1`);
    expect(paged.body.chunk.map((e: any) => e.event_id)).to.deep.equal([other]);
    const next = await a.get(`/_matrix/client/v1/rooms/${enc(roomId)}/threads?limit=1&from=${enc(paged.body.next_batch)}`);
    expect(next.body.chunk.map((e: any) => e.event_id)).to.deep.equal([root]);
    // No thread from an event that is itself a reply in a thread.
    const nested = await b.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/nest${txn++}`, inThread(last, "nested"));
    expect(nested.status).to.equal(400);
  });

  it("/relations: filtered by type, paginated both ways, recurse, history visibility", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const root = await send(a, roomId, "root");
    const replies: string[] = [];
    for (let i = 0; i < 5; i++) replies.push(await send(b, roomId, inThread(root, `r${i}`)));
    const reaction = (await react(a, roomId, replies[0]!, "👀")).body.event_id;
    const ref = await send(a, roomId, { msgtype: "m.text", body: "see above", "m.relates_to": { rel_type: "m.reference", event_id: root } });
    const base = `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(root)}`;
    const all = await b.get(base);
    expect(all.body.chunk.map((e: any) => e.event_id)).to.deep.equal([ref, ...[...replies].reverse()]);
    const threadOnly = await b.get(`${base}/m.thread`);
    expect(threadOnly.body.chunk).to.have.length(5);
    const typed = await b.get(`${base}/m.thread/m.room.message`);
    expect(typed.body.chunk).to.have.length(5);
    const none = await b.get(`${base}/m.thread/m.reaction`);
    expect(none.body.chunk).to.have.length(0);
    // Backwards, two at a time: every reply once.
    const seen: string[] = [];
    let from: string | undefined;
    for (let i = 0; i < 5; i++) {
      const p = await b.get(`${base}/m.thread?limit=2${from ? `&from=${enc(from)}` : ""}`);
      seen.push(...p.body.chunk.map((e: any) => e.event_id));
      from = p.body.next_batch;
      if (!from) break;
    }
    expect(seen).to.deep.equal([...replies].reverse());
    const fwd = await b.get(`${base}/m.thread?dir=f&limit=3`);
    expect(fwd.body.chunk.map((e: any) => e.event_id)).to.deep.equal(replies.slice(0, 3));
    const fwd2 = await b.get(`${base}/m.thread?dir=f&limit=3&from=${enc(fwd.body.next_batch)}`);
    expect(fwd2.body.chunk.map((e: any) => e.event_id)).to.deep.equal(replies.slice(3));
    const rec = await b.get(`${base}?recurse=true`);
    expect(rec.body.chunk.map((e: any) => e.event_id)).to.include(reaction);
    expect(rec.body.recursion_depth).to.be.at.least(2);
    // The root's bundle lists the reference.
    const ev = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(root)}`);
    expect(ev.body.unsigned["m.relations"]["m.reference"].chunk).to.deep.equal([{ event_id: ref }]);
    // Someone who never joined sees nothing.
    const outsider = await t.s.client().register();
    expect((await outsider.get(base)).status).to.equal(404);
  });

  it("history visibility: a user who joined later does not see relations from before (joined visibility)", async () => {
    const a = await t.s.client().register();
    const c = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await setState(a, roomId, "m.room.history_visibility", { history_visibility: "joined" });
    const root = await send(a, roomId, "root");
    await send(a, roomId, inThread(root, "early"));
    await join(c, roomId);
    const late = await send(a, roomId, inThread(root, "late"));
    const r = await c.get(`/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(root)}`);
    // The root itself is not visible to c: 404, like /event.
    expect(r.status).to.equal(404);
    expect(late).to.be.a("string");
  });

  it("after leaving: replies, reactions and edits sent later are in no bundle, on any path", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    await setState(a, roomId, "m.room.history_visibility", { history_visibility: "joined" });
    const root = await send(a, roomId, "root");
    await send(a, roomId, inThread(root, "while b was here"));
    expect((await react(a, roomId, root, "👍")).status).to.equal(200);
    const left = await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {});
    expect(left.status).to.equal(200);
    await send(a, roomId, inThread(root, "secret reply"));
    expect((await react(a, roomId, root, "🔒")).status).to.equal(200);
    expect((await edit(a, roomId, root, "secret edit")).status).to.equal(200);
    const check = (ev: any, where: string) => {
      expect(ev, where).to.be.an("object");
      const rel = ev.unsigned?.["m.relations"] ?? {};
      expect(rel["m.thread"]?.count, where).to.equal(1);
      expect(JSON.stringify(rel), where).to.not.match(/secret|🔒/);
      expect(rel["m.annotation"]?.chunk?.map((x: any) => x.key), where).to.deep.equal(["👍"]);
      expect(rel["m.replace"], where).to.equal(undefined);
    };
    check((await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(root)}`)).body, "/event");
    check((await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/context/${enc(root)}`)).body.event, "/context");
    const msgs = await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=50`);
    check(msgs.body.chunk.find((e: any) => e.event_id === root), "/messages");
    const threads = await b.get(`/_matrix/client/v1/rooms/${enc(roomId)}/threads`);
    check(threads.body.chunk.find((e: any) => e.event_id === root), "/threads");
    // a, still joined, sees everything.
    const mine = (await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(root)}`)).body.unsigned["m.relations"];
    expect(mine["m.thread"].count).to.equal(2);
    expect(mine["m.annotation"].chunk).to.have.length(2);
    expect(mine["m.replace"].content.body).to.equal("* secret edit");
  });

  it("a relation from another room relates to nothing: not aggregated, not a thread there", async () => {
    const a = await t.s.client().register();
    const mallory = await t.s.client().register();
    const secret = await createRoom(a, { preset: "private_chat" });
    const target = await send(a, secret, "private");
    const elsewhere = await createRoom(mallory, { preset: "public_chat" });
    expect((await react(mallory, elsewhere, target, "forged")).status).to.equal(200);
    const ref = await mallory.put(`/_matrix/client/v3/rooms/${enc(elsewhere)}/send/m.room.message/ref${txn++}`,
      { msgtype: "m.text", body: "see", "m.relates_to": { rel_type: "m.reference", event_id: target } });
    expect(ref.status).to.equal(200);
    // A thread from an event of another room is refused outright.
    const thread = await mallory.put(`/_matrix/client/v3/rooms/${enc(elsewhere)}/send/m.room.message/th${txn++}`, inThread(target, "forged thread"));
    expect(thread.status).to.equal(400);
    const ev = (await a.get(`/_matrix/client/v3/rooms/${enc(secret)}/event/${enc(target)}`)).body;
    expect(ev.unsigned?.["m.relations"], JSON.stringify(ev.unsigned)).to.equal(undefined);
  });
});
