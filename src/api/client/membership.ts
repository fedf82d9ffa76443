// joining.yaml, leaving.yaml, inviting.yaml, kicking.yaml, banning.yaml, list_joined_rooms.yaml
import { defineRoutes, type RouteDef } from "../../http/route.js";
import type { Services } from "../../services/index.js";
import { obj, str } from "../../http/validate.js";
import { parseRoomId, parseUserId, type RoomId, type UserId } from "../../matrix/ids.js";

const targetBody = obj({ user_id: str(255), reason: str(65536) }, ["user_id"]);
type TargetFn = (sender: UserId, roomId: RoomId, target: UserId, reason?: string) => Promise<void>;

/** invite, kick, ban and unban share a shape: POST /rooms/{roomId}/<action> {user_id, reason}. */
function targetAction(action: string, pick: (s: Services) => TargetFn): RouteDef {
  return {
    method: "POST", path: `/_matrix/client/v3/rooms/:roomId/${action}`, auth: "user", body: targetBody,
    // A shadow-banned user's invitations seem to go out and reach no one.
    ...(action === "invite" ? { shadow: "empty" as const } : {}),
    async handler({ user, params, body }, s) {
      const b = body as Target;
      await pick(s)(user.userId, parseRoomId(params.roomId!), parseUserId(b.user_id), b.reason);
      return {};
    },
  };
}

const reasonBody = obj({ reason: str(65536) });

/**
 * Other keys a join body carries go into the member event's content, as the reference does
 * (clients and bridges put their own keys there); the ones the server decides are not taken.
 */
function extraContent(body: unknown): Record<string, unknown> {
  const { reason: _r, third_party_signed: _t, membership: _m, displayname: _d, avatar_url: _a, join_authorised_via_users_server: _j, ...rest } = (body ?? {}) as Record<string, unknown>;
  return rest;
}
type Reason = { reason?: string };
type Target = { user_id: string; reason?: string };

export default defineRoutes({
  /** POST /_matrix/client/v3/rooms/{roomId}/join */
  joinRoomById: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/join", auth: "user", guest: true, body: reasonBody,
    async handler({ user, params, body }, s) {
      const roomId = await s.membership.join(user.userId, parseRoomId(params.roomId!), (body as Reason).reason, undefined, extraContent(body), user.isGuest);
      return { room_id: roomId };
    },
  },

  /** POST /_matrix/client/v3/join/{roomIdOrAlias} */
  joinRoom: {
    method: "POST", path: "/_matrix/client/v3/join/:roomIdOrAlias", auth: "user", guest: true, body: reasonBody,
    async handler({ user, params, body }, s) {
      const roomId = await s.membership.resolveRoom(params.roomIdOrAlias!);
      await s.membership.join(user.userId, roomId, (body as Reason).reason, undefined, extraContent(body), user.isGuest);
      return { room_id: roomId };
    },
  },

  /** POST /_matrix/client/v3/knock/{roomIdOrAlias} (knocking.yaml) */
  knockRoom: {
    method: "POST", path: "/_matrix/client/v3/knock/:roomIdOrAlias", auth: "user", body: reasonBody,
    async handler({ user, params, body }, s) {
      const roomId = await s.membership.resolveRoom(params.roomIdOrAlias!);
      return { room_id: await s.membership.knock(user.userId, roomId, (body as Reason).reason) };
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
  inviteUser: targetAction("invite", (s) => s.membership.invite.bind(s.membership)),
  /** POST /_matrix/client/v3/rooms/{roomId}/kick */
  kick: targetAction("kick", (s) => s.membership.kick.bind(s.membership)),
  /** POST /_matrix/client/v3/rooms/{roomId}/ban */
  ban: targetAction("ban", (s) => s.membership.ban.bind(s.membership)),
  /** POST /_matrix/client/v3/rooms/{roomId}/unban */
  unban: targetAction("unban", (s) => s.membership.unban.bind(s.membership)),

  /** GET /_matrix/client/v3/joined_rooms */
  getJoinedRooms: {
    method: "GET", path: "/_matrix/client/v3/joined_rooms", auth: "user", guest: true,
    handler: async ({ user }, s) => ({ joined_rooms: await s.rooms.joinedRooms(user.userId) }),
  },
});
