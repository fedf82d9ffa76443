// account-data.yaml and tags.yaml
import { MatrixError, forbidden } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { anyObject, obj } from "../../http/validate.js";
import { parseRoomId, parseUserId, type UserId } from "../../matrix/ids.js";

function self(userId: UserId, param: string): void {
  if (parseUserId(param) !== userId) throw forbidden("You can only access your own account data");
}

function checkType(type: string): void {
  if (Buffer.byteLength(type) > 255 || type.length === 0) throw new MatrixError(400, "M_INVALID_PARAM", "Type must be 1-255 bytes");
}

function checkSize(body: unknown): Record<string, unknown> {
  if (Buffer.byteLength(JSON.stringify(body)) > 65536) throw new MatrixError(413, "M_TOO_LARGE", "Account data exceeds 65536 bytes");
  return body as Record<string, unknown>;
}

export default defineRoutes({
  /** PUT /_matrix/client/v3/user/{userId}/account_data/{type} */
  setAccountData: {
    method: "PUT", path: "/_matrix/client/v3/user/:userId/account_data/:type", auth: "user", body: anyObject,
    async handler({ user, params, body }, s) {
      self(user.userId, params.userId!);
      checkType(params.type!);
      await s.accountData.set(user.userId, "", params.type!, checkSize(body));
      return {};
    },
  },

  /** GET /_matrix/client/v3/user/{userId}/account_data/{type} */
  getAccountData: {
    method: "GET", path: "/_matrix/client/v3/user/:userId/account_data/:type", auth: "user",
    handler: ({ user, params }, s) => { self(user.userId, params.userId!); return s.accountData.get(user.userId, "", params.type!); },
  },

  /** PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type} */
  setAccountDataPerRoom: {
    method: "PUT", path: "/_matrix/client/v3/user/:userId/rooms/:roomId/account_data/:type", auth: "user", body: anyObject,
    async handler({ user, params, body }, s) {
      self(user.userId, params.userId!);
      checkType(params.type!);
      await s.accountData.set(user.userId, parseRoomId(params.roomId!), params.type!, checkSize(body));
      return {};
    },
  },

  /** GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type} */
  getAccountDataPerRoom: {
    method: "GET", path: "/_matrix/client/v3/user/:userId/rooms/:roomId/account_data/:type", auth: "user",
    handler: ({ user, params }, s) => { self(user.userId, params.userId!); return s.accountData.get(user.userId, parseRoomId(params.roomId!), params.type!); },
  },

  /** GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags */
  getRoomTags: {
    method: "GET", path: "/_matrix/client/v3/user/:userId/rooms/:roomId/tags", auth: "user",
    handler: async ({ user, params }, s) => { self(user.userId, params.userId!); return { tags: await s.accountData.tags(user.userId, parseRoomId(params.roomId!)) }; },
  },

  /** PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag} */
  setRoomTag: {
    method: "PUT", path: "/_matrix/client/v3/user/:userId/rooms/:roomId/tags/:tag", auth: "user",
    body: obj({ order: { type: "number", minimum: 0, maximum: 1 } }),
    async handler({ user, params, body }, s) {
      self(user.userId, params.userId!);
      if (Buffer.byteLength(params.tag!) > 255) throw new MatrixError(400, "M_INVALID_PARAM", "Tag exceeds 255 bytes");
      await s.accountData.setTag(user.userId, parseRoomId(params.roomId!), params.tag!, checkSize(body));
      return {};
    },
  },

  /** DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag} */
  deleteRoomTag: {
    method: "DELETE", path: "/_matrix/client/v3/user/:userId/rooms/:roomId/tags/:tag", auth: "user",
    async handler({ user, params }, s) {
      self(user.userId, params.userId!);
      await s.accountData.deleteTag(user.userId, parseRoomId(params.roomId!), params.tag!);
      return {};
    },
  },
});
