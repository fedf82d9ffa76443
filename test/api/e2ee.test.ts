// keys.yaml, cross_signing.yaml, to_device.yaml: the server stores and relays keys and messages.
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from "node:crypto";
import { expect } from "chai";
import { canonicalJson } from "../../src/matrix/canonical-json.js";
import { useServer } from "../helpers/server.js";
import { enc, twoInRoom } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

const deviceKeys = (u: UserClient, extra = "") => ({
  user_id: u.userId, device_id: u.deviceId, algorithms: ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
  keys: { [`curve25519:${u.deviceId}`]: `curve${extra}`, [`ed25519:${u.deviceId}`]: `ed${extra}` },
  signatures: { [u.userId]: { [`ed25519:${u.deviceId}`]: "sig" } },
});

/** An ed25519 key pair; `pub` in unpadded base64, as keys are written. */
function keyPair(): { pub: string; priv: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(12);
  return { pub: raw.toString("base64").replace(/=+$/, ""), priv: privateKey };
}

/** The signature of signed JSON (without signatures and unsigned), unpadded base64. */
function sign(obj: Record<string, unknown>, k: { priv: KeyObject }): string {
  const { signatures: _s, unsigned: _u, ...rest } = obj;
  return cryptoSign(null, Buffer.from(canonicalJson(rest)), k.priv).toString("base64").replace(/=+$/, "");
}

/** Device keys with a real ed25519 key, self-signed. */
function deviceKeysWith(u: UserClient, k: { pub: string; priv: KeyObject }) {
  const dk = { ...deviceKeys(u), keys: { [`curve25519:${u.deviceId}`]: "curve", [`ed25519:${u.deviceId}`]: k.pub } };
  return { ...dk, signatures: { [u.userId]: { [`ed25519:${u.deviceId}`]: sign(dk, k) } } };
}

describe("end-to-end encryption plumbing", () => {
  const t = useServer();

  it("upload, query, claim: each one-time key once, then the fallback key", async () => {
    const { a, b } = await twoInRoom(t.s.client());
    const up = await a.post("/_matrix/client/v3/keys/upload", {
      device_keys: deviceKeys(a),
      one_time_keys: { "signed_curve25519:AAA": { key: "k1" }, "signed_curve25519:AAB": { key: "k2" } },
      fallback_keys: { "signed_curve25519:FB1": { key: "fb", fallback: true } },
    });
    expect(up.status, up.text).to.equal(200);
    expect(up.body.one_time_key_counts).to.deep.equal({ signed_curve25519: 2 });
    const wrong = await a.post("/_matrix/client/v3/keys/upload", { device_keys: { ...deviceKeys(a), device_id: "OTHER" } });
    expect(wrong.status).to.equal(400);
    const q = await b.post("/_matrix/client/v3/keys/query", { device_keys: { [a.userId]: [] } });
    expect(q.body.device_keys[a.userId][a.deviceId].keys[`ed25519:${a.deviceId}`]).to.equal("ed");
    const claim = () => b.post("/_matrix/client/v3/keys/claim", { one_time_keys: { [a.userId]: { [a.deviceId]: "signed_curve25519" } } });
    const got = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await claim();
      expect(r.status).to.equal(200);
      got.add(Object.keys(r.body.one_time_keys[a.userId][a.deviceId])[0]!);
    }
    expect([...got].sort()).to.deep.equal(["signed_curve25519:AAA", "signed_curve25519:AAB", "signed_curve25519:FB1"]);
    // A one-time key may be a plain string (an unsigned curve25519 key).
    const plainKey = await a.post("/_matrix/client/v3/keys/upload", { one_time_keys: { "curve25519:PLAIN": "unsignedkey" } });
    expect(plainKey.status, plainKey.text).to.equal(200);
    expect(plainKey.body.one_time_key_counts).to.deep.equal({ curve25519: 1 });
    const plainClaim = await b.post("/_matrix/client/v3/keys/claim", { one_time_keys: { [a.userId]: { [a.deviceId]: "curve25519" } } });
    expect(plainClaim.body.one_time_keys[a.userId][a.deviceId]).to.deep.equal({ "curve25519:PLAIN": "unsignedkey" });
    const sync = await a.get("/_matrix/client/v3/sync");
    expect(sync.body.device_one_time_keys_count).to.deep.equal({});
    expect(sync.body.device_unused_fallback_key_types).to.deep.equal([]);
  });

  it("one-time keys are claimed in the order they were uploaded (MSC4225), not by key ID", async () => {
    const { a, b } = await twoInRoom(t.s.client());
    await a.post("/_matrix/client/v3/keys/upload", { one_time_keys: { "signed_curve25519:ZZZ": { key: "z" }, "signed_curve25519:MMM": { key: "m" } } });
    await a.post("/_matrix/client/v3/keys/upload", { one_time_keys: { "signed_curve25519:AAA": { key: "a" } } });
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await b.post("/_matrix/client/v3/keys/claim", { one_time_keys: { [a.userId]: { [a.deviceId]: "signed_curve25519" } } });
      order.push(Object.keys(r.body.one_time_keys[a.userId][a.deviceId])[0]!);
    }
    expect(order).to.deep.equal(["signed_curve25519:ZZZ", "signed_curve25519:MMM", "signed_curve25519:AAA"]);
  });

  it("one-time key counts in /sync follow every upload and claim at once (kept in memory, never stale)", async () => {
    const { a, b } = await twoInRoom(t.s.client());
    const counts = async () => (await a.get("/_matrix/client/v3/sync?timeout=0")).body.device_one_time_keys_count;
    expect(await counts()).to.deep.equal({});
    await a.post("/_matrix/client/v3/keys/upload", { one_time_keys: { "signed_curve25519:K1": { key: "1" }, "signed_curve25519:K2": { key: "2" }, "signed_curve25519:K3": { key: "3" } } });
    expect(await counts()).to.deep.equal({ signed_curve25519: 3 });
    const claimed = await b.post("/_matrix/client/v3/keys/claim", { one_time_keys: { [a.userId]: { [a.deviceId]: "signed_curve25519" } } });
    expect(claimed.status).to.equal(200);
    expect(await counts()).to.deep.equal({ signed_curve25519: 2 }); // the claim dropped the kept counts
    await a.post("/_matrix/client/v3/keys/upload", { one_time_keys: { "signed_curve25519:K4": { key: "4" } } });
    expect(await counts()).to.deep.equal({ signed_curve25519: 3 });
  });

  it("the user's own new device shows up in their device_lists.changed (in /sync and sliding sync's e2ee extension)", async () => {
    const { a } = await twoInRoom(t.s.client());
    const SS = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";
    const s0 = await a.get("/_matrix/client/v3/sync");
    const ss0 = await a.post(SS, { extensions: { e2ee: { enabled: true } } });
    const login = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: a.userId }, password: a.password });
    expect(login.status, login.text).to.equal(200);
    const other = t.s.client(login.body.access_token);
    await other.post("/_matrix/client/v3/keys/upload", { device_keys: { user_id: a.userId, device_id: login.body.device_id, algorithms: ["m.olm.v1.curve25519-aes-sha2"], keys: { [`ed25519:${login.body.device_id}`]: "ed2" }, signatures: {} } });
    const s1 = await a.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}&timeout=2000`);
    expect(s1.body.device_lists.changed).to.include(a.userId);
    const ss1 = await a.post(SS, { pos: ss0.body.pos, timeout: 2000 });
    expect(ss1.body.extensions.e2ee.device_lists.changed).to.include(a.userId);
  });

  it("a room-mate's new keys show up in device_lists.changed; /keys/changes agrees", async () => {
    const { a, b } = await twoInRoom(t.s.client());
    const s0 = await b.get("/_matrix/client/v3/sync");
    const poll = b.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}&timeout=10000`);
    await new Promise((r) => setTimeout(r, 150));
    await a.post("/_matrix/client/v3/keys/upload", { device_keys: deviceKeys(a, "2") });
    const s1 = await poll;
    expect(s1.body.device_lists.changed).to.include(a.userId);
    const ch = await b.get(`/_matrix/client/v3/keys/changes?from=${enc(s0.body.next_batch)}&to=${enc(s1.body.next_batch)}`);
    expect(ch.body.changed).to.include(a.userId);
    // Someone who shares no room hears nothing.
    const stranger = await t.s.client().register();
    const st0 = await stranger.get("/_matrix/client/v3/sync");
    await a.post("/_matrix/client/v3/keys/upload", { device_keys: deviceKeys(a, "3") });
    const st1 = await stranger.get(`/_matrix/client/v3/sync?since=${enc(st0.body.next_batch)}&timeout=300`);
    expect(st1.body.device_lists.changed).not.to.include(a.userId);
  });

  it("device lists: a new device, a new room-mate and one who leaves are news in /sync and /keys/changes", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const s0 = await b.get("/_matrix/client/v3/sync");
    // a logs in again: a new device.
    const login = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: a.userId }, password: a.password });
    expect(login.status, login.text).to.equal(200);
    const s1 = await b.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}`);
    expect(s1.body.device_lists.changed).to.include(a.userId);
    // a renames a device: its name is part of its keys' listing.
    expect((await a.put(`/_matrix/client/v3/devices/${enc(a.deviceId)}`, { display_name: "wibble" })).status).to.equal(200);
    const s1b = await b.get(`/_matrix/client/v3/sync?since=${enc(s1.body.next_batch)}`);
    expect(s1b.body.device_lists.changed).to.include(a.userId);
    // c joins: c's keys are news to b.
    const c = await t.s.client().register();
    await c.post(`/_matrix/client/v3/rooms/${enc(roomId)}/join`, {});
    const s2 = await b.get(`/_matrix/client/v3/sync?since=${enc(s1b.body.next_batch)}`);
    expect(s2.body.device_lists.changed).to.include(c.userId);
    const ch = await b.get(`/_matrix/client/v3/keys/changes?from=${enc(s1b.body.next_batch)}&to=${enc(s2.body.next_batch)}`);
    expect(ch.body.changed).to.include(c.userId);
    // c leaves: c is in `left` (no room shared any more).
    await c.post(`/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {});
    // Device lists follow every room, whatever the filter shows.
    const s3 = await b.get(`/_matrix/client/v3/sync?since=${enc(s2.body.next_batch)}&filter=${enc(JSON.stringify({ room: { rooms: [] } }))}`);
    expect(s3.body.device_lists.left).to.include(c.userId);
    const ch2 = await b.get(`/_matrix/client/v3/keys/changes?from=${enc(s2.body.next_batch)}&to=${enc(s3.body.next_batch)}`);
    expect(ch2.body.left).to.include(c.userId);
    expect(ch2.body.changed).not.to.include(c.userId);
  });

  it("to-device: delivered to the device once (until acknowledged), idempotent on txnId, '*' reaches every device", async () => {
    const { a, b } = await twoInRoom(t.s.client());
    const s0 = await b.get("/_matrix/client/v3/sync");
    const msg = { messages: { [b.userId]: { [b.deviceId]: { ciphertext: "xyz" } } } };
    expect((await a.put("/_matrix/client/v3/sendToDevice/m.room.encrypted/t1", msg)).status).to.equal(200);
    expect((await a.put("/_matrix/client/v3/sendToDevice/m.room.encrypted/t1", msg)).status).to.equal(200);
    const s1 = await b.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}&timeout=5000`);
    expect(s1.body.to_device.events).to.deep.equal([{ sender: a.userId, type: "m.room.encrypted", content: { ciphertext: "xyz" } }]);
    // Not acknowledged (the same since again): delivered again. Acknowledged: gone.
    const again = await b.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}`);
    expect(again.body.to_device.events).to.have.length(1);
    const s2 = await b.get(`/_matrix/client/v3/sync?since=${enc(s1.body.next_batch)}&timeout=200`);
    expect(s2.body.to_device.events).to.deep.equal([]);
    // "*": every device of the user.
    const login = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: b.userId }, password: b.password });
    const b2 = Object.assign(Object.create(Object.getPrototypeOf(b)), b, { token: login.body.access_token, deviceId: login.body.device_id });
    const b2s0 = await b2.get("/_matrix/client/v3/sync");
    await a.put("/_matrix/client/v3/sendToDevice/m.test/t2", { messages: { [b.userId]: { "*": { hello: 1 } } } });
    const b2s1 = await b2.get(`/_matrix/client/v3/sync?since=${enc(b2s0.body.next_batch)}&timeout=5000`);
    expect(b2s1.body.to_device.events.map((e: any) => e.content)).to.deep.equal([{ hello: 1 }]);
    const bs3 = await b.get(`/_matrix/client/v3/sync?since=${enc(s2.body.next_batch)}&timeout=5000`);
    expect(bs3.body.to_device.events.map((e: any) => e.content)).to.deep.equal([{ hello: 1 }]);
  });

  /** Two users in a room; a has a device with real keys and cross-signing keys (m, s, u). */
  async function crossSigned() {
    const { a, b } = await twoInRoom(t.s.client());
    const dev = keyPair();
    const dk = deviceKeysWith(a, dev);
    await a.post("/_matrix/client/v3/keys/upload", { device_keys: dk });
    const [m, s, u] = [keyPair(), keyPair(), keyPair()];
    const own = (usage: string, k: { pub: string }) => ({ user_id: a.userId, usage: [usage], keys: { [`ed25519:${k.pub}`]: k.pub } });
    const master = own("master", m);
    const usk = own("user_signing", u);
    const up = await a.post("/_matrix/client/v3/keys/device_signing/upload", { master_key: master, self_signing_key: own("self_signing", s), user_signing_key: usk });
    expect(up.status).to.equal(200);
    return { a, b, dev, dk, m, s, u, master, usk };
  }

  it("cross-signing keys: uploaded, queried (user-signing only by its owner), signatures merged; replacing the master key needs auth", async () => {
    const { a, b, dev, dk, m, s, master, usk } = await crossSigned();
    const own = await a.post("/_matrix/client/v3/keys/query", { device_keys: { [a.userId]: [] } });
    expect(own.body.user_signing_keys[a.userId]).to.deep.equal(usk);
    const theirs = await b.post("/_matrix/client/v3/keys/query", { device_keys: { [a.userId]: [] } });
    expect(theirs.body.master_keys[a.userId]).to.deep.equal(master);
    expect(theirs.body.user_signing_keys).to.deep.equal({});
    // The self-signing key signs the device; the device signs the master key.
    const bySsk = sign(dk, s);
    const sig = await a.post("/_matrix/client/v3/keys/signatures/upload", {
      [a.userId]: {
        [a.deviceId]: { ...dk, signatures: { [a.userId]: { [`ed25519:${s.pub}`]: bySsk } } },
        [m.pub]: { ...master, signatures: { [a.userId]: { [`ed25519:${a.deviceId}`]: sign(master, dev) } } },
      },
    });
    expect(sig.body.failures).to.deep.equal({});
    const after = await b.post("/_matrix/client/v3/keys/query", { device_keys: { [a.userId]: [] } });
    expect(after.body.device_keys[a.userId][a.deviceId].signatures[a.userId][`ed25519:${s.pub}`]).to.equal(bySsk);
    expect(after.body.master_keys[a.userId].signatures[a.userId]).to.have.property(`ed25519:${a.deviceId}`);
    const replace = await a.post("/_matrix/client/v3/keys/device_signing/upload", { master_key: { ...master, keys: { "ed25519:NEW": "NEW" } } });
    expect(replace.status).to.equal(401);
    expect(replace.body.flows).to.be.an("array");
  });

  it("signatures that do not verify, or that cross-signing does not define, are refused and never served", async () => {
    const { a, b, dk, m, s, master } = await crossSigned();
    const before = JSON.stringify((await b.post("/_matrix/client/v3/keys/query", { device_keys: { [a.userId]: [] } })).body);
    const mallory = keyPair();
    const forged: Record<string, string> = {};
    for (let i = 0; i < 100; i++) forged[`ed25519:FORGED${i}`] = "c2lnbmF0dXJl";
    // b makes up signatures on a's device and a's master key.
    const r1 = await b.post("/_matrix/client/v3/keys/signatures/upload", {
      [a.userId]: {
        [a.deviceId]: { ...dk, signatures: { [b.userId]: forged } },
        [m.pub]: { ...master, signatures: { [b.userId]: { [`ed25519:${mallory.pub}`]: sign(master, mallory) } } },
      },
    });
    expect(r1.status).to.equal(200);
    expect(Object.keys(r1.body.failures[a.userId]).sort()).to.deep.equal([a.deviceId, m.pub].sort());
    expect(r1.body.failures[a.userId][a.deviceId].errcode).to.equal("M_INVALID_SIGNATURE");
    // a's own device signed by a key that is not a's self-signing key; a wrong signature by
    // the right key; an object that is not the one stored.
    const r2 = await a.post("/_matrix/client/v3/keys/signatures/upload", {
      [a.userId]: { [a.deviceId]: { ...dk, signatures: { [a.userId]: { [`ed25519:${mallory.pub}`]: sign(dk, mallory) } } } },
    });
    expect(r2.body.failures[a.userId][a.deviceId].errcode).to.equal("M_INVALID_SIGNATURE");
    const r3 = await a.post("/_matrix/client/v3/keys/signatures/upload", {
      [a.userId]: { [a.deviceId]: { ...dk, signatures: { [a.userId]: { [`ed25519:${s.pub}`]: sign({ other: 1 }, s) } } } },
    });
    expect(r3.body.failures[a.userId][a.deviceId].errcode).to.equal("M_INVALID_SIGNATURE");
    const changed = { ...dk, keys: { ...dk.keys, [`curve25519:${a.deviceId}`]: "swapped" } };
    const r4 = await a.post("/_matrix/client/v3/keys/signatures/upload", {
      [a.userId]: { [a.deviceId]: { ...changed, signatures: { [a.userId]: { [`ed25519:${s.pub}`]: sign(changed, s) } } } },
    });
    expect(r4.body.failures[a.userId][a.deviceId].errcode).to.equal("M_INVALID_SIGNATURE");
    const after = JSON.stringify((await b.post("/_matrix/client/v3/keys/query", { device_keys: { [a.userId]: [] } })).body);
    expect(after).to.equal(before);
  });

  it("device_lists.left names a user who no longer shares any room", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const s0 = await a.get("/_matrix/client/v3/sync");
    const b0 = await b.get("/_matrix/client/v3/sync");
    expect((await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {})).status).to.equal(200);
    const s1 = await a.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}&timeout=5000`);
    expect(s1.body.device_lists.left).to.deep.equal([b.userId]);
    // And for the one who left: everyone they no longer share a room with.
    const b1 = await b.get(`/_matrix/client/v3/sync?since=${enc(b0.body.next_batch)}&timeout=5000`);
    expect(b1.body.device_lists.left).to.deep.equal([a.userId]);
  });
});
