// Paths the broader suites do not reach directly.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc } from "../helpers/rooms.js";

describe("push rules, passwordless re-auth, remote invites", () => {
  const t = useServer();

  it("GET /pushrules/ serves the spec's default rule set for the user", async () => {
    const u = await t.s.client().register();
    const r = await u.get("/_matrix/client/v3/pushrules/");
    expect(r.status).to.equal(200);
    const g = r.body.global;
    for (const kind of ["override", "content", "room", "sender", "underride"]) expect(g[kind], kind).to.be.an("array");
    const ids = g.override.map((x: any) => x.rule_id);
    expect(ids[0]).to.equal(".m.rule.master");
    expect(ids).to.include.members([".m.rule.suppress_notices", ".m.rule.invite_for_me", ".m.rule.is_user_mention"]);
    expect(g.underride.map((x: any) => x.rule_id)).to.include(".m.rule.message");
    // The user's own ID replaces the spec's placeholder.
    expect(JSON.stringify(g)).to.include(u.userId);
    expect(JSON.stringify(g)).to.not.include("[the user's Matrix ID]");
    expect((await u.get("/_matrix/client/v3/pushrules/global/")).body.override[0].rule_id).to.equal(".m.rule.master");
    expect((await t.s.client().get("/_matrix/client/v3/pushrules/")).status).to.equal(401);
  });

  it("an account without a password re-authenticates with the dummy stage", async () => {
    const reg = await t.s.client().post("/_matrix/client/v3/register", { username: "nopassword", auth: { type: "m.login.dummy" } });
    expect(reg.status).to.equal(200);
    const u = t.s.client(reg.body.access_token);
    const challenge = await u.post("/_matrix/client/v3/delete_devices", { devices: ["X"] });
    expect(challenge.status).to.equal(401);
    expect(challenge.body.flows).to.deep.equal([{ stages: ["m.login.dummy"] }]);
    // And it cannot log in with a password at all.
    const login = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", user: "nopassword", password: "" });
    expect(login.status).to.equal(403);
  });

  it("inviting a user of another server is refused (no federation)", async () => {
    const u = await t.s.client().register();
    const roomId = await createRoom(u);
    const r = await u.post(`/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: "@someone:elsewhere.example" });
    expect(r.status).to.equal(403);
    expect(r.body.errcode).to.equal("M_FORBIDDEN");
  });
});

describe("size limits on account data and filters", () => {
  const t = useServer();

  it("account data and filters over 64 KiB are 413 M_TOO_LARGE", async () => {
    const u = await t.s.client().register();
    const big = "x".repeat(70_000);
    const ad = await u.put(`/_matrix/client/v3/user/${enc(u.userId)}/account_data/org.example.big`, { big });
    expect(ad.status).to.equal(413);
    expect(ad.body.errcode).to.equal("M_TOO_LARGE");
    const f = await u.post(`/_matrix/client/v3/user/${enc(u.userId)}/filter`, { room: { rooms: Array.from({ length: 5000 }, (_, i) => `!room${i}:localhost`) } });
    expect(f.status).to.equal(413);
    expect(f.body.errcode).to.equal("M_TOO_LARGE");
  });
});
