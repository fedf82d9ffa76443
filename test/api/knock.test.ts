// knocking.yaml: asking to join a room whose join rule is knock.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, setState } from "../helpers/rooms.js";

describe("knocking", () => {
  const t = useServer();

  it("knock, the room sees it, the knocker sees knock_state; an invite lets them in; public rooms refuse knocks", async () => {
    const admin = await t.s.client().register();
    const guest = await t.s.client().register();
    const roomId = await createRoom(admin, { name: "Knock here" });
    expect((await setState(admin, roomId, "m.room.join_rules", { join_rule: "knock" })).status).to.equal(200);
    const a0 = await admin.get("/_matrix/client/v3/sync");
    const g0 = await guest.get("/_matrix/client/v3/sync");
    const k = await guest.post(`/_matrix/client/v3/knock/${enc(roomId)}`, { reason: "let me in" });
    expect(k.status, k.text).to.equal(200);
    expect(k.body.room_id).to.equal(roomId);
    const g1 = await guest.get(`/_matrix/client/v3/sync?since=${enc(g0.body.next_batch)}&timeout=5000`);
    const ks = g1.body.rooms.knock[roomId].knock_state.events;
    expect(ks.find((e: any) => e.type === "m.room.name").content.name).to.equal("Knock here");
    expect(ks.find((e: any) => e.type === "m.room.member" && e.state_key === guest.userId).content.membership).to.equal("knock");
    const a1 = await admin.get(`/_matrix/client/v3/sync?since=${enc(a0.body.next_batch)}&timeout=5000`);
    const knockEv = a1.body.rooms.join[roomId].timeline.events.find((e: any) => e.type === "m.room.member" && e.state_key === guest.userId);
    expect(knockEv.content).to.include({ membership: "knock", reason: "let me in" });
    expect((await admin.post(`/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: guest.userId })).status).to.equal(200);
    expect((await guest.post(`/_matrix/client/v3/join/${enc(roomId)}`, {})).status).to.equal(200);
    const pub = await createRoom(admin, { preset: "public_chat" });
    expect((await guest.post(`/_matrix/client/v3/knock/${enc(pub)}`, {})).status).to.equal(403);
  });
});
