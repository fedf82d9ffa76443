// password_management.yaml and account_deactivation.yaml.
import { defineRoutes } from "../../http/route.js";
import { anyObject, bool, obj, str } from "../../http/validate.js";
import { MatrixError } from "../../http/errors.js";
import { EMAIL_IDENTITY, type AuthDict } from "../../services/uia.js";
import { userByThreepid } from "../../store/admin-users.js";

export default defineRoutes({
  /** POST /_matrix/client/v3/account/password (user-interactive auth) */
  changePassword: {
    method: "POST", path: "/_matrix/client/v3/account/password", auth: "optional",
    body: obj({ new_password: str(512), logout_devices: bool, auth: anyObject }, ["new_password"]),
    async handler({ user, body }, s) {
      const b = body as { new_password: string; logout_devices?: boolean; auth?: AuthDict };
      s.accounts.checkPasswordPolicy(b.new_password);
      if (!user) {
        // A forgotten password (spec: password management): the emailed link proves an address of the account.
        if (!s.email.enabled) throw new MatrixError(401, "M_MISSING_TOKEN", "Missing access token");
        const session = await s.uia.require(b.auth, "account/password/reset", [[EMAIL_IDENTITY]], null, { keep: true });
        const proven = await s.uia.threepidOf(session);
        const owner = proven ? await userByThreepid(s.db, "email", proven.address) : null;
        await s.uia.forget(session);
        if (!proven || !owner) throw new MatrixError(400, "M_THREEPID_NOT_FOUND", "No account has this email address");
        await s.accounts.setPassword(owner, b.new_password, b.logout_devices !== false);
        await s.email.consume(proven.sid);
        return {};
      }
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
