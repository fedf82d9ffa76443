// matrix/: canonical JSON, event IDs, signatures, redaction (pure functions).
import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { expect } from "chai";
import { canonicalJson } from "../../src/matrix/canonical-json.js";
import { contentHash, eventIdOf, redactPdu, signAndIdentify, type Pdu } from "../../src/matrix/events.js";
import type { EventId, RoomId, UserId } from "../../src/matrix/ids.js";

describe("matrix: events", () => {
  it("canonical JSON sorts keys, drops whitespace, keeps UTF-8 as is", () => {
    // The spec's own examples (appendices: canonical JSON).
    expect(canonicalJson({ b: "2", a: "1" })).to.equal('{"a":"1","b":"2"}');
    expect(canonicalJson({ auth: { success: true, mxid: "@john.doe:example.com", profile: { display_name: "John Doe", three_pids: [{ medium: "email", address: "john.doe@example.org" }, { medium: "msisdn", address: "123456789" }] } } }))
      .to.equal('{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}');
    expect(canonicalJson({ a: "日本語" })).to.equal('{"a":"日本語"}');
    expect(canonicalJson({ "日": 1, "本": 2 })).to.equal('{"日":1,"本":2}');
    expect(canonicalJson({ a: null })).to.equal('{"a":null}');
  });

  const pdu = (): Pdu => ({
    room_id: "!r:localhost" as RoomId, sender: "@a:localhost" as UserId, type: "m.room.message",
    content: { body: "hello", msgtype: "m.text" }, origin_server_ts: 1700000000000, depth: 5,
    prev_events: ["$prev" as EventId], auth_events: ["$auth" as EventId], hashes: { sha256: "" }, signatures: {},
  });

  it("the event ID covers the redacted event: content changes do not change it, structure does", () => {
    const a = pdu();
    a.hashes.sha256 = contentHash(a);
    const b = pdu();
    b.content = { body: "other" };
    b.hashes.sha256 = contentHash(b);
    expect(a.hashes.sha256).to.not.equal(b.hashes.sha256);
    // Content is redacted away, but the hash differs, so the IDs differ.
    expect(eventIdOf(a, "10")).to.not.equal(eventIdOf(b, "10"));
    const c = pdu();
    c.hashes.sha256 = a.hashes.sha256;
    expect(eventIdOf(c, "10")).to.equal(eventIdOf(a, "10"));
    expect(eventIdOf(a, "10")).to.match(/^\$[A-Za-z0-9_-]{43}$/);
  });

  it("signAndIdentify: a valid ed25519 signature over the redacted event, and the same ID as eventIdOf", () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const p = pdu();
    p.hashes.sha256 = contentHash(p);
    const id = signAndIdentify(p, "10", "localhost", "ed25519:k", privateKey);
    expect(id).to.equal(eventIdOf(p, "10"));
    const sig = Buffer.from(p.signatures.localhost!["ed25519:k"]!, "base64");
    const redacted = redactPdu(p, "10") as unknown as Record<string, unknown>;
    delete redacted.signatures;
    expect(verify(null, Buffer.from(canonicalJson(redacted)), createPublicKey(privateKey), sig)).to.equal(true);
  });

  it("redaction keeps what each room version says", () => {
    const member = { type: "m.room.member", content: { membership: "join", displayname: "A", join_authorised_via_users_server: "@x:y" } };
    expect(redactPdu(member, "10").content).to.deep.equal({ membership: "join", join_authorised_via_users_server: "@x:y" });
    const create = { type: "m.room.create", content: { creator: "@a:b", room_version: "11", "m.federate": true } };
    expect(redactPdu(create, "10").content).to.deep.equal({ creator: "@a:b" });
    expect(redactPdu(create, "11").content).to.deep.equal(create.content);
    const pl = { type: "m.room.power_levels", content: { invite: 50, ban: 50, notifications: { room: 50 } } };
    expect(redactPdu(pl, "10").content).to.deep.equal({ ban: 50 });
    expect(redactPdu(pl, "11").content).to.deep.equal({ invite: 50, ban: 50 });
    const red = { type: "m.room.redaction", content: { redacts: "$x", reason: "spam" } };
    expect(redactPdu(red, "11").content).to.deep.equal({ redacts: "$x" });
    expect(redactPdu(red, "10").content).to.deep.equal({});
    const msg = { type: "m.room.message", content: { body: "secret" }, origin: "x", unsigned: { age: 1 } } as never;
    const r = redactPdu(msg as { type: string; content: Record<string, unknown> }, "11") as Record<string, unknown>;
    expect(r.content).to.deep.equal({});
    expect(r).to.not.have.property("origin");
    expect(r).to.not.have.property("unsigned");
  });
});
