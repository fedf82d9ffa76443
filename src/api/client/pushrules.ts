// pushrules.yaml: the server-default rule set. Rule changes and evaluation come with push support.
import { defineRoutes } from "../../http/route.js";
import { defaultPushRules } from "../../matrix/push-rules-default.js";

export default defineRoutes({
  /** GET /_matrix/client/v3/pushrules/ */
  getPushRules: {
    method: "GET", path: "/_matrix/client/v3/pushrules", auth: "user", guest: true,
    handler: ({ user }) => ({ global: defaultPushRules(user.userId) }),
  },

  /** GET /_matrix/client/v3/pushrules/global/ */
  getPushRulesGlobal: {
    method: "GET", path: "/_matrix/client/v3/pushrules/global", auth: "user", guest: true,
    handler: ({ user }) => defaultPushRules(user.userId),
  },
});
