// profile.yaml
import { expect } from "chai";
import { useServer } from "../helpers/server.js";

const enc = encodeURIComponent;

describe("profiles", () => {
  const t = useServer();

  it("sets and reads displayname and avatar_url", async () => {
    const u = await t.s.client().register();
    const base = `/_matrix/client/v3/profile/${enc(u.userId)}`;
    expect((await u.put(`${base}/displayname`, { displayname: "Alice A." })).status).to.equal(200);
    expect((await u.put(`${base}/avatar_url`, { avatar_url: "mxc://localhost/abc" })).status).to.equal(200);
    expect((await t.s.client().get(`${base}/displayname`)).body).to.deep.equal({ displayname: "Alice A." });
    expect((await t.s.client().get(`${base}/avatar_url`)).body).to.deep.equal({ avatar_url: "mxc://localhost/abc" });
    const all = await t.s.client().get(base);
    expect(all.status).to.equal(200);
    expect(all.body).to.deep.equal({ displayname: "Alice A.", avatar_url: "mxc://localhost/abc" });
  });

  it("stores custom keys and m.tz, and deletes fields", async () => {
    const u = await t.s.client().register();
    const base = `/_matrix/client/v3/profile/${enc(u.userId)}`;
    expect((await u.put(`${base}/m.tz`, { "m.tz": "Europe/London" })).status).to.equal(200);
    expect((await u.put(`${base}/org.example.pronouns`, { "org.example.pronouns": ["she", "her"] })).status).to.equal(200);
    expect((await u.get(base)).body).to.include({ "m.tz": "Europe/London" });
    expect((await u.del(`${base}/m.tz`)).status).to.equal(200);
    const gone = await u.get(`${base}/m.tz`);
    expect(gone.status).to.equal(404);
    expect(gone.body.errcode).to.equal("M_NOT_FOUND");
  });

  it("refuses to change someone else's profile: 403 M_FORBIDDEN", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const r = await b.put(`/_matrix/client/v3/profile/${enc(a.userId)}/displayname`, { displayname: "hijack" });
    expect(r.status).to.equal(403);
    expect(r.body.errcode).to.equal("M_FORBIDDEN");
  });

  it("validates values: wrong type and too long are M_BAD_JSON; a missing key is M_MISSING_PARAM", async () => {
    const u = await t.s.client().register();
    const base = `/_matrix/client/v3/profile/${enc(u.userId)}`;
    const wrongType = await u.put(`${base}/displayname`, { displayname: 42 });
    expect(wrongType.status).to.equal(400);
    expect(wrongType.body.errcode).to.equal("M_BAD_JSON");
    const tooLong = await u.put(`${base}/displayname`, { displayname: "x".repeat(300) });
    expect(tooLong.status).to.equal(400);
    const missing = await u.put(`${base}/displayname`, { other: "x" });
    expect(missing.status).to.equal(400);
    expect(missing.body.errcode).to.equal("M_MISSING_PARAM");
  });

  it("limits key size (M_KEY_TOO_LARGE) and profile size (M_PROFILE_TOO_LARGE)", async () => {
    const u = await t.s.client().register();
    const base = `/_matrix/client/v3/profile/${enc(u.userId)}`;
    const longKey = "k".repeat(300);
    const k = await u.put(`${base}/${longKey}`, { [longKey]: "v" });
    expect(k.status).to.equal(400);
    expect(k.body.errcode).to.equal("M_KEY_TOO_LARGE");
    const big = "x".repeat(40000);
    expect((await u.put(`${base}/org.example.a`, { "org.example.a": big })).status).to.equal(200);
    const over = await u.put(`${base}/org.example.b`, { "org.example.b": big });
    expect(over.status).to.equal(400);
    expect(over.body.errcode).to.equal("M_PROFILE_TOO_LARGE");
  });

  it("an unknown user: 404 M_NOT_FOUND; a malformed ID: 400 M_INVALID_PARAM", async () => {
    const r = await t.s.client().get(`/_matrix/client/v3/profile/${enc("@ghost:localhost")}`);
    expect(r.status).to.equal(404);
    expect(r.body.errcode).to.equal("M_NOT_FOUND");
    const bad = await t.s.client().get("/_matrix/client/v3/profile/not-a-user-id");
    expect(bad.status).to.equal(400);
    expect(bad.body.errcode).to.equal("M_INVALID_PARAM");
  });
});
