// A server admin for admin API tests: registered through the shared-secret API.
import { randomBytes } from "node:crypto";
import { sharedSecretMac } from "../../src/api/admin/register.js";
import { UserClient } from "./client.js";
import type { TestServer } from "./server.js";

export async function registerAdmin(s: TestServer, localpart = `admin${randomBytes(4).toString("hex")}`, password = "admin password 0123"): Promise<UserClient> {
  const c = s.client();
  const { nonce } = (await c.get("/_synapse/admin/v1/register")).body;
  const body = { nonce, username: localpart, password, admin: true };
  const r = await c.post("/_synapse/admin/v1/register", { ...body, mac: sharedSecretMac(s.config.registration.shared_secret!, body) });
  if (r.status !== 200) throw new Error(`admin register: ${r.status} ${r.text}`);
  const u = new UserClient(c.baseUrl, r.body.access_token);
  u.userId = r.body.user_id;
  u.deviceId = r.body.device_id;
  u.password = password;
  return u;
}
