// Registration tokens: the admin API Synapse serves at /_synapse/admin/v1/registration_tokens
// (list, query, create with a chosen or generated token, update, delete), with its shapes and
// errcodes, so synapse-admin and scripts written for it work here.
import { randomInt } from "node:crypto";
import { invalidParam, notFound } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { int, obj, str } from "../../http/validate.js";
import * as tokens from "../../store/registration-tokens.js";

const TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-";
const TOKEN_RE = /^[A-Za-z0-9._~-]{1,64}$/;
const nullableInt: Record<string, unknown> = { type: ["integer", "null"] };

function generate(length: number): string {
  let t = "";
  for (let i = 0; i < length; i++) t += TOKEN_CHARS[randomInt(TOKEN_CHARS.length)];
  return t;
}

function checkLimits(b: { uses_allowed?: number | null; expiry_time?: number | null }): void {
  if (b.uses_allowed !== undefined && b.uses_allowed !== null && b.uses_allowed < 0) throw invalidParam("uses_allowed must be a non-negative integer or null");
  if (b.expiry_time !== undefined && b.expiry_time !== null && b.expiry_time < Date.now()) throw invalidParam("expiry_time must not be in the past");
}

export default defineRoutes({
  /** GET /_synapse/admin/v1/registration_tokens[?valid=true|false] */
  adminListRegistrationTokens: {
    method: "GET", path: "/_synapse/admin/v1/registration_tokens", auth: "user", admin: true,
    async handler({ query }, s) {
      const valid = query.valid === "true" ? true : query.valid === "false" ? false : null;
      if (query.valid !== undefined && valid === null) throw invalidParam("valid must be true or false");
      return { registration_tokens: await tokens.listTokens(s.db, valid, Date.now()) };
    },
  },

  /** POST /_synapse/admin/v1/registration_tokens/new */
  adminCreateRegistrationToken: {
    method: "POST", path: "/_synapse/admin/v1/registration_tokens/new", auth: "user", admin: true,
    body: obj({ token: str(64), uses_allowed: nullableInt, expiry_time: nullableInt, length: int(1, 64) }),
    async handler({ body }, s) {
      const b = body as { token?: string; uses_allowed?: number | null; expiry_time?: number | null; length?: number };
      if (b.token !== undefined && !TOKEN_RE.test(b.token)) throw invalidParam("token must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '~' and '-'");
      if (b.token !== undefined && b.length !== undefined) throw invalidParam("length is only for generated tokens");
      checkLimits(b);
      const row = { uses_allowed: b.uses_allowed ?? null, expiry_time: b.expiry_time ?? null };
      if (b.token !== undefined) {
        if (!(await tokens.insertToken(s.db, { token: b.token, ...row }))) throw invalidParam(`Token already exists: ${b.token}`);
        return (await tokens.selectToken(s.db, b.token))!;
      }
      // A generated token that collides (vanishingly rare at 16 characters) is drawn again.
      for (;;) {
        const token = generate(b.length ?? 16);
        if (await tokens.insertToken(s.db, { token, ...row })) return (await tokens.selectToken(s.db, token))!;
      }
    },
  },

  /** GET /_synapse/admin/v1/registration_tokens/{token} */
  adminGetRegistrationToken: {
    method: "GET", path: "/_synapse/admin/v1/registration_tokens/:token", auth: "user", admin: true,
    async handler({ params }, s) {
      const t = await tokens.selectToken(s.db, params.token!);
      if (!t) throw notFound(`No such registration token: ${params.token}`);
      return t;
    },
  },

  /** PUT /_synapse/admin/v1/registration_tokens/{token}: uses_allowed and expiry_time. */
  adminUpdateRegistrationToken: {
    method: "PUT", path: "/_synapse/admin/v1/registration_tokens/:token", auth: "user", admin: true,
    body: obj({ uses_allowed: nullableInt, expiry_time: nullableInt }),
    async handler({ params, body }, s) {
      const b = body as { uses_allowed?: number | null; expiry_time?: number | null };
      checkLimits(b);
      const set: { uses_allowed?: number | null; expiry_time?: number | null } = {};
      if (b.uses_allowed !== undefined) set.uses_allowed = b.uses_allowed;
      if (b.expiry_time !== undefined) set.expiry_time = b.expiry_time;
      const t = await tokens.updateToken(s.db, params.token!, set);
      if (!t) throw notFound(`No such registration token: ${params.token}`);
      return t;
    },
  },

  /** DELETE /_synapse/admin/v1/registration_tokens/{token} */
  adminDeleteRegistrationToken: {
    method: "DELETE", path: "/_synapse/admin/v1/registration_tokens/:token", auth: "user", admin: true,
    async handler({ params }, s) {
      if (!(await tokens.deleteToken(s.db, params.token!))) throw notFound(`No such registration token: ${params.token}`);
      return {};
    },
  },
});
