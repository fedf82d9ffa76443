// keys.yaml, cross_signing.yaml and to_device.yaml: the encryption plumbing (services/e2ee.ts).
import { MatrixError } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { anyObject, obj } from "../../http/validate.js";
import { parseToken } from "../../matrix/tokens.js";
import type { AuthDict } from "../../services/uia.js";

const keyValue = { type: ["object", "string"], maxLength: 1024 };

const map = (values: unknown) => ({ type: "object", maxProperties: 1000, additionalProperties: values });

export default defineRoutes({
  /** POST /_matrix/client/v3/keys/upload */
  uploadKeys: {
    method: "POST", path: "/_matrix/client/v3/keys/upload", auth: "user",
    // A key is a signed object (signed_curve25519) or, as the spec allows, a plain string
    // (an unsigned curve25519 key).
    body: obj({ device_keys: anyObject, one_time_keys: map(keyValue), fallback_keys: map(keyValue) }),
    handler: ({ user, body }, s) => s.keys.upload(user, body as Record<string, never>),
  },

  /** POST /_matrix/client/v3/keys/query */
  queryKeys: {
    method: "POST", path: "/_matrix/client/v3/keys/query", auth: "user",
    body: obj({ device_keys: map({ type: "array", maxItems: 1000, items: { type: "string" } }), timeout: { type: "integer" } }, ["device_keys"]),
    handler: ({ user, body }, s) => s.keys.query(user, (body as { device_keys: Record<string, string[]> }).device_keys),
  },

  /** POST /_matrix/client/v3/keys/claim */
  claimKeys: {
    method: "POST", path: "/_matrix/client/v3/keys/claim", auth: "user",
    body: obj({ one_time_keys: map(map({ type: "string", maxLength: 255 })), timeout: { type: "integer" } }, ["one_time_keys"]),
    handler: ({ body }, s) => s.keys.claim((body as { one_time_keys: Record<string, Record<string, string>> }).one_time_keys),
  },

  /** GET /_matrix/client/v3/keys/changes */
  getKeysChanges: {
    method: "GET", path: "/_matrix/client/v3/keys/changes", auth: "user",
    async handler({ user, query }, s) {
      if (query.from === undefined || query.to === undefined) throw new MatrixError(400, "M_MISSING_PARAM", "from and to are required");
      const from = parseToken(query.from, "from").pos;
      const to = parseToken(query.to, "to").pos;
      return s.keys.changes(user.userId, from, Math.max(from, to));
    },
  },

  /** POST /_matrix/client/v3/keys/device_signing/upload: replacing an existing master key needs UIA. */
  uploadCrossSigningKeys: {
    method: "POST", path: "/_matrix/client/v3/keys/device_signing/upload", auth: "user",
    body: obj({ master_key: anyObject, self_signing_key: anyObject, user_signing_key: anyObject, auth: anyObject }),
    async handler({ user, body }, s) {
      const b = body as Record<string, Record<string, unknown>> & { auth?: AuthDict };
      const existing = (await s.keys.query(user, { [user.userId]: [] })).master_keys as Record<string, unknown>;
      const current = existing[user.userId];
      const replacing = current !== undefined && b.master_key !== undefined && JSON.stringify(current) !== JSON.stringify(b.master_key);
      if (replacing && !user.appserviceId) await s.uia.require(b.auth, "device_signing/upload", await s.uia.flowsForUser(user.userId), user);
      await s.keys.uploadCrossSigning(user, b);
      return {};
    },
  },

  /** POST /_matrix/client/v3/keys/signatures/upload */
  uploadCrossSigningSignatures: {
    method: "POST", path: "/_matrix/client/v3/keys/signatures/upload", auth: "user", body: map(map(anyObject)),
    handler: ({ user, body }, s) => s.keys.uploadSignatures(user, body as Record<string, Record<string, Record<string, unknown>>>),
  },

  /** PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}: idempotent on txnId. */
  sendToDevice: {
    method: "PUT", path: "/_matrix/client/v3/sendToDevice/:eventType/:txnId", auth: "user",
    body: obj({ messages: map(map(anyObject)) }, ["messages"]),
    async handler({ user, params, body }, s) {
      if (Buffer.byteLength(params.txnId!) > 255) throw new MatrixError(400, "M_INVALID_PARAM", "txnId exceeds 255 bytes");
      await s.keys.sendToDevice(user, params.eventType!, params.txnId!, (body as { messages: Record<string, Record<string, Record<string, unknown>>> }).messages);
      return {};
    },
  },
});
