// No request body or parameter can make the server answer 500: malformed input of every kind
// against every endpoint that takes input gets a 4xx with a Matrix errcode.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc } from "../helpers/rooms.js";

const BODIES: (string | undefined)[] = [
  "", "null", "[]", "1", "\"x\"", "{", "{\"a\":", "true",
  JSON.stringify({ a: { b: { c: [1, 2, { d: null }] } } }),
  JSON.stringify({ content: 1e400 }),
  JSON.stringify({ n: 1.5, big: 2 ** 60, neg: -(2 ** 60) }),
  JSON.stringify({ type: null, user_id: 42, room_id: [], visibility: {}, preset: 1, invite: [1, 2], initial_state: [{}], name: { x: 1 } }),
  JSON.stringify({ user_id: "@" + "x".repeat(300) + ":localhost", reason: 5 }),
  JSON.stringify({ displayname: ["a"], avatar_url: {}, devices: "all", auth: "yes", new_password: 5 }),
  JSON.stringify({ user_id: "not an id", room_id: "also not", alias: "#\u0000:x" }),
  JSON.stringify({ power_level_content_override: { users: { "not-a-user": 100 } } }),
  JSON.stringify({ initial_state: [{ type: "m.room.power_levels", content: { ban: "x" } }] }),
  JSON.stringify({ creation_content: { room_version: "bogus", "m.federate": "maybe" } }),
  JSON.stringify({ "\u0000": "\ud800" }),
];

describe("robustness: malformed input never gives a 500", () => {
  const t = useServer();

  it("every endpoint answers 4xx with an errcode, and the server stays up", async function () {
    this.timeout(120_000);
    const u = await t.s.client().register();
    const roomId = await createRoom(u);
    const r = enc(roomId);
    const me = enc(u.userId);
    const routes: [string, string][] = [
      ["POST", "/_matrix/client/v3/register"], ["POST", "/_matrix/client/v3/login"], ["POST", "/_matrix/client/v3/refresh"],
      ["POST", "/_matrix/client/v3/createRoom"], ["POST", `/_matrix/client/v3/rooms/${r}/invite`], ["POST", `/_matrix/client/v3/rooms/${r}/kick`],
      ["POST", `/_matrix/client/v3/rooms/${r}/ban`], ["POST", `/_matrix/client/v3/rooms/${r}/unban`], ["POST", `/_matrix/client/v3/rooms/${r}/join`],
      ["POST", `/_matrix/client/v3/join/${enc("#x:localhost")}`], ["PUT", `/_matrix/client/v3/rooms/${r}/send/m.room.message/fz`],
      ["PUT", `/_matrix/client/v3/rooms/${r}/state/m.room.power_levels/`], ["PUT", `/_matrix/client/v3/rooms/${r}/state/m.room.member/${me}`],
      ["PUT", `/_matrix/client/v3/rooms/${r}/state/m.room.canonical_alias`], ["PUT", `/_matrix/client/v3/profile/${me}/displayname`],
      ["PUT", `/_matrix/client/v3/devices/${enc(u.deviceId)}`], ["POST", "/_matrix/client/v3/delete_devices"],
      ["POST", "/_matrix/client/v3/account/password"], ["POST", `/_matrix/client/v3/user/${me}/filter`],
      ["PUT", `/_matrix/client/v3/user/${me}/account_data/x`], ["PUT", `/_matrix/client/v3/user/${me}/rooms/${r}/tags/t`],
      ["PUT", `/_matrix/client/v3/directory/room/${enc("#fz:localhost")}`], ["PUT", `/_matrix/client/v3/directory/list/room/${r}`],
      ["POST", "/_matrix/client/v3/publicRooms"], ["POST", "/_synapse/admin/v1/register"],
    ];
    let n = 0;
    for (const [method, path] of routes) {
      for (const raw of BODIES) {
        const res = await u.req(method, path, { raw, headers: { "Content-Type": "application/json" } });
        n++;
        expect(res.status, `${method} ${path} ${raw}: ${res.text}`).to.be.lessThan(500);
        // A user-interactive auth challenge is a 401 with flows and no errcode (spec).
        if (res.status >= 400 && !(res.status === 401 && Array.isArray(res.body?.flows))) {
          expect(res.body?.errcode, `${method} ${path} ${raw}`).to.be.a("string");
        }
      }
    }
    const gets = [
      `/_matrix/client/v3/rooms/${r}/messages?from=s99999999999&dir=b&limit=99999999`, `/_matrix/client/v3/rooms/${r}/messages?to=x`,
      `/_matrix/client/v3/rooms/${r}/context/${enc("$x")}?limit=abc`, `/_matrix/client/v3/rooms/${r}/members?at=zzz`,
      `/_matrix/client/v3/sync?since=s1_2_3&filter=${enc("{\"room\":{\"timeline\":{\"limit\":-5}}}")}`,
      `/_matrix/client/v3/sync?filter=${enc("{\"room\":[]}")}`, "/_matrix/client/v3/sync?since=s-1",
      `/_matrix/client/v3/rooms/${enc("!%00:x")}/state`, `/_matrix/client/v3/profile/${enc("@:")}`,
      `/_matrix/client/v3/rooms/${r}/event/${enc("not-an-event")}`, "/_matrix/client/v3/publicRooms?limit=-1",
      `/_matrix/client/v1/rooms/${r}/timestamp_to_event?ts=99999999999999999&dir=f`,
      `/_matrix/client/v3/rooms/${r}/state/${enc("a\u0000b")}`, `/_matrix/client/v3/register/available?username=${enc("a\u0000")}`,
    ];
    for (const path of gets) {
      const res = await u.get(path);
      n++;
      expect(res.status, `${path}: ${res.text}`).to.be.lessThan(500);
    }
    const longTxn = await u.put(`/_matrix/client/v3/rooms/${r}/send/m.room.message/${"t".repeat(5000)}`, { body: "x" });
    expect(longTxn.status).to.equal(400);
    const nul = await u.put(`/_matrix/client/v3/rooms/${r}/send/m.room.message/nul`, { body: "a\u0000b" });
    expect(nul.status).to.equal(400);
    expect(nul.body.errcode).to.equal("M_BAD_JSON");
    // The text "\u0000" (a backslash and five characters) is ordinary content.
    const literal = await u.put(`/_matrix/client/v3/rooms/${r}/send/m.room.message/lit`, { body: "\\u0000" });
    expect(literal.status).to.equal(200);
    expect(n).to.be.greaterThan(400);
    expect((await t.s.client().get("/health")).status).to.equal(200);
  });

  it("lone surrogates, invalid UTF-8 and deep nesting are refused at the edge; other members' sends in the same room still succeed", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await b.post(`/_matrix/client/v3/join/${enc(roomId)}`, {});
    const path = (u: string, txn: string) => `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${u}${txn}`;
    // A lone surrogate is valid JSON text ("\ud800") but no valid string: 400 M_BAD_JSON, in
    // content, in a key, in state and in a display name.
    const lone = [
      await a.put(path("a", "lone"), undefined, { raw: '{"msgtype":"m.text","body":"x\\ud800y"}' }),
      await a.put(path("a", "key"), undefined, { raw: '{"msgtype":"m.text","body":"x","\\udc00":1}' }),
      await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic`, undefined, { raw: '{"topic":"\\ud83d"}' }),
      await a.put(`/_matrix/client/v3/profile/${enc(a.userId)}/displayname`, undefined, { raw: '{"displayname":"\\ud800"}' }),
    ];
    for (const r of lone) {
      expect(r.status, r.text).to.equal(400);
      expect(r.body.errcode).to.equal("M_BAD_JSON");
    }
    // A well-formed pair (an emoji) is fine.
    expect((await a.put(path("a", "pair"), undefined, { raw: '{"msgtype":"m.text","body":"\\ud83d\\ude00"}' })).status).to.equal(200);
    // Bytes that are not UTF-8: M_NOT_JSON, not silently replaced.
    const bytes = Buffer.concat([Buffer.from('{"msgtype":"m.text","body":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const bad = await a.put(path("a", "bytes"), undefined, { raw: bytes });
    expect(bad.status).to.equal(400);
    expect(bad.body.errcode).to.equal("M_NOT_JSON");
    // Deep nesting: a clear 400, never a stack overflow.
    for (const raw of ['{"a":'.repeat(100_000) + "1" + "}".repeat(100_000), `{"msgtype":"m.text","body":"x","n":${"[".repeat(10_000)}${"]".repeat(10_000)}}`]) {
      const r = await a.put(path("a", `deep${raw.length}`), undefined, { raw });
      expect(r.status, r.text.slice(0, 200)).to.equal(400);
      expect(["M_BAD_JSON", "M_NOT_JSON"]).to.include(r.body.errcode);
    }
    // Bad sends interleaved with another member's good ones fail alone.
    const mixed = await Promise.all(Array.from({ length: 30 }, (_, i) => i % 2
      ? b.put(path("b", `ok${i}`), { msgtype: "m.text", body: `fine ${i}` })
      : a.put(path("a", `bad${i}`), undefined, { raw: '{"msgtype":"m.text","body":"\\ud800"}' })));
    expect(mixed.filter((r, i) => i % 2 === 1).map((r) => r.status)).to.deep.equal(Array(15).fill(200));
    expect(mixed.filter((r, i) => i % 2 === 0).map((r) => r.status)).to.deep.equal(Array(15).fill(400));
  });
});
