// joining.yaml, leaving.yaml, inviting.yaml, kicking.yaml, banning.yaml, list_joined_rooms.yaml
import { defineRoutes } from "../../http/route.js";
import { obj, str } from "../../http/validate.js";
import { parseRoomId, parseUserId } from "../../matrix/ids.js";

const reasonBody = obj({ reason: str(65536) });
const targetBody = obj({ user_id: str(255), reason: str(65536) }, ["user_id"]);
type Reason = { reason?: string };
type Target = { user_id: string; reason?: string };

export default defineRoutes({
  /** POST /_matrix/client/v3/rooms/{roomId}/join */
  joinRoomById: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/join", auth: "user", body: reasonBody,
    async handler({ user, params, body }, s) {
      const roomId = await s.membership.join(user.userId, parseRoomId(params.roomId!), (body as Reason).reason);
      return { room_id: roomId };
    },
  },

  /** POST /_matrix/client/v3/join/{roomIdOrAlias} */
  joinRoom: {
    method: "POST", path: "/_matrix/client/v3/join/:roomIdOrAlias", auth: "user", body: reasonBody,
    async handler({ user, params, body }, s) {
      const roomId = await s.membership.resolveRoom(params.roomIdOrAlias!);
      await s.membership.join(user.userId, roomId, (body as Reason).reason);
      return { room_id: roomId };
    },
  },

  /** POST /_matrix/client/v3/rooms/{roomId}/leave */
  leaveRoom: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/leave", auth: "user", guest: true, body: reasonBody,
    async handler({ user, params, body }, s) {
      await s.membership.leave(user.userId, parseRoomId(params.roomId!), (body as Reason).reason);
      return {};
    },
  },

  /** POST /_matrix/client/v3/rooms/{roomId}/forget */
  forgetRoom: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/forget", auth: "user",
    async handler({ user, params }, s) {
      await s.membership.forget(user.userId, parseRoomId(params.roomId!));
      return {};
    },
  },

  /** POST /_matrix/client/v3/rooms/{roomId}/invite */
  inviteUser: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/invite", auth: "user", body: targetBody,
    async handler({ user, params, body }, s) {
      const b = body as Target;
      await s.membership.invite(user.userId, parseRoomId(params.roomId!), parseUserId(b.user_id), b.reason);
      return {};
    },
  },

  /** POST /_matrix/client/v3/rooms/{roomId}/kick */
  kick: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/kick", auth: "user", body: targetBody,
    async handler({ user, params, body }, s) {
      const b = body as Target;
      await s.membership.kick(user.userId, parseRoomId(params.roomId!), parseUserId(b.user_id), b.reason);
      return {};
    },
  },

  /** POST /_matrix/client/v3/rooms/{roomId}/ban */
  ban: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/ban", auth: "user", body: targetBody,
    async handler({ user, params, body }, s) {
      const b = body as Target;
      await s.membership.ban(user.userId, parseRoomId(params.roomId!), parseUserId(b.user_id), b.reason);
      return {};
    },
  },

  /** POST /_matrix/client/v3/rooms/{roomId}/unban */
  unban: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/unban", auth: "user", body: targetBody,
    async handler({ user, params, body }, s) {
      const b = body as Target;
      await s.membership.unban(user.userId, parseRoomId(params.roomId!), parseUserId(b.user_id), b.reason);
      return {};
    },
  },

  /** GET /_matrix/client/v3/joined_rooms */
  getJoinedRooms: {
    method: "GET", path: "/_matrix/client/v3/joined_rooms", auth: "user", guest: true,
    handler: async ({ user }, s) => ({ joined_rooms: await s.rooms.joinedRooms(user.userId) }),
  },
});
