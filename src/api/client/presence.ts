// presence.yaml
import { forbidden } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { obj } from "../../http/validate.js";
import { parseUserId } from "../../matrix/ids.js";
import type { PresenceValue } from "../../services/presence.js";

export default defineRoutes({
  /** GET /_matrix/client/v3/presence/{userId}/status */
  getPresence: {
    method: "GET", path: "/_matrix/client/v3/presence/:userId/status", auth: "user", guest: true,
    handler: ({ user, params }, s) => s.presence.get(user.userId, parseUserId(params.userId!)),
  },

  /** PUT /_matrix/client/v3/presence/{userId}/status */
  setPresence: {
    method: "PUT", path: "/_matrix/client/v3/presence/:userId/status", auth: "user", guest: true,
    body: obj({ presence: { enum: ["online", "offline", "unavailable"] }, status_msg: { type: ["string", "null"], maxLength: 1024 } }, ["presence"]),
    async handler({ user, params, body }, s) {
      if (parseUserId(params.userId!) !== user.userId) throw forbidden("You can only set your own presence");
      const b = body as { presence: PresenceValue; status_msg?: string | null };
      await s.presence.set(user.userId, b.presence, b.status_msg);
      return {};
    },
  },
});
