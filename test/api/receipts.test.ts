// receipts.yaml, read_markers.yaml: receipts in /sync, private receipts, forward only, threads.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { enc, send, twoInRoom } from "../helpers/rooms.js";

describe("receipts and read markers", () => {
  const t = useServer();

  async function setup() {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const e1 = await send(a, roomId, "one");
    const e2 = await send(a, roomId, "two");
    return { a, b, roomId, e1, e2 };
  }
  const receiptsIn = (sync: any, roomId: string) =>
    (sync.body.rooms.join[roomId]?.ephemeral.events ?? []).filter((e: any) => e.type === "m.receipt");

  it("an m.read receipt reaches the other member's /sync, waking a long-poll", async () => {
    const { a, b, roomId, e2 } = await setup();
    const s0 = await a.get("/_matrix/client/v3/sync");
    const poll = a.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}&timeout=10000`);
    await new Promise((r) => setTimeout(r, 200));
    const r = await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(e2)}`, {});
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({});
    const s1 = await poll;
    const rec = receiptsIn(s1, roomId);
    expect(rec).to.have.length(1);
    expect(rec[0].content[e2]["m.read"][b.userId].ts).to.be.a("number");
    // The initial sync carries the current receipts too.
    const initial = await a.get("/_matrix/client/v3/sync");
    expect(receiptsIn(initial, roomId)[0].content[e2]["m.read"]).to.have.property(b.userId);
  });

  it("m.read.private is shown to its owner only", async () => {
    const { a, b, roomId, e1 } = await setup();
    const sa = await a.get("/_matrix/client/v3/sync");
    const sb = await b.get("/_matrix/client/v3/sync");
    expect((await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read.private/${enc(e1)}`, {})).status).to.equal(200);
    const mine = await b.get(`/_matrix/client/v3/sync?since=${sb.body.next_batch}`);
    expect(receiptsIn(mine, roomId)[0].content[e1]["m.read.private"]).to.have.property(b.userId);
    const theirs = await a.get(`/_matrix/client/v3/sync?since=${sa.body.next_batch}&timeout=0`);
    expect(receiptsIn(theirs, roomId)).to.deep.equal([]);
    const theirsInitial = await a.get("/_matrix/client/v3/sync");
    expect(JSON.stringify(receiptsIn(theirsInitial, roomId))).to.not.include("m.read.private");
  });

  it("receipts never move backwards", async () => {
    const { a, b, roomId, e1, e2 } = await setup();
    await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(e2)}`, {});
    const s0 = await a.get("/_matrix/client/v3/sync");
    const back = await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(e1)}`, {});
    expect(back.status).to.equal(200);
    const s1 = await a.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}&timeout=0`);
    expect(receiptsIn(s1, roomId)).to.deep.equal([]);
    const now = await a.get("/_matrix/client/v3/sync");
    const content = receiptsIn(now, roomId)[0].content;
    expect(content[e2]["m.read"]).to.have.property(b.userId);
    expect(content[e1]?.["m.read"]?.[b.userId]).to.equal(undefined);
  });

  it("threaded receipts are kept per thread and carry thread_id", async () => {
    const { a, b, roomId, e1, e2 } = await setup();
    expect((await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(e2)}`, { thread_id: "main" })).status).to.equal(200);
    expect((await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(e1)}`, { thread_id: e1 })).status).to.equal(200);
    const s = await a.get("/_matrix/client/v3/sync");
    const content = receiptsIn(s, roomId)[0].content;
    expect(content[e2]["m.read"][b.userId].thread_id).to.equal("main");
    expect(content[e1]["m.read"][b.userId].thread_id).to.equal(e1);
  });

  it("bad receipts: unknown type, bad thread_id, unknown event, not a member", async () => {
    const { a, roomId, e1 } = await setup();
    const outsider = await t.s.client().register();
    const base = `/_matrix/client/v3/rooms/${enc(roomId)}/receipt`;
    expect((await a.post(`${base}/m.seen/${enc(e1)}`, {})).body.errcode).to.equal("M_INVALID_PARAM");
    expect((await a.post(`${base}/m.read/${enc(e1)}`, { thread_id: "" })).body.errcode).to.equal("M_INVALID_PARAM");
    expect((await a.post(`${base}/m.read/${enc(e1)}`, { thread_id: 5 })).status).to.equal(400);
    expect((await a.post(`${base}/m.fully_read/${enc(e1)}`, { thread_id: "main" })).body.errcode).to.equal("M_INVALID_PARAM");
    expect((await a.post(`${base}/m.read/${enc("$nope")}`, {})).status).to.equal(404);
    expect((await outsider.post(`${base}/m.read/${enc(e1)}`, {})).status).to.equal(403);
  });

  it("read_markers sets m.fully_read (room account data) and the receipts", async () => {
    const { a, b, roomId, e1, e2 } = await setup();
    const s0 = await b.get("/_matrix/client/v3/sync");
    const r = await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/read_markers`, { "m.fully_read": e1, "m.read": e2 });
    expect(r.status).to.equal(200);
    const s1 = await b.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}`);
    const room = s1.body.rooms.join[roomId];
    expect(room.account_data.events).to.deep.include({ type: "m.fully_read", content: { event_id: e1 } });
    expect(receiptsIn(s1, roomId)[0].content[e2]["m.read"]).to.have.property(b.userId);
    const marker = await b.get(`/_matrix/client/v3/user/${enc(b.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`);
    expect(marker.body).to.deep.equal({ event_id: e1 });
    void a;
  });
});
