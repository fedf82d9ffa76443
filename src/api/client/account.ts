// password_management.yaml and account_deactivation.yaml.
import { defineRoutes } from "../../http/route.js";
import { anyObject, bool, obj, str } from "../../http/validate.js";
import type { AuthDict } from "../../services/uia.js";

export default defineRoutes({
  /** POST /_matrix/client/v3/account/password (user-interactive auth) */
  changePassword: {
    method: "POST", path: "/_matrix/client/v3/account/password", auth: "user",
    body: obj({ new_password: str(512), logout_devices: bool, auth: anyObject }, ["new_password"]),
    async handler({ user, body }, s) {
      const b = body as { new_password: string; logout_devices?: boolean; auth?: AuthDict };
      s.accounts.checkPasswordPolicy(b.new_password);
      await s.uia.require(b.auth, "account/password", await s.uia.flowsForUser(user.userId), user);
      await s.accounts.changePassword(user, b.new_password, b.logout_devices !== false);
      return {};
    },
  },

  /** POST /_matrix/client/v3/account/deactivate (user-interactive auth) */
  deactivateAccount: {
    method: "POST", path: "/_matrix/client/v3/account/deactivate", auth: "user",
    body: obj({ auth: anyObject, id_server: str(255), erase: bool }),
    async handler({ user, body }, s) {
      const b = body as { auth?: AuthDict; erase?: boolean };
      // An application service deactivates its own users without re-authenticating (as the
      // reference lets it: it has no password to give for them).
      if (!user.appserviceId) await s.uia.require(b.auth, "account/deactivate", await s.uia.flowsForUser(user.userId), user);
      await s.accounts.deactivate(user.userId, b.erase === true);
      // We hold no third-party identifiers, so there is nothing to unbind.
      return { id_server_unbind_result: "no-support" };
    },
  },
});
