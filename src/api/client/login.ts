// login.yaml, logout.yaml, whoami.yaml, refresh.yaml: sessions.
import { deviceRequest, requestingAppservice } from "./session.js";
import { MatrixError, forbidden } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { anyObject, bool, obj, str } from "../../http/validate.js";
import { resolveLoginUser, resolveThirdParty } from "../../services/identifiers.js";

interface LoginBody {
  type: string;
  identifier?: { type?: string; user?: string };
  user?: string;
  password?: string;
  device_id?: string;
  initial_device_display_name?: string;
  refresh_token?: boolean;
}

const loginBody = obj({
  type: str(255),
  identifier: anyObject,
  user: str(255),
  password: str(512),
  device_id: { type: ["string", "null"], maxLength: 255 },
  initial_device_display_name: { type: ["string", "null"], maxLength: 255 },
  refresh_token: bool,
  // The deprecated top-level form of m.id.thirdparty.
  medium: str(16),
  address: str(320),
}, ["type"]);

export default defineRoutes({
  /** GET /_matrix/client/v3/login */
  getLoginFlows: {
    method: "GET", path: "/_matrix/client/v3/login", auth: "none",
    handler: (_ctx, s) => ({ flows: [{ type: "m.login.password" }, ...(s.appservices.all.length ? [{ type: "m.login.application_service" }] : [])] }),
  },

  /** POST /_matrix/client/v3/login */
  login: {
    method: "POST", path: "/_matrix/client/v3/login", auth: "none", body: loginBody,
    async handler({ body: raw, ip, req }, s) {
      const body = raw as LoginBody;
      const device = deviceRequest(body);
      if (body.type === "m.login.application_service") {
        const as = requestingAppservice(req, s);
        const userId = resolveLoginUser(body, s.config.server_name);
        if (!s.appservices.ownsUser(as, userId)) throw forbidden("This user is not in the application service's namespaces");
        const result = await s.accounts.loginAsAppservice(userId, device);
        return { ...result, home_server: s.config.server_name };
      }
      s.limits.login.take(`ip:${ip}`);
      if (body.type !== "m.login.password") throw new MatrixError(400, "M_UNKNOWN", `Unknown login type ${body.type}`);
      // An email address stands for the account it belongs to.
      const resolved = await resolveThirdParty(s.db, body);
      // Per account as well as per address, so a distributed guesser is slowed too.
      s.limits.login.take(`user:${resolveLoginUser(resolved, s.config.server_name)}`);
      const result = await s.accounts.loginWithPassword(resolved, device);
      return {
        ...result,
        home_server: s.config.server_name,
        well_known: { "m.homeserver": { base_url: s.config.public_baseurl!.replace(/\/$/, "") } },
      };
    },
  },

  /** POST /_matrix/client/v3/logout: the token's device goes with it (spec). */
  logout: {
    method: "POST", path: "/_matrix/client/v3/logout", auth: "user", guest: true,
    async handler({ user }, s) {
      if (user.deviceId) await s.devices.logout(user.userId, user.deviceId);
      else if (user.tokenId !== null) await s.tokens.revoke(user.userId, user.tokenId);
      return {};
    },
  },

  /** POST /_matrix/client/v3/logout/all */
  logout_all: {
    method: "POST", path: "/_matrix/client/v3/logout/all", auth: "user", guest: true,
    async handler({ user }, s) {
      await s.devices.logoutAll(user.userId);
      return {};
    },
  },

  /** GET /_matrix/client/v3/account/whoami */
  getTokenOwner: {
    method: "GET", path: "/_matrix/client/v3/account/whoami", auth: "user", guest: true,
    handler: ({ user }) => ({
      user_id: user.userId,
      ...(user.deviceId ? { device_id: user.deviceId } : {}),
      is_guest: user.isGuest,
    }),
  },

  /** POST /_matrix/client/v3/refresh */
  refresh: {
    method: "POST", path: "/_matrix/client/v3/refresh", auth: "none",
    body: obj({ refresh_token: str(512) }, ["refresh_token"]),
    handler: ({ body }, s) => s.tokens.refresh((body as { refresh_token: string }).refresh_token),
  },
});
