// Endpoints Element calls at start-up or now and then: TURN, 3PIDs, user directory, space
// hierarchy, reports, OpenID, whois, and ignoring users.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, send, setState, twoInRoom } from "../helpers/rooms.js";

describe("directory, spaces, reports, OpenID, whois, ignoring", () => {
  const t = useServer({ voip: { turn_uris: ["turn:turn.example.org:3478"], turn_shared_secret: "s3cret" } });

  it("TURN credentials from the shared secret; no third-party IDs", async () => {
    const u = await t.s.client().register();
    const turn = await u.get("/_matrix/client/v3/voip/turnServer");
    expect(turn.body.uris).to.deep.equal(["turn:turn.example.org:3478"]);
    expect(turn.body.username).to.match(new RegExp(`^\\d+:${u.userId.replace(/[.]/g, "\\.")}$`));
    expect(turn.body.password).to.be.a("string");
    expect((await u.get("/_matrix/client/v3/account/3pid")).body).to.deep.equal({ threepids: [] });
    // Without email or SMS: the error codes of v1.13 (MSC4178), never 404 or 500.
    const body = { client_secret: "secret", email: "a@example.org", send_attempt: 1 };
    const add = await u.post("/_matrix/client/v3/account/3pid/email/requestToken", body);
    expect([add.status, add.body.errcode]).to.deep.equal([400, "M_THREEPID_MEDIUM_NOT_SUPPORTED"]);
    for (const path of ["/_matrix/client/v3/register/email/requestToken", "/_matrix/client/v3/account/password/email/requestToken", "/_matrix/client/v3/register/msisdn/requestToken"]) {
      const r = await t.s.client().post(path, body);
      expect([r.status, r.body.errcode], path).to.deep.equal([403, "M_THREEPID_DENIED"]);
    }
  });

  it("user directory: room-mates and people in public rooms, by ID or display name; not strangers", async () => {
    const { a, b } = await twoInRoom(t.s.client());
    await b.put(`/_matrix/client/v3/profile/${enc(b.userId)}/displayname`, { displayname: "Zebulon Quux" });
    const stranger = await t.s.client().register();
    await stranger.put(`/_matrix/client/v3/profile/${enc(stranger.userId)}/displayname`, { displayname: "Zebulon Hidden" });
    await createRoom(stranger); // a room of their own, shared with nobody
    const r = await a.post("/_matrix/client/v3/user_directory/search", { search_term: "zebulon" });
    expect(r.status).to.equal(200);
    expect(r.body.results.map((x: any) => x.user_id)).to.deep.equal([b.userId]);
    expect(r.body.results[0].display_name).to.equal("Zebulon Quux");
  });

  it("space hierarchy: the space and its children", async () => {
    const a = await t.s.client().register();
    const space = await createRoom(a, { name: "Space", creation_content: { type: "m.space" }, preset: "public_chat" });
    const child = await createRoom(a, { name: "Child", preset: "public_chat" });
    expect((await setState(a, space, "m.space.child", { via: ["localhost"] }, child)).status).to.equal(200);
    const h = await a.get(`/_matrix/client/v1/rooms/${enc(space)}/hierarchy`);
    expect(h.status).to.equal(200);
    expect(h.body.rooms.map((r: any) => r.room_id)).to.deep.equal([space, child]);
    expect(h.body.rooms[0].room_type).to.equal("m.space");
    expect(h.body.rooms[0].children_state[0].state_key).to.equal(child);
    const outsider = await t.s.client().register();
    const priv = await createRoom(a);
    expect((await outsider.get(`/_matrix/client/v1/rooms/${enc(priv)}/hierarchy`)).status).to.equal(403);
  });

  it("room summary (v1.15): rooms the caller may see or join; without a token only open ones; others 404", async () => {
    const a = await t.s.client().register();
    const pub = await createRoom(a, { name: "Open", topic: "All welcome", preset: "public_chat", room_alias_name: "summary-open" });
    await setState(a, pub, "m.room.encryption", { algorithm: "m.megolm.v1.aes-sha2" });
    const priv = await createRoom(a, { name: "Closed" });
    const outsider = await t.s.client().register();
    for (const path of [`/_matrix/client/v1/room_summary/${enc(pub)}`, `/_matrix/client/v1/room_summary/${enc("#summary-open:localhost")}`,
      `/_matrix/client/unstable/im.nheko.summary/summary/${enc(pub)}`]) {
      const r = await outsider.get(path);
      expect(r.status, path).to.equal(200);
      expect(r.body).to.include({ room_id: pub, name: "Open", topic: "All welcome", join_rule: "public", num_joined_members: 1, encryption: "m.megolm.v1.aes-sha2", world_readable: false, guest_can_join: false });
      expect(r.body.room_version).to.be.a("string");
      expect(r.body.membership).to.equal("leave");
    }
    expect((await t.s.client().get(`/_matrix/client/v1/room_summary/${enc(pub)}`)).body).to.not.have.property("membership");
    expect((await a.get(`/_matrix/client/v1/room_summary/${enc(pub)}`)).body.membership).to.equal("join");
    expect((await t.s.client().get(`/_matrix/client/v1/room_summary/${enc(pub)}`)).status).to.equal(200);
    for (const c of [outsider, t.s.client()]) {
      const r = await c.get(`/_matrix/client/v1/room_summary/${enc(priv)}`);
      expect(r.status).to.equal(404);
      expect(r.body.errcode).to.equal("M_NOT_FOUND");
    }
    expect((await outsider.get(`/_matrix/client/v1/room_summary/${enc("!unknown:localhost")}`)).status).to.equal(404);
    expect((await outsider.get(`/_matrix/client/v1/room_summary/${enc("#nope:localhost")}`)).status).to.equal(404);
    // Invited: visible, with the membership.
    await a.post(`/_matrix/client/v3/rooms/${enc(priv)}/invite`, { user_id: outsider.userId });
    expect((await outsider.get(`/_matrix/client/v1/room_summary/${enc(priv)}`)).body).to.include({ name: "Closed", membership: "invite", join_rule: "invite" });
    // A restricted room: a member of the room it allows sees it, with allowed_room_ids.
    const restricted = await createRoom(a, { room_version: "10", initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: pub }] } }] });
    expect((await outsider.get(`/_matrix/client/v1/room_summary/${enc(restricted)}`)).status).to.equal(404);
    await outsider.post(`/_matrix/client/v3/join/${enc(pub)}`, {});
    const seen = await outsider.get(`/_matrix/client/v1/room_summary/${enc(restricted)}`);
    expect(seen.body.allowed_room_ids).to.deep.equal([pub]);
    expect(seen.body.join_rule).to.equal("restricted");
  });

  it("user reports (v1.14): a reason is required; an unknown local user is 404", async () => {
    const { a, b } = await twoInRoom(t.s.client());
    expect((await a.post(`/_matrix/client/v3/users/${enc(b.userId)}/report`, { reason: "rude" })).status).to.equal(200);
    expect((await a.post(`/_matrix/client/v3/users/${enc(b.userId)}/report`, { reason: "" })).status).to.equal(200);
    const noReason = await a.post(`/_matrix/client/v3/users/${enc(b.userId)}/report`, {});
    expect(noReason.status).to.equal(400);
    expect(noReason.body.errcode).to.equal("M_MISSING_PARAM");
    const unknown = await a.post(`/_matrix/client/v3/users/${enc("@nobody-here:localhost")}/report`, { reason: "x" });
    expect(unknown.status).to.equal(404);
    expect(unknown.body.errcode).to.equal("M_NOT_FOUND");
    expect((await a.post(`/_matrix/client/v3/users/${enc("not-a-user-id")}/report`, { reason: "x" })).status).to.equal(400);
    expect((await t.s.client().post(`/_matrix/client/v3/users/${enc(b.userId)}/report`, { reason: "x" })).status).to.equal(401);
  });

  it("reports, OpenID tokens, whois", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const ev = await send(b, roomId, "spam");
    expect((await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/report/${enc(ev)}`, { reason: "spam", score: -100 })).status).to.equal(200);
    expect((await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/report/${enc("$nope")}`, { reason: "x" })).status).to.equal(404);
    expect((await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/report`, { reason: "bad room" })).status).to.equal(200);
    const tok = await a.post(`/_matrix/client/v3/user/${enc(a.userId)}/openid/request_token`, {});
    expect(tok.body).to.include({ token_type: "Bearer", matrix_server_name: "localhost" });
    const info = await t.s.client().get(`/_matrix/federation/v1/openid/userinfo?access_token=${enc(tok.body.access_token)}`);
    expect(info.body).to.deep.equal({ sub: a.userId });
    expect((await t.s.client().get("/_matrix/federation/v1/openid/userinfo?access_token=nope")).status).to.equal(401);
    expect((await a.post(`/_matrix/client/v3/user/${enc(b.userId)}/openid/request_token`, {})).status).to.equal(403);
    const me = await a.get(`/_matrix/client/v3/admin/whois/${enc(a.userId)}`);
    expect(me.body.user_id).to.equal(a.userId);
    expect(Object.keys(me.body.devices)).to.deep.equal([a.deviceId]);
    // Each connection has ip, last_seen and user_agent (spec: ConnectionInfo).
    const [conn] = me.body.devices[a.deviceId].sessions[0].connections;
    expect(conn).to.include.keys("ip", "last_seen", "user_agent");
    expect(conn.user_agent, "the client's User-Agent (fetch's: node)").to.equal("node");
    expect((await a.get(`/_matrix/client/v3/admin/whois/${enc(b.userId)}`)).status).to.equal(403);
  });

  it("m.ignored_user_list: ignored users' messages and invites are not in /sync", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    await a.put(`/_matrix/client/v3/user/${enc(a.userId)}/account_data/m.ignored_user_list`, { ignored_users: { [b.userId]: {} } });
    const s0 = await a.get("/_matrix/client/v3/sync");
    await send(b, roomId, "you will not see this");
    await send(a, roomId, "but this");
    const s1 = await a.get(`/_matrix/client/v3/sync?since=${enc(s0.body.next_batch)}&timeout=2000`);
    const bodies = (s1.body.rooms.join[roomId]?.timeline.events ?? []).map((e: any) => e.content.body);
    expect(bodies).to.include("but this").and.not.to.include("you will not see this");
    const invRoom = await createRoom(b, { invite: [a.userId] });
    const s2 = await a.get("/_matrix/client/v3/sync");
    expect(s2.body.rooms.invite).not.to.have.property(invRoom);
    // Nor their receipts, read or delivered, nor their typing: a room where only they did
    // something has nothing new.
    const mine = await send(a, roomId, "read me");
    const s3 = await a.get(`/_matrix/client/v3/sync?since=${enc(s2.body.next_batch)}&timeout=0`);
    expect((await b.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(mine)}`, {})).status).to.equal(200);
    expect((await b.put(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(b.userId)}`, { typing: true, timeout: 10000 })).status).to.equal(200);
    const s4 = await a.get(`/_matrix/client/v3/sync?since=${enc(s3.body.next_batch)}&timeout=1500`);
    expect(s4.body.rooms?.join ?? {}).to.not.have.property(roomId);
  });
});

describe("user directory with search_all_users", () => {
  const t = useServer({ user_directory: { search_all_users: true } });

  it("finds users who share no room with the searcher", async () => {
    const a = await t.s.client().register();
    const loner = await t.s.client().register();
    await loner.put(`/_matrix/client/v3/profile/${enc(loner.userId)}/displayname`, { displayname: "Lonely Larkspur" });
    const r = await a.post("/_matrix/client/v3/user_directory/search", { search_term: "larkspur" });
    expect(r.body.results.map((x: any) => x.user_id)).to.deep.equal([loner.userId]);
  });
});
