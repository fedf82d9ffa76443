// The users admin API (Synapse's paths and shapes): list and search, query, create and modify,
// deactivate, reset password, admin flag, whois, devices, rooms, pushers, account data, login
// as a user, shadow bans, rate-limit overrides, username availability, server version; every
// path refuses non-admins with 403 M_FORBIDDEN.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { registerAdmin } from "../helpers/admin.js";
import { createRoom, enc, join, send } from "../helpers/rooms.js";

const A = "/_synapse/admin";

describe("admin API: users", () => {
  const t = useServer();

  it("refuses everyone but admins on every path", async () => {
    const plain = await t.s.client().register();
    const u = enc(plain.userId);
    const paths: [string, string][] = [
      ["GET", `${A}/v2/users`], ["GET", `${A}/v3/users`], ["GET", `${A}/v2/users/${u}`], ["PUT", `${A}/v2/users/${u}`],
      ["POST", `${A}/v1/deactivate/${u}`], ["POST", `${A}/v1/reset_password/${u}`], ["GET", `${A}/v1/users/${u}/admin`], ["PUT", `${A}/v1/users/${u}/admin`],
      ["GET", `${A}/v1/whois/${u}`], ["GET", `${A}/v2/users/${u}/devices`], ["POST", `${A}/v2/users/${u}/devices`], ["POST", `${A}/v2/users/${u}/delete_devices`],
      ["GET", `${A}/v2/users/${u}/devices/X`], ["PUT", `${A}/v2/users/${u}/devices/X`], ["DELETE", `${A}/v2/users/${u}/devices/X`],
      ["GET", `${A}/v1/users/${u}/joined_rooms`], ["GET", `${A}/v1/users/${u}/memberships`], ["GET", `${A}/v1/users/${u}/pushers`],
      ["GET", `${A}/v1/users/${u}/accountdata`], ["POST", `${A}/v1/users/${u}/login`], ["POST", `${A}/v1/users/${u}/shadow_ban`],
      ["DELETE", `${A}/v1/users/${u}/shadow_ban`], ["GET", `${A}/v1/users/${u}/override_ratelimit`], ["POST", `${A}/v1/users/${u}/override_ratelimit`],
      ["DELETE", `${A}/v1/users/${u}/override_ratelimit`], ["GET", `${A}/v1/username_available?username=x`], ["GET", `${A}/v1/threepid/email/users/a%40b.c`],
    ];
    for (const [m, p] of paths) {
      const r = await plain.req(m, p, m === "GET" || m === "DELETE" ? {} : { body: {} });
      expect(r.status, `${m} ${p}`).to.equal(403);
      expect(r.body.errcode, `${m} ${p}`).to.equal("M_FORBIDDEN");
      const anon = await t.s.client().req(m, p, m === "GET" || m === "DELETE" ? {} : { body: {} });
      expect(anon.status, `anonymous ${m} ${p}`).to.equal(401);
    }
    // The server version is public, as in Synapse.
    expect((await t.s.client().get(`${A}/v1/server_version`)).body.server_version).to.match(/^Ganglion /);
  });

  it("lists, searches and pages users; queries one", async () => {
    const admin = await registerAdmin(t.s);
    const made = [];
    for (const n of ["listme-a", "listme-b", "listme-c"]) made.push(await t.s.client().register(n));
    await made[0]!.put(`/_matrix/client/v3/profile/${enc(made[0]!.userId)}/displayname`, { displayname: "Zed Person" });
    const page1 = await admin.get(`${A}/v2/users?from=0&limit=2&name=listme&order_by=name`);
    expect(page1.status).to.equal(200);
    expect(page1.body.total).to.equal(3);
    expect(page1.body.users.map((x: { name: string }) => x.name)).to.deep.equal(["@listme-a:localhost", "@listme-b:localhost"]);
    expect(page1.body.next_token).to.equal("2");
    const page2 = await admin.get(`${A}/v2/users?from=${page1.body.next_token}&limit=2&name=listme`);
    expect(page2.body.users.map((x: { name: string }) => x.name)).to.deep.equal(["@listme-c:localhost"]);
    expect(page2.body.next_token).to.equal(undefined);
    const byName = await admin.get(`${A}/v2/users?name=zed`);
    expect(byName.body.users.map((x: { name: string }) => x.name)).to.deep.equal(["@listme-a:localhost"]);
    const u = byName.body.users[0];
    expect(u).to.include({ admin: false, is_guest: false, deactivated: false, shadow_banned: false, displayname: "Zed Person", erased: false, locked: false });
    expect(u.creation_ts).to.be.a("number");
    const back = await admin.get(`${A}/v2/users?name=listme&dir=b`);
    expect(back.body.users[0].name).to.equal("@listme-c:localhost");
    expect((await admin.get(`${A}/v2/users?order_by=nonsense`)).status).to.equal(400);
    expect((await admin.get(`${A}/v2/users?limit=-1`)).status).to.equal(400);
    const one = await admin.get(`${A}/v2/users/${enc("@listme-b:localhost")}`);
    expect(one.body).to.include({ name: "@listme-b:localhost", admin: false, deactivated: false });
    expect(one.body.threepids).to.deep.equal([]);
    expect((await admin.get(`${A}/v2/users/${enc("@nobody:localhost")}`)).body.errcode).to.equal("M_NOT_FOUND");
    expect((await admin.get(`${A}/v2/users/${enc("@x:elsewhere")}`)).status).to.equal(400);
    expect((await admin.get(`${A}/v2/users/not-a-user-id`)).status).to.equal(400);
  });

  it("creates and modifies accounts with PUT; deactivation hides them from v2 unless asked", async () => {
    const admin = await registerAdmin(t.s);
    const id = enc("@made-by-admin:localhost");
    const created = await admin.put(`${A}/v2/users/${id}`, { password: "initial password", displayname: "Made", threepids: [{ medium: "email", address: "Made@Example.org" }], admin: false });
    expect(created.status).to.equal(201);
    expect(created.body).to.include({ name: "@made-by-admin:localhost", displayname: "Made", admin: false });
    expect(created.body.threepids[0]).to.include({ medium: "email", address: "made@example.org" });
    const login = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: "made-by-admin" }, password: "initial password" });
    expect(login.status).to.equal(200);
    expect((await admin.get(`${A}/v1/threepid/email/users/${enc("made@example.org")}`)).body.user_id).to.equal("@made-by-admin:localhost");

    const changed = await admin.put(`${A}/v2/users/${id}`, { password: "second password", displayname: "Renamed", admin: true });
    expect(changed.status).to.equal(200);
    expect(changed.body).to.include({ displayname: "Renamed", admin: true });
    // The new password logged out the old session.
    expect((await t.s.client(login.body.access_token).get("/_matrix/client/v3/account/whoami")).status).to.equal(401);
    expect((await admin.get(`${A}/v1/users/${id}/admin`)).body).to.deep.equal({ admin: true });
    expect((await admin.put(`${A}/v1/users/${id}/admin`, { admin: false })).status).to.equal(200);
    expect((await admin.get(`${A}/v1/users/${id}/admin`)).body).to.deep.equal({ admin: false });
    expect((await admin.put(`${A}/v1/users/${enc(admin.userId)}/admin`, { admin: false })).status).to.equal(400);

    // Reset password (logging out) and deactivate.
    const session = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: "made-by-admin" }, password: "second password" });
    expect((await admin.post(`${A}/v1/reset_password/${id}`, { new_password: "third password" })).status).to.equal(200);
    expect((await t.s.client(session.body.access_token).get("/_matrix/client/v3/account/whoami")).status).to.equal(401);
    expect((await admin.post(`${A}/v1/reset_password/${id}`, {})).status).to.equal(400);
    const deact = await admin.post(`${A}/v1/deactivate/${id}`, { erase: true });
    expect(deact.body).to.deep.equal({ id_server_unbind_result: "success" });
    const after = await admin.get(`${A}/v2/users/${id}`);
    expect(after.body).to.include({ deactivated: true, erased: true });
    expect((await admin.get(`${A}/v2/users?name=made-by-admin`)).body.total).to.equal(0);
    expect((await admin.get(`${A}/v2/users?name=made-by-admin&deactivated=true`)).body.total).to.equal(1);
    expect((await admin.get(`${A}/v3/users?name=made-by-admin&deactivated=true`)).body.total).to.equal(1);
    expect((await admin.get(`${A}/v3/users?name=made-by-admin&deactivated=false`)).body.total).to.equal(0);
    const relogin = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: "made-by-admin" }, password: "third password" });
    expect(relogin.status).to.equal(403);
    expect((await admin.put(`${A}/v2/users/${id}`, { avatar_url: "http://not-mxc" })).status).to.equal(400);
  });

  it("whois, devices, rooms, pushers, account data", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const u = enc(alice.userId);
    const roomId = await createRoom(alice);
    await alice.put(`/_matrix/client/v3/user/${u}/account_data/org.example.setting`, { on: true });
    const whois = await admin.get(`${A}/v1/whois/${u}`);
    expect(whois.body.user_id).to.equal(alice.userId);
    expect(Object.keys(whois.body.devices)).to.deep.equal([alice.deviceId]);
    expect((await alice.get(`/_matrix/client/v3/admin/whois/${u}`)).status).to.equal(200);
    expect((await alice.get(`/_matrix/client/v3/admin/whois/${enc(admin.userId)}`)).status).to.equal(403);
    expect((await admin.get(`/_matrix/client/v3/admin/whois/${u}`)).status).to.equal(200);

    const devs = await admin.get(`${A}/v2/users/${u}/devices`);
    expect(devs.body.total).to.equal(1);
    expect(devs.body.devices[0]).to.include({ device_id: alice.deviceId, user_id: alice.userId });
    expect((await admin.post(`${A}/v2/users/${u}/devices`, { device_id: "ADMINMADE" })).status).to.equal(200);
    expect((await admin.put(`${A}/v2/users/${u}/devices/ADMINMADE`, { display_name: "From admin" })).status).to.equal(200);
    expect((await admin.get(`${A}/v2/users/${u}/devices/ADMINMADE`)).body.display_name).to.equal("From admin");
    expect((await admin.del(`${A}/v2/users/${u}/devices/ADMINMADE`)).status).to.equal(200);
    expect((await admin.get(`${A}/v2/users/${u}/devices/ADMINMADE`)).status).to.equal(404);
    expect((await admin.post(`${A}/v2/users/${u}/delete_devices`, { devices: [alice.deviceId] })).status).to.equal(200);
    expect((await alice.get("/_matrix/client/v3/account/whoami")).status).to.equal(401);

    const rooms = await admin.get(`${A}/v1/users/${u}/joined_rooms`);
    expect(rooms.body).to.deep.equal({ joined_rooms: [roomId], total: 1 });
    expect((await admin.get(`${A}/v1/users/${u}/memberships`)).body.memberships).to.deep.equal({ [roomId]: "join" });
    expect((await admin.get(`${A}/v1/users/${u}/pushers`)).body).to.deep.equal({ pushers: [], total: 0 });
    const ad = await admin.get(`${A}/v1/users/${u}/accountdata`);
    expect(ad.body.account_data.global["org.example.setting"]).to.deep.equal({ on: true });
  });

  it("logs in as a user; shadow-bans; username availability", async () => {
    const admin = await registerAdmin(t.s);
    const bob = await t.s.client().register();
    const carol = await t.s.client().register();
    const u = enc(bob.userId);
    const roomId = await createRoom(carol, { preset: "public_chat" });
    await join(bob, roomId);

    const as = await admin.post(`${A}/v1/users/${u}/login`, {});
    expect(as.body.access_token).to.be.a("string");
    expect((await t.s.client(as.body.access_token).get("/_matrix/client/v3/account/whoami")).body.user_id).to.equal(bob.userId);
    expect((await admin.post(`${A}/v1/users/${enc(admin.userId)}/login`, {})).status).to.equal(400);
    const short = await admin.post(`${A}/v1/users/${u}/login`, { valid_until_ms: Date.now() + 300 });
    await new Promise((r) => setTimeout(r, 400));
    expect((await t.s.client(short.body.access_token).get("/_matrix/client/v3/account/whoami")).status).to.equal(401);

    // Shadow-banned: the send answers an event ID, and nobody (not even bob) sees it.
    expect((await admin.post(`${A}/v1/users/${u}/shadow_ban`, {})).status).to.equal(200);
    expect((await admin.get(`${A}/v2/users/${u}`)).body.shadow_banned).to.equal(true);
    const ghost = await bob.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/sb1`, { msgtype: "m.text", body: "shadow" });
    expect(ghost.status).to.equal(200);
    expect(ghost.body.event_id).to.match(/^\$/);
    expect((await carol.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(ghost.body.event_id)}`)).status).to.equal(404);
    const msgs = await carol.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=5`);
    expect(JSON.stringify(msgs.body)).to.not.contain("shadow");
    expect((await admin.del(`${A}/v1/users/${u}/shadow_ban`)).status).to.equal(200);
    const real = await send(bob, roomId, "visible");
    expect((await carol.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(real)}`)).status).to.equal(200);

    // Locked (spec: account locking): every request but logout answers 401 M_USER_LOCKED, login too.
    const dave = await t.s.client().register();
    expect((await admin.put(`${A}/v2/users/${enc(dave.userId)}`, { locked: true })).body.locked).to.equal(true);
    const locked = await dave.get("/_matrix/client/v3/account/whoami");
    expect(locked.status).to.equal(401);
    expect(locked.body).to.include({ errcode: "M_USER_LOCKED", soft_logout: true });
    const relog = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: dave.userId }, password: dave.password });
    expect(relog.body.errcode).to.equal("M_USER_LOCKED");
    expect((await admin.get(`${A}/v2/users?name=${enc(dave.userId.slice(1, dave.userId.indexOf(":")))}&locked=true`)).body.total).to.equal(1);
    await admin.put(`${A}/v2/users/${enc(dave.userId)}`, { locked: false });
    expect((await dave.get("/_matrix/client/v3/account/whoami")).status).to.equal(200);
    await admin.put(`${A}/v2/users/${enc(dave.userId)}`, { locked: true });
    expect((await dave.post("/_matrix/client/v3/logout", {})).status, "a locked account may still log out").to.equal(200);

    expect((await admin.get(`${A}/v1/username_available?username=free-name`)).body).to.deep.equal({ available: true });
    expect((await admin.get(`${A}/v1/username_available?username=${enc(bob.userId.slice(1).split(":")[0]!)}`)).body.errcode).to.equal("M_USER_IN_USE");
  });
});

describe("admin API: rate-limit overrides", () => {
  const t = useServer({ rate_limiting: { enabled: true, requests: { per_second: 2, burst: 3 } } });
  it("an override of 0 and 0 lifts a user's limits; deleting it brings them back", async () => {
    const admin = await registerAdmin(t.s);
    // The admin's own first: its requests below would be limited too.
    expect((await admin.post(`${A}/v1/users/${enc(admin.userId)}/override_ratelimit`, { messages_per_second: 0, burst_count: 0 })).status).to.equal(200);
    const carol = await t.s.client().register();
    // 3 requests of burst; with a 0/0 override, unlimited.
    const hammer = async (c: typeof carol, n: number) => { let limited = 0; for (let i = 0; i < n; i++) if ((await c.get("/_matrix/client/v3/account/whoami")).status === 429) limited++; return limited; };
    expect(await hammer(carol, 8)).to.be.greaterThan(0);
    expect((await admin.get(`${A}/v1/users/${enc(carol.userId)}/override_ratelimit`)).body).to.deep.equal({});
    expect((await admin.post(`${A}/v1/users/${enc(carol.userId)}/override_ratelimit`, {})).body).to.deep.equal({ messages_per_second: 0, burst_count: 0 });
    expect(await hammer(carol, 10)).to.equal(0);
    expect((await admin.get(`${A}/v1/users/${enc(carol.userId)}/override_ratelimit`)).body).to.deep.equal({ messages_per_second: 0, burst_count: 0 });
    expect((await admin.del(`${A}/v1/users/${enc(carol.userId)}/override_ratelimit`)).status).to.equal(200);
    expect(await hammer(carol, 8)).to.be.greaterThan(0);
    expect((await admin.post(`${A}/v1/users/${enc(carol.userId)}/override_ratelimit`, { messages_per_second: -1 })).status).to.equal(400);

  });
});
