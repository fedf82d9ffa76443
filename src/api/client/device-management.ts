// device_management.yaml
import { Reply, defineRoutes } from "../../http/route.js";
import { anyObject, obj, str } from "../../http/validate.js";
import { parseDeviceId } from "../../matrix/ids.js";
import type { AuthDict } from "../../services/uia.js";

export default defineRoutes({
  /** GET /_matrix/client/v3/devices */
  getDevices: {
    method: "GET", path: "/_matrix/client/v3/devices", auth: "user",
    handler: async ({ user }, s) => ({ devices: await s.devices.list(user.userId) }),
  },

  /** GET /_matrix/client/v3/devices/{deviceId} */
  getDevice: {
    method: "GET", path: "/_matrix/client/v3/devices/:deviceId", auth: "user",
    handler: ({ user, params }, s) => s.devices.get(user.userId, parseDeviceId(params.deviceId!)),
  },

  /** PUT /_matrix/client/v3/devices/{deviceId} */
  updateDevice: {
    method: "PUT", path: "/_matrix/client/v3/devices/:deviceId", auth: "user",
    body: obj({ display_name: { type: ["string", "null"], maxLength: 255 } }),
    async handler({ user, params, body }, s) {
      const deviceId = parseDeviceId(params.deviceId!);
      const name = (body as { display_name?: string | null }).display_name;
      // MSC4190: an application service creates its users' devices here (201 when new).
      if (user.appserviceId) return (await s.devices.create(user.userId, deviceId, name ?? null)) ? new Reply(201, {}) : {};
      if (name !== undefined) await s.devices.rename(user.userId, deviceId, name);
      else await s.devices.get(user.userId, deviceId); // still 404 for an unknown device
      return {};
    },
  },

  /** DELETE /_matrix/client/v3/devices/{deviceId} (user-interactive auth) */
  deleteDevice: {
    method: "DELETE", path: "/_matrix/client/v3/devices/:deviceId", auth: "user",
    body: obj({ auth: anyObject }),
    async handler({ user, params, body }, s) {
      const deviceId = parseDeviceId(params.deviceId!);
      await s.devices.get(user.userId, deviceId); // 404 before asking for auth
      const auth = (body as { auth?: AuthDict }).auth;
      // Application services delete their users' devices without re-authenticating (MSC4190).
      if (!user.appserviceId) await s.uia.require(auth, `DELETE devices/${deviceId}`, await s.uia.flowsForUser(user.userId), user);
      await s.devices.delete(user.userId, [deviceId]);
      return {};
    },
  },

  /** POST /_matrix/client/v3/delete_devices (user-interactive auth) */
  deleteDevices: {
    method: "POST", path: "/_matrix/client/v3/delete_devices", auth: "user",
    body: obj({ devices: { type: "array", maxItems: 1000, items: str(255) }, auth: anyObject }, ["devices"]),
    async handler({ user, body }, s) {
      const b = body as { devices: string[]; auth?: AuthDict };
      const ids = b.devices.map(parseDeviceId);
      if (!user.appserviceId) await s.uia.require(b.auth, "delete_devices", await s.uia.flowsForUser(user.userId), user);
      await s.devices.delete(user.userId, ids);
      return {};
    },
  },
});
