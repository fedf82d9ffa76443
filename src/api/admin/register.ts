// Shared-secret registration, compatible with Synapse's admin API
// (GET|POST /_synapse/admin/v1/register), which test suites and bridge setup scripts use to
// create users when open registration is off. The MAC is HMAC-SHA1 over
// nonce NUL username NUL password NUL ("admin" | "notadmin") [NUL user_type], keyed with
// registration.shared_secret.
import { createHmac, timingSafeEqual } from "node:crypto";
import { MatrixError, forbidden } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { bool, obj, str } from "../../http/validate.js";

const NONCE_TTL_MS = 60_000;

interface SharedSecretBody {
  nonce: string; username: string; password: string; mac: string;
  admin?: boolean; displayname?: string; user_type?: string | null;
}

export function sharedSecretMac(secret: string, b: Omit<SharedSecretBody, "mac">): string {
  const h = createHmac("sha1", secret);
  h.update(b.nonce).update("\x00").update(b.username).update("\x00").update(b.password).update("\x00");
  h.update(b.admin ? "admin" : "notadmin");
  if (b.user_type) h.update("\x00").update(b.user_type);
  return h.digest("hex");
}

const disabled = () => new MatrixError(400, "M_UNKNOWN", "Shared secret registration is not enabled");

export default defineRoutes({
  /** GET /_synapse/admin/v1/register: a single-use nonce, valid for a minute. */
  getRegistrationNonce: {
    method: "GET", path: "/_synapse/admin/v1/register", auth: "none",
    async handler(_ctx, s) {
      if (!s.config.registration.shared_secret) throw disabled();
      return { nonce: await s.accounts.issueRegistrationNonce() };
    },
  },

  /** POST /_synapse/admin/v1/register */
  registerWithSharedSecret: {
    method: "POST", path: "/_synapse/admin/v1/register", auth: "none",
    body: obj({
      nonce: str(128), username: str(255), password: str(512), mac: str(128),
      admin: bool, displayname: str(256), user_type: { type: ["string", "null"], maxLength: 64 },
    }, ["nonce", "username", "password", "mac"]),
    async handler({ body, ip }, s) {
      const secret = s.config.registration.shared_secret;
      if (!secret) throw disabled();
      s.limits.registration.take(`ip:${ip}`);
      const b = body as SharedSecretBody;
      if (!(await s.accounts.takeRegistrationNonce(b.nonce, NONCE_TTL_MS))) throw new MatrixError(400, "M_UNKNOWN", "Unrecognised nonce");
      const want = Buffer.from(sharedSecretMac(secret, b), "utf8");
      const got = Buffer.from(b.mac.toLowerCase(), "utf8");
      if (want.length !== got.length || !timingSafeEqual(want, got)) throw forbidden("HMAC incorrect");
      const result = await s.accounts.register({
        kind: "user", localpart: b.username.toLowerCase(), password: b.password, isAdmin: b.admin === true,
        displayName: b.displayname ?? null, login: { deviceId: null, deviceName: null, refresh: false },
      });
      return { ...result, home_server: s.config.server_name };
    },
  },
});
