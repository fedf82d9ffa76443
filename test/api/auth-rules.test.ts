// The room authorisation rules, table-driven through the HTTP API: who may join, invite, kick,
// ban, unban, send state and change power levels.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, join, setState } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

describe("auth rules", () => {
  const t = useServer();

  /** A room owned by `owner` (100), with `mod` (50) and `member` (0) joined, and `outsider` not in it. */
  async function setup(preset = "public_chat") {
    const owner = await t.s.client().register();
    const mod = await t.s.client().register();
    const member = await t.s.client().register();
    const outsider = await t.s.client().register();
    const roomId = await createRoom(owner, { preset, power_level_content_override: { users: { [owner.userId]: 100, [mod.userId]: 50 } }, invite: preset === "public_chat" ? [] : [mod.userId, member.userId] });
    await join(mod, roomId);
    await join(member, roomId);
    return { owner, mod, member, outsider, roomId };
  }
  const post = (c: UserClient, roomId: string, action: string, body: Record<string, unknown>) => c.post(`/_matrix/client/v3/rooms/${enc(roomId)}/${action}`, body);

  describe("joining", () => {
    it("anyone may join a public room", async () => {
      const { outsider, roomId } = await setup();
      expect((await post(outsider, roomId, "join", {})).status).to.equal(200);
    });

    it("an invite-only room needs an invite: 403 M_FORBIDDEN", async () => {
      const { owner, outsider, roomId } = await setup("private_chat");
      const r = await post(outsider, roomId, "join", {});
      expect(r.status).to.equal(403);
      expect(r.body.errcode).to.equal("M_FORBIDDEN");
      await post(owner, roomId, "invite", { user_id: outsider.userId });
      expect((await post(outsider, roomId, "join", {})).status).to.equal(200);
    });

    it("a banned user cannot join", async () => {
      const { owner, outsider, roomId } = await setup();
      expect((await post(owner, roomId, "ban", { user_id: outsider.userId })).status).to.equal(200);
      expect((await post(outsider, roomId, "join", {})).status).to.equal(403);
    });

    it("joining an unknown room or alias is 404 M_NOT_FOUND", async () => {
      const { outsider } = await setup();
      const r = await outsider.post(`/_matrix/client/v3/join/${enc("#nowhere:localhost")}`, {});
      expect(r.status).to.equal(404);
      expect(r.body.errcode).to.equal("M_NOT_FOUND");
      const r2 = await outsider.post(`/_matrix/client/v3/join/${enc("!nowhere:localhost")}`, {});
      expect(r2.status).to.equal(404);
    });

    it("joins by alias, and carries the reason", async () => {
      const owner = await t.s.client().register();
      const joiner = await t.s.client().register();
      const roomId = await createRoom(owner, { preset: "public_chat", room_alias_name: `a${Date.now()}` });
      const alias = (await owner.get(`/_matrix/client/v3/rooms/${enc(roomId)}/aliases`)).body.aliases[0];
      const r = await joiner.post(`/_matrix/client/v3/join/${enc(alias)}`, { reason: "hello" });
      expect(r.body.room_id).to.equal(roomId);
      const m = await joiner.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.member/${enc(joiner.userId)}`);
      expect(m.body).to.include({ membership: "join", reason: "hello" });
    });
  });

  // [actor, action, target, allowed]
  const table: [string, string, string, boolean][] = [
    ["member", "invite", "outsider", true],      // invite level 0
    ["outsider", "invite", "member", false],     // not in the room
    ["member", "kick", "mod", false],            // level 0 < kick 50
    ["mod", "kick", "member", true],             // 50 >= 50 and target 0 < 50
    ["mod", "kick", "owner", false],             // target level above
    ["owner", "kick", "mod", true],
    ["mod", "ban", "member", true],
    ["member", "ban", "mod", false],
    ["mod", "ban", "owner", false],
    ["outsider", "ban", "member", false],
  ];
  for (const [actor, action, target, allowed] of table) {
    it(`${actor} ${action} ${target}: ${allowed ? "allowed" : "403 M_FORBIDDEN"}`, async () => {
      const s = await setup() as unknown as Record<string, UserClient> & { roomId: string };
      const r = await post(s[actor]!, s.roomId, action, { user_id: s[target]!.userId, reason: "test" });
      if (allowed) {
        expect(r.status, r.text).to.equal(200);
        const expected = action === "kick" ? "leave" : action;
        const m = await s.owner!.get(`/_matrix/client/v3/rooms/${enc(s.roomId)}/state/m.room.member/${enc(s[target]!.userId)}`);
        expect(m.body.membership).to.equal(expected);
        expect(m.body.reason).to.equal("test");
      } else {
        expect(r.status, r.text).to.equal(403);
        expect(r.body.errcode).to.equal("M_FORBIDDEN");
      }
    });
  }

  it("unban needs the ban level; unbanning someone not banned is refused", async () => {
    const { owner, member, outsider, roomId } = await setup();
    await post(owner, roomId, "ban", { user_id: outsider.userId });
    expect((await post(member, roomId, "unban", { user_id: outsider.userId })).status).to.equal(403);
    expect((await post(owner, roomId, "unban", { user_id: outsider.userId })).status).to.equal(200);
    const m = await owner.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.member/${enc(outsider.userId)}`);
    expect(m.body.membership).to.equal("leave");
    const again = await post(owner, roomId, "unban", { user_id: outsider.userId });
    expect(again.status).to.equal(403);
  });

  it("inviting someone already joined is refused", async () => {
    const { owner, member, roomId } = await setup();
    expect((await post(owner, roomId, "invite", { user_id: member.userId })).status).to.equal(403);
  });

  it("an invited user may decline (leave)", async () => {
    const { owner, outsider, roomId } = await setup("private_chat");
    await post(owner, roomId, "invite", { user_id: outsider.userId });
    expect((await post(outsider, roomId, "leave", {})).status).to.equal(200);
    const m = await owner.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.member/${enc(outsider.userId)}`);
    expect(m.body.membership).to.equal("leave");
  });

  it("leave, then forget; forgetting while joined is 400", async () => {
    const { member, roomId } = await setup();
    const early = await post(member, roomId, "forget", {});
    expect(early.status).to.equal(400);
    expect((await post(member, roomId, "leave", {})).status).to.equal(200);
    expect((await post(member, roomId, "forget", {})).status).to.equal(200);
    expect((await member.get("/_matrix/client/v3/joined_rooms")).body.joined_rooms).to.not.include(roomId);
  });

  describe("state and power levels", () => {
    it("state needs state_default (50): a member cannot rename, a moderator can", async () => {
      const { mod, member, roomId } = await setup();
      const denied = await setState(member, roomId, "m.room.topic", { topic: "x" });
      expect(denied.status).to.equal(403);
      expect(denied.body.errcode).to.equal("M_FORBIDDEN");
      expect((await setState(mod, roomId, "m.room.topic", { topic: "x" })).status).to.equal(200);
    });

    it("a state key naming another user is refused; one's own is allowed", async () => {
      const { owner, member, roomId } = await setup();
      expect((await setState(owner, roomId, "org.example.per_user", { a: 1 }, member.userId)).status).to.equal(403);
      expect((await setState(owner, roomId, "org.example.per_user", { a: 1 }, owner.userId)).status).to.equal(200);
    });

    it("events_default gates messages", async () => {
      const { owner, member, roomId } = await setup();
      const pl = (await owner.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.power_levels`)).body;
      expect((await setState(owner, roomId, "m.room.power_levels", { ...pl, events_default: 10 })).status).to.equal(200);
      const r = await member.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/x`, { msgtype: "m.text", body: "x" });
      expect(r.status).to.equal(403);
    });

    const plCases: [string, (pl: any, s: any) => any, boolean][] = [
      ["mod raises member to 50 (its own level)", (pl, s) => ({ ...pl, users: { ...pl.users, [s.member.userId]: 50 } }), true],
      ["mod raises member above its own level", (pl, s) => ({ ...pl, users: { ...pl.users, [s.member.userId]: 51 } }), false],
      ["mod lowers the owner", (pl, s) => ({ ...pl, users: { ...pl.users, [s.owner.userId]: 0 } }), false],
      ["mod changes ban (50 → 40)", (pl) => ({ ...pl, ban: 40 }), true],
      ["mod raises an event level above its own (power_levels 50 → 100)", (pl) => ({ ...pl, events: { ...pl.events, "m.room.power_levels": 100 } }), false],
      ["mod changes an event level that is above its own (tombstone 100 → 50)", (pl) => ({ ...pl, events: { ...pl.events, "m.room.tombstone": 50 } }), false],
      ["mod demotes itself", (pl, s) => ({ ...pl, users: { ...pl.users, [s.mod.userId]: 10 } }), true],
      ["a non-integer level", (pl) => ({ ...pl, kick: "50" }), false],
    ];
    for (const [name, change, allowed] of plCases) {
      it(`power levels: ${name}: ${allowed ? "allowed" : "refused"}`, async () => {
        const s = await setup();
        const pl = (await s.owner.get(`/_matrix/client/v3/rooms/${enc(s.roomId)}/state/m.room.power_levels`)).body;
        // Let moderators send power levels, so the change rules (not the event level) decide.
        expect((await setState(s.owner, s.roomId, "m.room.power_levels", { ...pl, events: { ...pl.events, "m.room.power_levels": 50 } })).status).to.equal(200);
        const cur = (await s.owner.get(`/_matrix/client/v3/rooms/${enc(s.roomId)}/state/m.room.power_levels`)).body;
        const r = await setState(s.mod, s.roomId, "m.room.power_levels", change(cur, s));
        expect(r.status, r.text).to.equal(allowed ? 200 : 403);
        if (!allowed) expect(r.body.errcode).to.equal("M_FORBIDDEN");
      });
    }
  });
});
