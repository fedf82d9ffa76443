// Guest access (spec: guest access): guests join rooms that let them, chat and sync there, are
// removed when guest access is revoked, and can upgrade to a full account keeping their ID.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, send, setState } from "../helpers/rooms.js";
import { UserClient } from "../helpers/client.js";

describe("guests", () => {
  const t = useServer({ registration: { allow_guests: true } });

  async function guest(): Promise<UserClient> {
    const r = await t.s.client().post("/_matrix/client/v3/register?kind=guest", {});
    expect(r.status, r.text).to.equal(200);
    return Object.assign(new UserClient(t.s.hs.url, r.body.access_token), { userId: r.body.user_id, deviceId: r.body.device_id });
  }

  it("join only rooms with guest_access can_join; send and sync there; removed when it is revoked", async () => {
    const a = await t.s.client().register();
    const g = await guest();
    const closed = await createRoom(a, { preset: "public_chat" });
    const refused = await g.post(`/_matrix/client/v3/join/${enc(closed)}`, {});
    expect(refused.status).to.equal(403);
    expect(refused.body.errcode).to.equal("M_FORBIDDEN");
    const open = await createRoom(a, { preset: "public_chat" });
    await setState(a, open, "m.room.guest_access", { guest_access: "can_join" });
    expect((await g.post(`/_matrix/client/v3/rooms/${enc(open)}/join`, {})).status).to.equal(200);
    expect((await g.put(`/_matrix/client/v3/profile/${enc(g.userId)}/displayname`, { displayname: "Visitor" })).status).to.equal(200);
    const id = await send(g, open, "hello as a guest");
    const s = await g.get("/_matrix/client/v3/sync");
    expect(s.body.rooms.join[open].timeline.events.map((e: any) => e.event_id)).to.include(id);
    await setState(a, open, "m.room.guest_access", { guest_access: "forbidden" });
    for (let i = 0; i < 50; i++) {
      const m = await a.get(`/_matrix/client/v3/rooms/${enc(open)}/state/m.room.member/${enc(g.userId)}`);
      if (m.body.membership === "leave") return;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect.fail("the guest was not removed");
  });

  it("a guest upgrades to a full account with its own token and localpart, keeping its user ID", async () => {
    const g = await guest();
    const other = await guest();
    const localpart = g.userId.slice(1, g.userId.indexOf(":"));
    const body = { username: localpart, password: "a long enough password", guest_access_token: g.token, auth: { type: "m.login.dummy" } };
    const wrong = await t.s.client().post("/_matrix/client/v3/register", { ...body, guest_access_token: other.token });
    expect(wrong.status).to.equal(403);
    const r = await t.s.client().post("/_matrix/client/v3/register", body);
    expect(r.status, r.text).to.equal(200);
    expect(r.body.user_id).to.equal(g.userId);
    const full = new UserClient(t.s.hs.url, r.body.access_token);
    // A full account may now do what guests may not (create a room).
    expect((await full.post("/_matrix/client/v3/createRoom", {})).status).to.equal(200);
    const login = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: g.userId }, password: "a long enough password" });
    expect(login.status).to.equal(200);
  });
});
