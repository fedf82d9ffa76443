// presence.yaml: status, visibility to room-mates only, sync delivery, going offline, switched off.
import { expect } from "chai";
import { startTestServer, useServer } from "../helpers/server.js";
import { enc, twoInRoom } from "../helpers/rooms.js";

const presenceOf = (sync: any, userId: string) => sync.body.presence.events.find((e: any) => e.sender === userId)?.content;

describe("presence", () => {
  const t = useServer({ presence: { offline_after_ms: 400 } });

  it("PUT and GET status; room-mates see it, strangers get 403, unknown users 404", async () => {
    const { a, b } = await twoInRoom(t.s.client());
    const stranger = await t.s.client().register();
    expect((await a.put(`/_matrix/client/v3/presence/${enc(a.userId)}/status`, { presence: "unavailable", status_msg: "lunch" })).status).to.equal(200);
    const seen = await b.get(`/_matrix/client/v3/presence/${enc(a.userId)}/status`);
    expect(seen.status).to.equal(200);
    expect(seen.body).to.include({ presence: "unavailable", status_msg: "lunch" });
    expect(seen.body.last_active_ago).to.be.a("number");
    expect((await stranger.get(`/_matrix/client/v3/presence/${enc(a.userId)}/status`)).status).to.equal(403);
    expect((await a.get(`/_matrix/client/v3/presence/${enc("@nobody:localhost")}/status`)).status).to.equal(404);
    expect((await b.put(`/_matrix/client/v3/presence/${enc(a.userId)}/status`, { presence: "online" })).status).to.equal(403);
    expect((await a.put(`/_matrix/client/v3/presence/${enc(a.userId)}/status`, { presence: "dancing" })).status).to.equal(400);
  });

  it("syncing marks a user online, which reaches room-mates' long-polls but not strangers'", async () => {
    const { a, b } = await twoInRoom(t.s.client());
    const stranger = await t.s.client().register();
    const s0 = await a.get("/_matrix/client/v3/sync?set_presence=offline");
    const st0 = await stranger.get("/_matrix/client/v3/sync?set_presence=offline");
    const poll = a.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}&timeout=10000&set_presence=offline`);
    await new Promise((r) => setTimeout(r, 200));
    await b.get("/_matrix/client/v3/sync?timeout=0");
    const s1 = await poll;
    expect(presenceOf(s1, b.userId)?.presence).to.equal("online");
    const st1 = await stranger.get(`/_matrix/client/v3/sync?since=${st0.body.next_batch}&timeout=0&set_presence=offline`);
    expect(presenceOf(st1, b.userId)).to.equal(undefined);
    // Syncing again changes nothing: no new presence event.
    await b.get("/_matrix/client/v3/sync?timeout=0");
    const s2 = await a.get(`/_matrix/client/v3/sync?since=${s1.body.next_batch}&timeout=0&set_presence=offline`);
    expect(presenceOf(s2, b.userId)).to.equal(undefined);
  });

  it("a user who stops syncing goes offline by itself", async () => {
    const { a, b } = await twoInRoom(t.s.client());
    await b.get("/_matrix/client/v3/sync?timeout=0");
    const s0 = await a.get("/_matrix/client/v3/sync?set_presence=offline");
    expect(presenceOf(s0, b.userId)?.presence).to.equal("online");
    const s1 = await a.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}&timeout=5000&set_presence=offline`);
    expect(presenceOf(s1, b.userId)?.presence).to.equal("offline");
  });
});

describe("presence switched off", () => {
  it("no presence events, and everyone reads as offline", async () => {
    const s = await startTestServer({ presence: { enabled: false } });
    try {
      const { a, b } = await twoInRoom(s.client());
      await b.put(`/_matrix/client/v3/presence/${enc(b.userId)}/status`, { presence: "online", status_msg: "hi" });
      await b.get("/_matrix/client/v3/sync?timeout=0");
      const sync = await a.get("/_matrix/client/v3/sync");
      expect(sync.body.presence.events).to.deep.equal([]);
      expect((await a.get(`/_matrix/client/v3/presence/${enc(b.userId)}/status`)).body).to.deep.equal({ presence: "offline" });
    } finally {
      await s.hs.close();
    }
  });
});

describe("presence in big rooms", () => {
  it("is shared only through rooms of at most presence.max_room_members (a direct chat still carries it)", async () => {
    const s = await startTestServer({ presence: { max_room_members: 2 } });
    try {
      const { a, b } = await twoInRoom(s.client());
      const c = await s.client().register();
      // a and c share only a room of three: over the limit.
      const big = (await a.post("/_matrix/client/v3/createRoom", { preset: "public_chat" })).body.room_id;
      await b.post(`/_matrix/client/v3/join/${enc(big)}`, {});
      await c.post(`/_matrix/client/v3/join/${enc(big)}`, {});
      const s0 = await a.get("/_matrix/client/v3/sync?set_presence=offline");
      await b.get("/_matrix/client/v3/sync?timeout=0");
      await c.get("/_matrix/client/v3/sync?timeout=0");
      await new Promise((r) => setTimeout(r, 300)); // presence is announced in batches
      const s1 = await a.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}&timeout=0&set_presence=offline`);
      expect(presenceOf(s1, b.userId)?.presence).to.equal("online");
      expect(presenceOf(s1, c.userId)).to.equal(undefined);
      // Asking directly still answers for any room-mate.
      expect((await a.get(`/_matrix/client/v3/presence/${enc(c.userId)}/status`)).body.presence).to.equal("online");
    } finally {
      await s.hs.close();
    }
  });
});
