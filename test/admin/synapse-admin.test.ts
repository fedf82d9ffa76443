// The requests synapse-admin (Awesome-Technologies/synapse-admin, the admin web UI most
// operators use) makes, as its data and auth providers build them: login, the user list with
// each sortable column, a user's page and its tabs, saving a user, the room list and a room's
// page, reports, registration tokens, media statistics, destinations, deleting.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { registerAdmin } from "../helpers/admin.js";
import { createRoom, join, send } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

const A = "/_synapse/admin";
/** query-string's stringify: keys sorted, undefined dropped. */
const qs = (o: Record<string, string | number | boolean | undefined>) => Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${k}=${encodeURIComponent(String(o[k]))}`).join("&");

describe("synapse-admin's requests", () => {
  const t = useServer();
  let ui: UserClient;
  let homeServer: string;

  it("logs in (device_id null at first), learns the server version and login flows", async () => {
    await registerAdmin(t.s, "uiadmin", "ui admin password");
    const c = t.s.client();
    expect((await c.get(`${A}/v1/server_version`)).body.server_version).to.be.a("string");
    expect((await c.get("/_matrix/client/versions")).status).to.equal(200);
    expect((await c.get("/_matrix/client/r0/login")).body.flows).to.deep.include({ type: "m.login.password" });
    const login = await c.post("/_matrix/client/r0/login", {
      device_id: null, initial_device_display_name: "Synapse Admin", type: "m.login.password", identifier: { type: "m.id.user", user: "uiadmin" }, password: "ui admin password",
    });
    expect(login.status, login.text).to.equal(200);
    expect(login.body).to.include.keys("home_server", "user_id", "access_token", "device_id");
    homeServer = login.body.home_server;
    ui = t.s.client(login.body.access_token) as UserClient;
    ui.userId = login.body.user_id;
    // The next login reuses the stored device.
    const again = await c.post("/_matrix/client/r0/login", { device_id: login.body.device_id, initial_device_display_name: "Synapse Admin", type: "m.login.password", identifier: { type: "m.id.user", user: "uiadmin" }, password: "ui admin password" });
    expect(again.body.device_id).to.equal(login.body.device_id);
    ui = t.s.client(again.body.access_token) as UserClient;
  });

  it("the user list, sorted by each column, and a user's page with its tabs; saving it", async () => {
    const alice = await t.s.client().register("ui-alice");
    const roomId = await createRoom(alice, { name: "UI room" });
    for (const order_by of ["name", "displayname", "is_guest", "admin", "deactivated", "locked", "creation_ts", "avatar_url"]) {
      for (const dir of ["f", "b"]) {
        const r = await ui.get(`${A}/v2/users?${qs({ from: 0, limit: 10, guests: true, deactivated: false, locked: false, order_by, dir })}`);
        expect(r.status, `${order_by} ${dir}: ${r.text}`).to.equal(200);
        expect(r.body.users).to.be.an("array");
        expect(r.body.total).to.be.a("number");
      }
    }
    const search = await ui.get(`${A}/v2/users?${qs({ from: 0, limit: 10, name: "ui-al", guests: true, deactivated: false, locked: false, order_by: "name", dir: "f" })}`);
    expect(search.body.users.map((u: { name: string }) => u.name)).to.deep.equal([alice.userId]);

    const id = encodeURIComponent(alice.userId);
    const one = await ui.get(`${A}/v2/users/${id}`);
    expect(one.body).to.include({ name: alice.userId, admin: false, deactivated: false, locked: false, erased: false });
    expect(one.body.creation_ts).to.be.within(Date.now() / 1000 - 600, Date.now() / 1000 + 5); // seconds, as synapse-admin multiplies it
    const tabs = [
      `${A}/v2/users/${id}/devices?${qs({ from: 0, limit: 10, order_by: "id", dir: "b" })}`,
      `${A}/v1/whois/${id}`,
      `${A}/v1/users/${id}/media?${qs({ from: 0, limit: 50, order_by: "created_ts", dir: "b" })}`,
      `${A}/v1/users/${id}/joined_rooms?${qs({ from: 0, limit: 10, order_by: "id", dir: "b" })}`,
      `${A}/v1/users/${id}/pushers?${qs({ from: 0, limit: 10, order_by: "id", dir: "b" })}`,
    ];
    for (const p of tabs) expect((await ui.get(p)).status, p).to.equal(200);
    expect((await ui.get(tabs[3]!)).body.joined_rooms).to.deep.equal([roomId]);
    expect((await ui.get(tabs[0]!)).body.devices[0]).to.include({ device_id: alice.deviceId, user_id: alice.userId });
    const whois = (await ui.get(tabs[1]!)).body;
    expect(whois.devices[alice.deviceId].sessions[0].connections).to.be.an("array");

    // Save: the record as the UI holds it (its own fields included), with a change.
    const record = { ...one.body, id: one.body.name, avatar_src: undefined, is_guest: false, creation_ts_ms: one.body.creation_ts * 1000, displayname: "Alice from the UI" };
    const saved = await ui.put(`${A}/v2/users/${id}`, JSON.parse(JSON.stringify(record, (k, v) => (v === null && k !== "user_type" ? undefined : v))));
    expect(saved.status, saved.text).to.equal(200);
    expect(saved.body.displayname).to.equal("Alice from the UI");
    // Create, as its form sends it.
    const created = await ui.put(`${A}/v2/users/${encodeURIComponent(`@ui-created:${homeServer}`)}`, { id: "ui-created", displayname: "Created", password: "created password", admin: false, threepids: [], external_ids: [] });
    expect(created.status, created.text).to.equal(201);
  });

  it("the room list, sorted by each column, and a room's page", async () => {
    const bob = await t.s.client().register();
    const roomId = await createRoom(bob, { name: "Listed in the UI", topic: "A topic" });
    await send(bob, roomId, "hello");
    for (const order_by of ["name", "encryption", "joined_members", "joined_local_members", "state_events", "version", "federatable", "public"]) {
      const r = await ui.get(`${A}/v1/rooms?${qs({ from: 0, limit: 10, order_by, dir: "f" })}`);
      expect(r.status, `${order_by}: ${r.text}`).to.equal(200);
      expect(r.body.total_rooms).to.be.a("number");
    }
    const found = await ui.get(`${A}/v1/rooms?${qs({ from: 0, limit: 10, search_term: "Listed in", order_by: "name", dir: "f" })}`);
    expect(found.body.rooms[0]).to.include({ room_id: roomId, name: "Listed in the UI" });
    const id = encodeURIComponent(roomId);
    expect((await ui.get(`${A}/v1/rooms/${id}`)).body).to.include({ topic: "A topic", joined_local_devices: 1 });
    for (const p of [`${A}/v1/rooms/${id}/members`, `${A}/v1/rooms/${id}/state`, `${A}/v1/rooms/${id}/forward_extremities`]) {
      const r = await ui.get(`${p}?${qs({ from: 0, limit: 10, order_by: "id", dir: "b" })}`);
      expect(r.status, p).to.equal(200);
    }
    const fe = (await ui.get(`${A}/v1/rooms/${id}/forward_extremities`)).body;
    expect(fe.count).to.equal(1);
    expect((await ui.get(`/_matrix/client/r0/publicRooms?${qs({ from: 0, limit: 10, order_by: "name", dir: "f" })}`)).status).to.equal(200);
    // Delete, as its button does.
    const del = await ui.del(`${A}/v2/rooms/${id}`, { block: false });
    expect(del.body.delete_id).to.be.a("string");
  });

  it("reports, registration tokens, media statistics, destinations, server notices, erasing a user", async () => {
    const carol = await t.s.client().register();
    const dave = await t.s.client().register();
    const roomId = await createRoom(carol, { preset: "public_chat" });
    await join(dave, roomId);
    const ev = await send(carol, roomId, "report me");
    await dave.post(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/report/${encodeURIComponent(ev)}`, { reason: "spam" });
    const reports = await ui.get(`${A}/v1/event_reports?${qs({ from: 0, limit: 10, order_by: "received_ts", dir: "b" })}`);
    expect(reports.body.total).to.be.greaterThan(0);
    expect((await ui.get(`${A}/v1/event_reports/${reports.body.event_reports[0].id}`)).status).to.equal(200);

    const tok = await ui.post(`${A}/v1/registration_tokens/new`, { token: "ui-token", uses_allowed: 2, expiry_time: Date.now() + 86_400_000 });
    expect(tok.status, tok.text).to.equal(200);
    expect((await ui.get(`${A}/v1/registration_tokens?${qs({ valid: true })}`)).body.registration_tokens.map((x: { token: string }) => x.token)).to.include("ui-token");
    expect((await ui.del(`${A}/v1/registration_tokens/ui-token`)).status).to.equal(200);

    const up = await carol.req("POST", "/_matrix/media/v3/upload?filename=a.txt", { raw: Buffer.from("abc"), headers: { "Content-Type": "text/plain" } });
    expect(up.status).to.equal(200);
    const stats = await ui.get(`${A}/v1/statistics/users/media?${qs({ from: 0, limit: 10, order_by: "media_length", dir: "b" })}`);
    expect(stats.body.users.some((u: { user_id: string; media_count: number }) => u.user_id === carol.userId && u.media_count === 1)).to.equal(true);
    expect((await ui.get(`${A}/v1/federation/destinations?${qs({ from: 0, limit: 10, order_by: "destination", dir: "f" })}`)).body).to.deep.equal({ destinations: [], total: 0 });

    const notice = await ui.post(`${A}/v1/send_server_notice`, { user_id: carol.userId, content: { msgtype: "m.text", body: "Hello from the admins" } });
    expect(notice.status, notice.text).to.equal(200);
    const erase = await ui.post(`${A}/v1/deactivate/${encodeURIComponent(dave.userId)}`, { erase: true });
    expect(erase.status).to.equal(200);
  });
});
