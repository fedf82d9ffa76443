// key_backup.yaml: /room_keys (services/key-backup.ts).
import { MatrixError } from "../../http/errors.js";
import { defineRoutes, type Ctx } from "../../http/route.js";
import { anyObject, obj, str } from "../../http/validate.js";
import type { Services } from "../../services/index.js";
import type { KeyData } from "../../services/key-backup.js";

const keyData = {
  type: "object", required: ["first_message_index", "forwarded_count", "is_verified", "session_data"],
  properties: { first_message_index: { type: "integer", minimum: 0 }, forwarded_count: { type: "integer", minimum: 0 }, is_verified: { type: "boolean" }, session_data: { type: "object" } },
};
const sessions = { type: "object", required: ["sessions"], properties: { sessions: { type: "object", maxProperties: 10000, additionalProperties: keyData } } };
const versionBody = obj({ algorithm: str(255), auth_data: anyObject, version: str(64) }, ["algorithm", "auth_data"]);

function version(query: Record<string, string | undefined>): string {
  if (query.version === undefined) throw new MatrixError(400, "M_MISSING_PARAM", "version is required");
  return query.version;
}

const base = "/_matrix/client/v3/room_keys";
type C = Ctx<unknown>;

export default defineRoutes({
  postRoomKeysVersion: {
    method: "POST", path: `${base}/version`, auth: "user", body: versionBody,
    handler: async ({ user, body }: C, s: Services) => {
      const b = body as { algorithm: string; auth_data: Record<string, unknown> };
      return { version: await s.keyBackup.create(user.userId, b.algorithm, b.auth_data) };
    },
  },
  getRoomKeysVersionCurrent: {
    method: "GET", path: `${base}/version`, auth: "user",
    handler: ({ user }: C, s: Services) => s.keyBackup.info(user.userId, null),
  },
  getRoomKeysVersion: {
    method: "GET", path: `${base}/version/:version`, auth: "user",
    handler: ({ user, params }: C, s: Services) => s.keyBackup.info(user.userId, params.version!),
  },
  putRoomKeysVersion: {
    method: "PUT", path: `${base}/version/:version`, auth: "user", body: versionBody,
    handler: async ({ user, params, body }: C, s: Services) => {
      const b = body as { algorithm: string; auth_data: Record<string, unknown>; version?: string };
      await s.keyBackup.update(user.userId, params.version!, b.algorithm, b.auth_data, b.version);
      return {};
    },
  },
  deleteRoomKeysVersion: {
    method: "DELETE", path: `${base}/version/:version`, auth: "user",
    handler: async ({ user, params }: C, s: Services) => { await s.keyBackup.delete(user.userId, params.version!); return {}; },
  },
  putRoomKeys: {
    method: "PUT", path: `${base}/keys`, auth: "user",
    body: { type: "object", required: ["rooms"], properties: { rooms: { type: "object", maxProperties: 10000, additionalProperties: sessions } } },
    handler: ({ user, body, query }: C, s: Services) => {
      const rooms = (body as { rooms: Record<string, { sessions: Record<string, KeyData> }> }).rooms;
      return s.keyBackup.put(user.userId, version(query), Object.fromEntries(Object.entries(rooms).map(([r, v]) => [r, v.sessions])));
    },
  },
  putRoomKeysByRoomId: {
    method: "PUT", path: `${base}/keys/:roomId`, auth: "user", body: sessions,
    handler: ({ user, body, params, query }: C, s: Services) =>
      s.keyBackup.put(user.userId, version(query), { [params.roomId!]: (body as { sessions: Record<string, KeyData> }).sessions }),
  },
  putRoomKeyBySessionId: {
    method: "PUT", path: `${base}/keys/:roomId/:sessionId`, auth: "user", body: keyData,
    handler: ({ user, body, params, query }: C, s: Services) =>
      s.keyBackup.put(user.userId, version(query), { [params.roomId!]: { [params.sessionId!]: body as KeyData } }),
  },
  getRoomKeys: {
    method: "GET", path: `${base}/keys`, auth: "user",
    handler: ({ user, query }: C, s: Services) => s.keyBackup.get(user.userId, version(query)),
  },
  getRoomKeysByRoomId: {
    method: "GET", path: `${base}/keys/:roomId`, auth: "user",
    handler: ({ user, query, params }: C, s: Services) => s.keyBackup.get(user.userId, version(query), params.roomId!),
  },
  getRoomKeyBySessionId: {
    method: "GET", path: `${base}/keys/:roomId/:sessionId`, auth: "user",
    handler: ({ user, query, params }: C, s: Services) => s.keyBackup.get(user.userId, version(query), params.roomId!, params.sessionId!),
  },
  deleteRoomKeys: {
    method: "DELETE", path: `${base}/keys`, auth: "user",
    handler: ({ user, query }: C, s: Services) => s.keyBackup.remove(user.userId, version(query)),
  },
  deleteRoomKeysByRoomId: {
    method: "DELETE", path: `${base}/keys/:roomId`, auth: "user",
    handler: ({ user, query, params }: C, s: Services) => s.keyBackup.remove(user.userId, version(query), params.roomId!),
  },
  deleteRoomKeyBySessionId: {
    method: "DELETE", path: `${base}/keys/:roomId/:sessionId`, auth: "user",
    handler: ({ user, query, params }: C, s: Services) => s.keyBackup.remove(user.userId, version(query), params.roomId!, params.sessionId!),
  },
});
