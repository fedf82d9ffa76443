// pusher.yaml and notifications.yaml: GET /pushers, POST /pushers/set (services/pushers.ts), GET /notifications.
import { defineRoutes } from "../../http/route.js";
import { anyObject, bool, obj, parseLimit, str } from "../../http/validate.js";
import { MatrixError } from "../../http/errors.js";
import type { PusherBody } from "../../services/pushers.js";

export default defineRoutes({
  /** GET /_matrix/client/v3/notifications (notifications.yaml) */
  getNotifications: {
    method: "GET", path: "/_matrix/client/v3/notifications", auth: "user",
    handler: ({ user, query }, s) => {
      if (query.only !== undefined && query.only !== "highlight") throw new MatrixError(400, "M_INVALID_PARAM", "only must be 'highlight'");
      return s.notifications.list(user, query.from, parseLimit(query.limit, 20, 100), query.only === "highlight");
    },
  },

  /** GET /_matrix/client/v3/pushers */
  getPushers: {
    method: "GET", path: "/_matrix/client/v3/pushers", auth: "user",
    handler: async ({ user }, s) => ({ pushers: await s.pushers.list(user.userId) }),
  },

  /** POST /_matrix/client/v3/pushers/set */
  postPusher: {
    method: "POST", path: "/_matrix/client/v3/pushers/set", auth: "user",
    body: obj({
      pushkey: str(512), kind: { type: ["string", "null"] }, app_id: str(64), app_display_name: str(255), device_display_name: str(255),
      profile_tag: str(32), lang: str(20), data: anyObject, append: bool,
    }, ["pushkey", "kind", "app_id"]),
    async handler({ user, body }, s) {
      await s.pushers.set(user.userId, body as PusherBody, user.tokenId);
      return {};
    },
  },
});
