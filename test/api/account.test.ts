// password_management.yaml, account_deactivation.yaml
import { expect } from "chai";
import { useServer } from "../helpers/server.js";

const LOGIN = "/_matrix/client/v3/login";
const WHOAMI = "/_matrix/client/v3/account/whoami";

describe("account management", () => {
  const t = useServer();
  const pwAuth = (user: string, password: string, session?: string) =>
    ({ type: "m.login.password", identifier: { type: "m.id.user", user }, password, ...(session ? { session } : {}) });

  describe("POST /account/password", () => {
    it("asks for the current password, then changes it and logs out other devices", async () => {
      const u = await t.s.client().register(undefined, "old-password");
      const other = await t.s.client().post(LOGIN, { type: "m.login.password", user: u.userId, password: "old-password" });
      const first = await u.post("/_matrix/client/v3/account/password", { new_password: "new-password" });
      expect(first.status).to.equal(401);
      expect(first.body.flows).to.deep.equal([{ stages: ["m.login.password"] }]);
      const wrong = await u.post("/_matrix/client/v3/account/password", { new_password: "new-password", auth: pwAuth(u.userId, "nope", first.body.session) });
      expect(wrong.status).to.equal(401);
      expect(wrong.body.errcode).to.equal("M_FORBIDDEN");
      const ok = await u.post("/_matrix/client/v3/account/password", { new_password: "new-password", auth: pwAuth(u.userId, "old-password", first.body.session) });
      expect(ok.status).to.equal(200);
      expect((await u.get(WHOAMI)).status, "the requesting token stays").to.equal(200);
      expect((await t.s.client(other.body.access_token).get(WHOAMI)).status, "other devices are logged out").to.equal(401);
      const oldLogin = await t.s.client().post(LOGIN, { type: "m.login.password", user: u.userId, password: "old-password" });
      expect(oldLogin.status).to.equal(403);
      const newLogin = await t.s.client().post(LOGIN, { type: "m.login.password", user: u.userId, password: "new-password" });
      expect(newLogin.status).to.equal(200);
    });

    it("logout_devices: false keeps other devices", async () => {
      const u = await t.s.client().register(undefined, "pw1");
      const other = await t.s.client().post(LOGIN, { type: "m.login.password", user: u.userId, password: "pw1" });
      const ok = await u.post("/_matrix/client/v3/account/password", { new_password: "pw2", logout_devices: false, auth: pwAuth(u.userId, "pw1") });
      expect(ok.status).to.equal(200);
      expect((await t.s.client(other.body.access_token).get(WHOAMI)).status).to.equal(200);
    });

    it("without new_password: 400 M_MISSING_PARAM", async () => {
      const u = await t.s.client().register();
      const r = await u.post("/_matrix/client/v3/account/password", { auth: pwAuth(u.userId, u.password) });
      expect(r.status).to.equal(400);
      expect(r.body.errcode).to.equal("M_MISSING_PARAM");
    });
  });

  describe("POST /account/deactivate", () => {
    it("after UIA: tokens revoked, login refused, the ID stays taken", async () => {
      const u = await t.s.client().register("deactivated_one", "pw");
      const first = await u.post("/_matrix/client/v3/account/deactivate", {});
      expect(first.status).to.equal(401);
      const ok = await u.post("/_matrix/client/v3/account/deactivate", { auth: pwAuth(u.userId, "pw", first.body.session) });
      expect(ok.status).to.equal(200);
      expect(ok.body.id_server_unbind_result).to.equal("no-support");
      expect((await u.get(WHOAMI)).status).to.equal(401);
      const login = await t.s.client().post(LOGIN, { type: "m.login.password", user: "deactivated_one", password: "pw" });
      expect(login.status).to.equal(403);
      const again = await t.s.client().post("/_matrix/client/v3/register", { username: "deactivated_one", password: "pw", auth: { type: "m.login.dummy" } });
      expect(again.body.errcode).to.equal("M_USER_IN_USE");
    });

    it("erase: the user's messages are redacted for people who join afterwards, not for those who were there", async () => {
      const [a, member, joiner] = [await t.s.client().register(undefined, "pw"), await t.s.client().register(), await t.s.client().register()];
      const roomId = (await a.post("/_matrix/client/v3/createRoom", { preset: "public_chat" })).body.room_id;
      await member.post(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {});
      const sent = (await a.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/e1`, { msgtype: "m.text", body: "body1" })).body.event_id;
      await joiner.post(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {});
      const room = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;
      const bodyIn = async (u: typeof a, how: "sync" | "messages" | "event" | "context"): Promise<unknown> => {
        if (how === "sync") return (await u.get("/_matrix/client/v3/sync")).body.rooms.join[roomId].timeline.events.find((e: any) => e.event_id === sent)?.content;
        if (how === "messages") return (await u.get(`${room}/messages?dir=b&limit=20`)).body.chunk.find((e: any) => e.event_id === sent)?.content;
        if (how === "event") return (await u.get(`${room}/event/${encodeURIComponent(sent)}`)).body.content;
        return (await u.get(`${room}/context/${encodeURIComponent(sent)}`)).body.event.content;
      };
      expect(await bodyIn(joiner, "event")).to.deep.equal({ msgtype: "m.text", body: "body1" }); // shared history: seen before the erasure
      const first = await a.post("/_matrix/client/v3/account/deactivate", { erase: true });
      expect((await a.post("/_matrix/client/v3/account/deactivate", { erase: true, auth: pwAuth(a.userId, "pw", first.body.session) })).status).to.equal(200);
      for (const how of ["sync", "messages", "event", "context"] as const) {
        expect(await bodyIn(member, how), `member, ${how}`).to.deep.equal({ msgtype: "m.text", body: "body1" });
        expect(await bodyIn(joiner, how), `joiner, ${how}`).to.deep.equal({});
      }
    });

    it("erase: an erased user's reply carried as a thread's latest event is redacted too, for those who were not there", async () => {
      const [a, root, joiner] = [await t.s.client().register(undefined, "pw"), await t.s.client().register(), await t.s.client().register()];
      const roomId = (await root.post("/_matrix/client/v3/createRoom", { preset: "public_chat" })).body.room_id;
      const room = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;
      await a.post(`${room}/join`, {});
      const rootId = (await root.put(`${room}/send/m.room.message/r1`, { msgtype: "m.text", body: "thread root" })).body.event_id;
      await a.put(`${room}/send/m.room.message/r2`, { msgtype: "m.text", body: "secret reply", "m.relates_to": { rel_type: "m.thread", event_id: rootId } });
      await joiner.post(`${room}/join`, {});
      const first = await a.post("/_matrix/client/v3/account/deactivate", { erase: true });
      expect((await a.post("/_matrix/client/v3/account/deactivate", { erase: true, auth: pwAuth(a.userId, "pw", first.body.session) })).status).to.equal(200);
      const latest = async (u: typeof a) => (await u.get(`${room}/event/${encodeURIComponent(rootId)}`)).body.unsigned?.["m.relations"]?.["m.thread"]?.latest_event;
      expect((await latest(root)).content.body).to.equal("secret reply"); // there when it was sent
      const seen = await latest(joiner);
      expect(seen.sender).to.equal(a.userId);
      expect(seen.content).to.deep.equal({});
      expect(JSON.stringify(await joiner.get(`${room}/messages?dir=b&limit=20`))).to.not.contain("secret reply");
    });

    it("a wrong password does not deactivate", async () => {
      const u = await t.s.client().register(undefined, "pw");
      const r = await u.post("/_matrix/client/v3/account/deactivate", { auth: pwAuth(u.userId, "wrong") });
      expect(r.status).to.equal(401);
      expect((await u.get(WHOAMI)).status).to.equal(200);
    });
  });
});
