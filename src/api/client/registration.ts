// registration.yaml: POST /register, GET /register/available.
import { deviceRequest, requestingAppservice } from "./session.js";
import { MatrixError, forbidden, invalidParam, missingParam } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { bool, obj, str, anyObject } from "../../http/validate.js";
import { makeUserId } from "../../matrix/ids.js";
import { DUMMY, EMAIL_IDENTITY, REGISTRATION_TOKEN, type AuthDict } from "../../services/uia.js";
import { bindEmail } from "./threepid.js";
import * as registrationTokens from "../../store/registration-tokens.js";
import type { Services } from "../../services/index.js";

/**
 * The UIA flows of registration: a dummy stage (or a registration token where one is
 * required), and with email configured a flow that proves an address too (or only that one,
 * when email.registration is "required").
 */
const flows = (s: Services): string[][] => {
  const base = s.config.registration.require_token ? [REGISTRATION_TOKEN] : [];
  const withEmail = [...base, EMAIL_IDENTITY];
  const mode = s.email.enabled ? s.config.email.registration : "off";
  if (mode === "required") return [withEmail];
  const plain = base.length ? base : [DUMMY];
  return mode === "optional" ? [plain, withEmail] : [plain];
};
import { hashPassword } from "../../services/passwords.js";

interface RegisterBody {
  guest_access_token?: string;
  username?: string;
  password?: string;
  device_id?: string;
  initial_device_display_name?: string;
  inhibit_login?: boolean;
  refresh_token?: boolean;
  auth?: AuthDict;
  type?: string;
}

const registerBody = obj({
  username: str(255),
  password: str(512),
  device_id: str(255),
  initial_device_display_name: str(255),
  inhibit_login: bool,
  refresh_token: bool,
  auth: anyObject,
  type: str(255),
  guest_access_token: str(1024),
});

export default defineRoutes({
  /** POST /_matrix/client/v3/register */
  register: {
    method: "POST", path: "/_matrix/client/v3/register", auth: "none", body: registerBody,
    async handler({ body: raw, query, ip, req }, s) {
      const body = raw as RegisterBody;
      const kind = query.kind ?? "user";
      if (kind !== "user" && kind !== "guest") throw invalidParam("kind must be 'user' or 'guest'");
      const login = body.inhibit_login ? null : deviceRequest(body);
      // Application services register users of their namespaces without a password or UIA
      // (spec: application service API, server admin style permissions).
      if (body.type === "m.login.application_service") {
        const as = requestingAppservice(req, s);
        if (!body.username) throw missingParam("username is required");
        const localpart = body.username.toLowerCase();
        if (!s.appservices.ownsUser(as, makeUserId(localpart, s.config.server_name))) {
          throw new MatrixError(400, "M_EXCLUSIVE", "This user ID is not in the application service's namespaces");
        }
        await s.accounts.checkAvailable(localpart, as.id);
        return withHomeServer(await s.accounts.register({ kind: "user", localpart, password: null, appserviceId: as.id, login }), s.config.server_name);
      }
      s.limits.registration.take(`ip:${ip}`);
      if (kind === "guest") {
        if (!s.config.registration.allow_guests) throw new MatrixError(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled");
        // Guests get a fresh device; they cannot choose a device ID or a password (spec: guest access).
        return withHomeServer(await s.accounts.register({
          kind: "guest", localpart: null, password: null,
          login: { deviceId: null, deviceName: body.initial_device_display_name ?? null, refresh: body.refresh_token === true },
        }), s.config.server_name);
      }
      if (!s.config.registration.enabled) throw forbidden("Registration has been disabled");
      // A guest upgrading to a full account keeps its user ID (spec: guest access): its own
      // access token, and its localpart as username.
      if (body.guest_access_token !== undefined) {
        const guest = await s.tokens.authenticate(body.guest_access_token, ip).catch(() => null);
        if (!guest?.isGuest) throw forbidden("guest_access_token is not a guest's access token");
        if (!body.username || makeUserId(body.username.toLowerCase(), s.config.server_name) !== guest.userId) throw forbidden("A guest can only upgrade its own account");
        if (body.password === undefined) throw missingParam("password is required");
        s.accounts.checkPasswordPolicy(body.password);
        const upgradeSession = await s.uia.require(body.auth, "register", flows(s), null);
        const upgraded = await s.accounts.upgradeGuest(guest.userId, body.password, login);
        await registrationTokens.complete(s.db, upgradeSession);
        return withHomeServer(upgraded, s.config.server_name);
      }
      // The session remembers the first request's parameters, so a later stage may send only
      // `auth`; once the account is made, repeating the request answers the same account (a
      // new login, unless inhibit_login) rather than "taken" (spec: user-interactive auth,
      // "the result of the API call if all stages were completed").
      const known = await s.uia.sessionData(body.auth?.session, "register");
      const { password_hash: rememberedHash, ...rememberedRest } = (known?.params ?? {}) as RegisterBody & { password_hash?: string };
      const merged: RegisterBody = { ...rememberedRest, ...Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) };
      const mergedLogin = merged.inhibit_login ? null : deviceRequest(merged);
      if (typeof known?.result?.user_id === "string") {
        const userId = known.result.user_id as ReturnType<typeof makeUserId>;
        return withHomeServer(mergedLogin ? await s.accounts.newSession(userId, mergedLogin) : { user_id: userId }, s.config.server_name);
      }
      // Localparts are lower case; a client must not assume the ID it gets equals what it sent
      // (spec), and people type "Alice". The name is checked before auth, so a client learns
      // of a taken name at once.
      const localpart = merged.username?.toLowerCase() ?? null;
      if (localpart !== null) await s.accounts.checkAvailable(localpart);
      if (body.password !== undefined) s.accounts.checkPasswordPolicy(body.password);
      const remember = known?.params && Object.keys(known.params).length ? undefined : {
        ...Object.fromEntries(Object.entries(body).filter(([k, v]) => v !== undefined && k !== "auth" && k !== "password")),
        ...(body.password !== undefined ? { password_hash: await hashPassword(body.password) } : {}),
      };
      const sessionId = await s.uia.require(body.auth, "register", flows(s), null, { remember, keep: true });
      const result = await s.accounts.register({
        kind: "user", localpart, password: body.password ?? null, passwordHash: body.password === undefined ? rememberedHash ?? null : null, login: mergedLogin,
      });
      await s.uia.finish(sessionId, { user_id: result.user_id });
      // The token's pending use is completed only now that the account exists; a proven
      // address becomes the account's.
      await registrationTokens.complete(s.db, sessionId);
      const email = await s.uia.threepidOf(sessionId);
      if (email) await bindEmail(s, result.user_id as never, email.sid, email.address);
      return withHomeServer(result, s.config.server_name);
    },
  },

  /** GET /_matrix/client/v1/register/m.login.registration_token/validity */
  registrationTokenValidity: {
    method: "GET", path: "/_matrix/client/v1/register/m.login.registration_token/validity", auth: "none",
    async handler({ query, ip }, s) {
      if (!s.config.registration.enabled) throw forbidden("Registration is not enabled on this homeserver.");
      if (!query.token) throw missingParam("token is required");
      // Rate limited like registration itself: this endpoint must not be a way to guess tokens.
      s.limits.registration.take(`ip:${ip}`);
      return { valid: query.token.length <= 64 && await registrationTokens.isValid(s.db, query.token, Date.now()) };
    },
  },

  /** GET /_matrix/client/v3/register/available */
  checkUsernameAvailability: {
    method: "GET", path: "/_matrix/client/v3/register/available", auth: "none",
    async handler({ query, ip }, s) {
      if (!query.username) throw missingParam("username is required");
      s.limits.registration.take(`ip:${ip}`);
      await s.accounts.checkAvailable(query.username);
      return { available: true };
    },
  },
});

/** `home_server` is deprecated but still read by older clients and test suites. */
function withHomeServer<T extends object>(r: T, serverName: string): T & { home_server?: string } {
  return "access_token" in r ? { ...r, home_server: serverName } : r;
}
