// Email addresses on accounts (administrative_contact.yaml; the requestToken endpoints of
// registration.yaml and password_management.yaml), and the validation link's page. With no
// SMTP configured the requestToken endpoints answer as v1.13 says for a server that sends no
// email (misc.ts keeps those answers for phone numbers).
import type { Response } from "express";
import { MatrixError } from "../../http/errors.js";
import { defineRoutes, type RouteDef } from "../../http/route.js";
import { anyObject, bool, int, obj, str } from "../../http/validate.js";
import type { UserId } from "../../matrix/ids.js";
import { checkClientSecret, normaliseEmail, type Purpose } from "../../services/email.js";
import type { Services } from "../../services/index.js";
import type { AuthDict } from "../../services/uia.js";
import * as threepids from "../../store/admin-users.js";

const requestBody = obj({ client_secret: str(255), email: str(320), send_attempt: int(0), next_link: str(2048), id_server: str(255), id_access_token: str(1024) }, ["client_secret", "email", "send_attempt"]);
type RequestBody = { client_secret: string; email: string; send_attempt: number; next_link?: string };

function requestToken(purpose: Purpose, path: string): RouteDef {
  return {
    method: "POST", path, auth: "none", body: requestBody,
    async handler({ body, ip }, s) {
      const b = body as RequestBody;
      if (!s.email.enabled) {
        if (purpose === "add") throw new MatrixError(400, "M_THREEPID_MEDIUM_NOT_SUPPORTED", "This server does not support adding email addresses");
        throw new MatrixError(403, "M_THREEPID_DENIED", "This server does not verify email addresses");
      }
      if (purpose === "register" && (!s.config.registration.enabled || s.config.email.registration === "off")) throw new MatrixError(403, "M_THREEPID_DENIED", "Registration with an email address is not enabled");
      // Each call may send an email: limited like registration.
      s.limits.registration.take(`ip:${ip}`);
      const address = normaliseEmail(b.email);
      checkClientSecret(b.client_secret);
      const owner = await threepids.userByThreepid(s.db, "email", address);
      if (purpose === "reset" && !owner) throw new MatrixError(400, "M_THREEPID_NOT_FOUND", "No account has this email address");
      if (purpose !== "reset" && owner) throw new MatrixError(400, "M_THREEPID_IN_USE", "This email address is already in use");
      return s.email.requestToken(purpose, address, b.client_secret, b.send_attempt, b.next_link);
    },
  };
}

/** Binds a validated address to the account (an address another account has is refused). */
export async function bindEmail(s: Services, userId: UserId, sid: string, address: string): Promise<void> {
  const owner = await threepids.userByThreepid(s.db, "email", address);
  if (owner && owner !== userId) throw new MatrixError(400, "M_THREEPID_IN_USE", "This email address is already in use");
  const now = Date.now();
  await s.db.raw(
    `INSERT INTO user_threepids (medium, address, user_id, validated_at, added_at) VALUES ('email', ?, ?, ?, ?) ON CONFLICT (medium, address) DO NOTHING`,
    [address, userId, now, now],
  );
  await s.email.consume(sid);
}

const escapeHtml = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res: Response, status: number, title: string, text: string): void {
  res.status(status).set({
    "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
  }).send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32em;margin:4em auto;padding:0 1em"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`);
}

export default defineRoutes({
  requestAddEmailToken: requestToken("add", "/_matrix/client/v3/account/3pid/email/requestToken"),
  requestRegisterEmailToken: requestToken("register", "/_matrix/client/v3/register/email/requestToken"),
  requestPasswordEmailToken: requestToken("reset", "/_matrix/client/v3/account/password/email/requestToken"),

  /**
   * The link in the email: validates the session, then shows a page (or goes to next_link).
   * A browser gets pages; a client that asks for JSON gets the Matrix answers.
   */
  validateEmailLink: {
    method: "GET", path: "/_ganglion/client/email/validate", auth: "none",
    async handler({ req, query, res }, s) {
      const browser = req.accepts(["json", "html"]) === "html";
      try {
        const next = await s.email.validate(query.sid ?? "", query.client_secret ?? "", query.token ?? "");
        if (!browser) return { success: true };
        if (next) { res.redirect(302, next); return; }
        page(res, 200, "Email address confirmed", "Thank you. You can close this page and go back to your app.");
      } catch (e) {
        if (!(e instanceof MatrixError) || !browser) throw e;
        page(res, 400, "This link does not work", "It may have expired, or been used for a newer request. Ask your app to send a new email.");
      }
    },
  },

  /** submit_url (spec: requestToken's response): the token posted by a client instead of the link. */
  submitEmailToken: {
    method: "POST", path: "/_ganglion/client/email/submit_token", auth: "none",
    body: obj({ sid: str(255), client_secret: str(255), token: str(255) }, ["sid", "client_secret", "token"]),
    async handler({ body }, s) {
      const b = body as { sid: string; client_secret: string; token: string };
      await s.email.validate(b.sid, b.client_secret, b.token);
      return { success: true };
    },
  },

  /** GET /_matrix/client/v3/account/3pid */
  getAccount3PIDs: {
    method: "GET", path: "/_matrix/client/v3/account/3pid", auth: "user",
    handler: async ({ user }, s) => ({ threepids: await threepids.selectThreepids(s.db, user.userId) }),
  },

  /** POST /_matrix/client/v3/account/3pid/add (user-interactive auth) */
  add3PID: {
    method: "POST", path: "/_matrix/client/v3/account/3pid/add", auth: "user",
    body: obj({ client_secret: str(255), sid: str(255), auth: anyObject }, ["client_secret", "sid"]),
    async handler({ user, body }, s) {
      const b = body as { client_secret: string; sid: string; auth?: AuthDict };
      await s.uia.require(b.auth, "account/3pid/add", await s.uia.flowsForUser(user.userId), user);
      const v = await s.email.validatedAddress({ sid: b.sid, client_secret: b.client_secret }, "add");
      await bindEmail(s, user.userId, v.sid, v.address);
      return {};
    },
  },

  /** POST /_matrix/client/v3/account/3pid (deprecated: the address validated by this server, no UIA) */
  post3PIDs: {
    method: "POST", path: "/_matrix/client/v3/account/3pid", auth: "user",
    body: obj({ three_pid_creds: obj({ client_secret: str(255), sid: str(255), id_server: str(255), id_access_token: str(1024) }, ["client_secret", "sid"]), bind: bool }, ["three_pid_creds"]),
    async handler({ user, body }, s) {
      const creds = (body as { three_pid_creds: { sid: string; client_secret: string } }).three_pid_creds;
      const v = await s.email.validatedAddress(creds, "add");
      await bindEmail(s, user.userId, v.sid, v.address);
      return {};
    },
  },

  /** POST /_matrix/client/v3/account/3pid/delete */
  delete3pidFromAccount: {
    method: "POST", path: "/_matrix/client/v3/account/3pid/delete", auth: "user",
    body: obj({ medium: { enum: ["email", "msisdn"] }, address: str(320), id_server: str(255) }, ["medium", "address"]),
    async handler({ user, body }, s) {
      const b = body as { medium: string; address: string };
      const address = b.medium === "email" ? b.address.trim().toLowerCase() : b.address;
      await s.db("user_threepids").where({ medium: b.medium, address, user_id: user.userId }).delete();
      return { id_server_unbind_result: "no-support" };
    },
  },
});
