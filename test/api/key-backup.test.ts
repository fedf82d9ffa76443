// key_backup.yaml: versions, keys stored and replaced only by better copies, wrong versions refused.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";

const key = (fmi: number, verified = false, fwd = 0) => ({ first_message_index: fmi, forwarded_count: fwd, is_verified: verified, session_data: { ciphertext: `c${fmi}${verified}${fwd}` } });

describe("key backup", () => {
  const t = useServer();

  it("no backup: 404 M_NOT_FOUND; versions made, read, updated, deleted", async () => {
    const u = await t.s.client().register();
    const none = await u.get("/_matrix/client/v3/room_keys/version");
    expect(none.status).to.equal(404);
    expect(none.body.errcode).to.equal("M_NOT_FOUND");
    const v1 = (await u.post("/_matrix/client/v3/room_keys/version", { algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", auth_data: { public_key: "pk" } })).body.version;
    const cur = await u.get("/_matrix/client/v3/room_keys/version");
    expect(cur.body).to.include({ version: v1, algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", count: 0 });
    expect(cur.body.etag).to.be.a("string");
    expect((await u.put(`/_matrix/client/v3/room_keys/version/${v1}`, { algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", auth_data: { public_key: "pk2" } })).status).to.equal(200);
    expect((await u.get(`/_matrix/client/v3/room_keys/version/${v1}`)).body.auth_data).to.deep.equal({ public_key: "pk2" });
    expect((await u.put(`/_matrix/client/v3/room_keys/version/${v1}`, { algorithm: "x", auth_data: {}, version: "999" })).status).to.equal(400);
    expect((await u.del(`/_matrix/client/v3/room_keys/version/${v1}`)).status).to.equal(200);
    expect((await u.get(`/_matrix/client/v3/room_keys/version/${v1}`)).status).to.equal(404);
  });

  it("ten versions created at once: each succeeds with a version of its own", async () => {
    const u = await t.s.client().register();
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      u.post("/_matrix/client/v3/room_keys/version", { algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", auth_data: { public_key: `pk${i}` } })));
    expect(rs.map((r) => r.status)).to.deep.equal(Array(10).fill(200));
    expect(new Set(rs.map((r) => r.body.version)).size).to.equal(10);
  });

  it("keys: stored per room and session, replaced only by a better copy, only into the current version", async () => {
    const u = await t.s.client().register();
    const old = (await u.post("/_matrix/client/v3/room_keys/version", { algorithm: "a", auth_data: {} })).body.version;
    const v = (await u.post("/_matrix/client/v3/room_keys/version", { algorithm: "a", auth_data: {} })).body.version;
    const put = await u.put(`/_matrix/client/v3/room_keys/keys?version=${v}`, { rooms: { "!r:localhost": { sessions: { s1: key(5), s2: key(0) } } } });
    expect(put.status, put.text).to.equal(200);
    expect(put.body.count).to.equal(2);
    // A worse copy (later first index) does not replace; a verified one does.
    await u.put(`/_matrix/client/v3/room_keys/keys/!r:localhost/s1?version=${v}`, key(9));
    expect((await u.get(`/_matrix/client/v3/room_keys/keys/!r:localhost/s1?version=${v}`)).body.first_message_index).to.equal(5);
    await u.put(`/_matrix/client/v3/room_keys/keys/!r:localhost/s1?version=${v}`, key(7, true));
    expect((await u.get(`/_matrix/client/v3/room_keys/keys/!r:localhost/s1?version=${v}`)).body).to.deep.equal(key(7, true));
    const all = await u.get(`/_matrix/client/v3/room_keys/keys?version=${v}`);
    expect(Object.keys(all.body.rooms["!r:localhost"].sessions).sort()).to.deep.equal(["s1", "s2"]);
    const wrong = await u.put(`/_matrix/client/v3/room_keys/keys?version=${old}`, { rooms: {} });
    expect(wrong.status).to.equal(403);
    expect(wrong.body).to.include({ errcode: "M_WRONG_ROOM_KEYS_VERSION", current_version: v });
    const del = await u.del(`/_matrix/client/v3/room_keys/keys/!r:localhost/s2?version=${v}`);
    expect(del.body.count).to.equal(1);
    expect((await u.get(`/_matrix/client/v3/room_keys/keys/!r:localhost/s2?version=${v}`)).status).to.equal(404);
    expect((await u.get("/_matrix/client/v3/room_keys/keys")).status).to.equal(400);
    // Another user sees none of it.
    const other = await t.s.client().register();
    expect((await other.get(`/_matrix/client/v3/room_keys/keys?version=${v}`)).status).to.equal(404);
  });
});
