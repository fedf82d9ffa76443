// typing.yaml: typing notifications in /sync, expiry by the server, permissions.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { enc, twoInRoom } from "../helpers/rooms.js";

describe("typing", () => {
  const t = useServer();

  const setup = () => twoInRoom(t.s.client());
  const typingIn = (sync: any, roomId: string) =>
    (sync.body.rooms.join[roomId]?.ephemeral.events ?? []).filter((e: any) => e.type === "m.typing").map((e: any) => e.content.user_ids);

  it("typing wakes the other member's long-poll; stopping is delivered too", async () => {
    const { a, b, roomId } = await setup();
    const s0 = await a.get("/_matrix/client/v3/sync");
    const poll = a.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}&timeout=10000`);
    await new Promise((r) => setTimeout(r, 200));
    const r = await b.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(b.userId)}`, { typing: true, timeout: 30000 });
    expect(r.status).to.equal(200);
    const s1 = await poll;
    expect(typingIn(s1, roomId)).to.deep.equal([[b.userId]]);
    // Renewing does not make a new notification.
    await b.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(b.userId)}`, { typing: true, timeout: 30000 });
    const quiet = await a.get(`/_matrix/client/v3/sync?since=${s1.body.next_batch}&timeout=0`);
    expect(typingIn(quiet, roomId)).to.deep.equal([]);
    await b.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(b.userId)}`, { typing: false });
    const s2 = await a.get(`/_matrix/client/v3/sync?since=${s1.body.next_batch}&timeout=5000`);
    expect(typingIn(s2, roomId)).to.deep.equal([[]]);
  });

  it("the server ends typing by itself when the timeout passes", async () => {
    const { a, b, roomId } = await setup();
    await b.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(b.userId)}`, { typing: true, timeout: 300 });
    const s0 = await a.get("/_matrix/client/v3/sync");
    expect(typingIn(s0, roomId)).to.deep.equal([[b.userId]]);
    const s1 = await a.get(`/_matrix/client/v3/sync?since=${s0.body.next_batch}&timeout=5000`);
    expect(typingIn(s1, roomId)).to.deep.equal([[]]);
    const later = await a.get("/_matrix/client/v3/sync");
    expect(typingIn(later, roomId)).to.deep.equal([]);
  });

  it("refused for someone else's user ID, outside the room, or without `typing`", async () => {
    const { a, b, roomId } = await setup();
    const outsider = await t.s.client().register();
    expect((await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(b.userId)}`, { typing: true })).status).to.equal(403);
    expect((await outsider.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(outsider.userId)}`, { typing: true })).status).to.equal(403);
    const missing = await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(a.userId)}`, {});
    expect(missing.status).to.equal(400);
    expect(missing.body.errcode).to.equal("M_MISSING_PARAM");
  });
});
