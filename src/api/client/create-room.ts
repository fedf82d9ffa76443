// create_room.yaml, room_upgrades.yaml
import { defineRoutes } from "../../http/route.js";
import { anyObject, bool, obj, str } from "../../http/validate.js";
import { parseRoomId } from "../../matrix/ids.js";
import type { CreateRoomRequest } from "../../services/rooms.js";

const stateEvent = obj({ type: str(255), state_key: str(255), content: anyObject }, ["type", "content"]);

export default defineRoutes({
  /** POST /_matrix/client/v3/createRoom */
  createRoom: {
    method: "POST", path: "/_matrix/client/v3/createRoom", auth: "user",
    body: obj({
      visibility: { enum: ["public", "private"] },
      room_alias_name: str(255),
      name: str(65536),
      topic: str(65536),
      invite: { type: "array", maxItems: 1000, items: str(255) },
      invite_3pid: { type: "array", maxItems: 0 },
      room_version: str(32),
      creation_content: anyObject,
      initial_state: { type: "array", maxItems: 1000, items: stateEvent },
      preset: { enum: ["private_chat", "public_chat", "trusted_private_chat"] },
      is_direct: bool,
      power_level_content_override: anyObject,
    }),
    handler: ({ user, body }, s) => {
      const req = body as CreateRoomRequest;
      if (typeof req.room_alias_name === "string") s.directory.assertMayTake(user, `#${req.room_alias_name}:${s.config.server_name}`);
      return s.rooms.create(user.userId, req);
    },
  },

  /** POST /_matrix/client/v3/rooms/{roomId}/upgrade */
  upgradeRoom: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/upgrade", auth: "user",
    body: obj({ new_version: str(32), additional_creators: { type: "array", maxItems: 100, items: str(255) } }, ["new_version"]),
    async handler({ user, params, body }, s) {
      const b = body as { new_version: string; additional_creators?: string[] };
      return { replacement_room: await s.upgrades.upgrade(user.userId, parseRoomId(params.roomId!), b.new_version, b.additional_creators) };
    },
  },
});
