// device_management.yaml
import { expect } from "chai";
import { useServer } from "../helpers/server.js";

const LOGIN = "/_matrix/client/v3/login";

describe("devices", () => {
  const t = useServer();

  async function twoDevices() {
    const u = await t.s.client().register();
    const l = await t.s.client().post(LOGIN, { type: "m.login.password", user: u.userId, password: u.password, device_id: "SECOND", initial_device_display_name: "Second" });
    expect(l.status).to.equal(200);
    return { u, second: t.s.client(l.body.access_token) };
  }

  it("lists, gets and renames devices", async () => {
    const { u } = await twoDevices();
    const list = await u.get("/_matrix/client/v3/devices");
    expect(list.status).to.equal(200);
    const ids = list.body.devices.map((d: any) => d.device_id).sort();
    expect(ids).to.deep.equal([u.deviceId, "SECOND"].sort());
    const one = await u.get("/_matrix/client/v3/devices/SECOND");
    expect(one.body).to.include({ device_id: "SECOND", display_name: "Second" });
    expect((await u.put("/_matrix/client/v3/devices/SECOND", { display_name: "Renamed" })).status).to.equal(200);
    expect((await u.get("/_matrix/client/v3/devices/SECOND")).body.display_name).to.equal("Renamed");
  });

  it("records when and from where a device was last seen", async () => {
    const u = await t.s.client().register();
    const d = await u.get(`/_matrix/client/v3/devices/${u.deviceId}`);
    expect(d.body.last_seen_ts).to.be.a("number");
    expect(d.body.last_seen_ip).to.be.a("string");
  });

  it("unknown device: 404 M_NOT_FOUND for get, rename and delete", async () => {
    const u = await t.s.client().register();
    for (const r of [
      await u.get("/_matrix/client/v3/devices/NOPE"),
      await u.put("/_matrix/client/v3/devices/NOPE", { display_name: "x" }),
      await u.del("/_matrix/client/v3/devices/NOPE", {}),
    ]) {
      expect(r.status).to.equal(404);
      expect(r.body.errcode).to.equal("M_NOT_FOUND");
    }
  });

  it("another user's device is not visible", async () => {
    const { u } = await twoDevices();
    const other = await t.s.client().register();
    const r = await other.get(`/_matrix/client/v3/devices/${u.deviceId}`);
    expect(r.status).to.equal(404);
  });

  it("DELETE /devices/{id} asks for the password, refuses a wrong one, and revokes the device's tokens", async () => {
    const { u, second } = await twoDevices();
    const first = await u.del("/_matrix/client/v3/devices/SECOND", {});
    expect(first.status).to.equal(401);
    expect(first.body.flows).to.deep.equal([{ stages: ["m.login.password"] }]);
    expect(first.body.completed).to.deep.equal([]); // always there, empty before any stage
    const session = first.body.session;
    const wrong = await u.del("/_matrix/client/v3/devices/SECOND", {
      auth: { type: "m.login.password", session, identifier: { type: "m.id.user", user: u.userId }, password: "wrong" },
    });
    expect(wrong.status).to.equal(401);
    expect(wrong.body.errcode).to.equal("M_FORBIDDEN");
    expect(wrong.body.flows).to.be.an("array");
    expect(wrong.body.session).to.equal(session);
    const ok = await u.del("/_matrix/client/v3/devices/SECOND", {
      auth: { type: "m.login.password", session, identifier: { type: "m.id.user", user: u.userId }, password: u.password },
    });
    expect(ok.status).to.equal(200);
    expect((await second.get("/_matrix/client/v3/account/whoami")).status).to.equal(401);
    expect((await u.get("/_matrix/client/v3/devices/SECOND")).status).to.equal(404);
  });

  it("UIA with another user's password is refused", async () => {
    const { u } = await twoDevices();
    const other = await t.s.client().register();
    const r = await u.del("/_matrix/client/v3/devices/SECOND", {
      auth: { type: "m.login.password", identifier: { type: "m.id.user", user: other.userId }, password: other.password },
    });
    expect(r.status).to.equal(403);
    expect(r.body.errcode).to.equal("M_FORBIDDEN");
    // The device is still there.
    expect((await u.get("/_matrix/client/v3/devices/SECOND")).status).to.equal(200);
  });

  it("a UIA session cannot be carried over to another endpoint", async () => {
    const { u } = await twoDevices();
    const first = await u.del("/_matrix/client/v3/devices/SECOND", {});
    const r = await u.post("/_matrix/client/v3/delete_devices", {
      devices: ["SECOND"],
      auth: { type: "m.login.password", session: first.body.session, identifier: { type: "m.id.user", user: u.userId }, password: u.password },
    });
    expect(r.status).to.equal(403);
  });

  it("POST /delete_devices deletes several after UIA; unknown IDs are ignored", async () => {
    const { u, second } = await twoDevices();
    const l3 = await t.s.client().post(LOGIN, { type: "m.login.password", user: u.userId, password: u.password, device_id: "THIRD" });
    const third = t.s.client(l3.body.access_token);
    const challenge = await u.post("/_matrix/client/v3/delete_devices", { devices: ["SECOND", "THIRD", "GHOST"] });
    expect(challenge.status).to.equal(401);
    const ok = await u.post("/_matrix/client/v3/delete_devices", {
      devices: ["SECOND", "THIRD", "GHOST"],
      auth: { type: "m.login.password", session: challenge.body.session, user: u.userId, password: u.password },
    });
    expect(ok.status).to.equal(200);
    expect((await second.get("/_matrix/client/v3/account/whoami")).status).to.equal(401);
    expect((await third.get("/_matrix/client/v3/account/whoami")).status).to.equal(401);
    expect((await u.get("/_matrix/client/v3/devices")).body.devices).to.have.length(1);
  });

  it("POST /delete_devices without devices: 400 M_MISSING_PARAM", async () => {
    const u = await t.s.client().register();
    const r = await u.post("/_matrix/client/v3/delete_devices", {});
    expect(r.status).to.equal(400);
    expect(r.body.errcode).to.equal("M_MISSING_PARAM");
  });
});
