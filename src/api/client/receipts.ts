// receipts.yaml, read_markers.yaml and typing.yaml
import { defineRoutes } from "../../http/route.js";
import { forbidden } from "../../http/errors.js";
import { bool, int, obj, str } from "../../http/validate.js";
import { parseEventId, parseRoomId, parseUserId } from "../../matrix/ids.js";

export default defineRoutes({
  /** PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId} */
  setTyping: {
    action: "typing", method: "PUT", path: "/_matrix/client/v3/rooms/:roomId/typing/:userId", auth: "user", guest: true,
    body: obj({ typing: bool, timeout: int(0) }, ["typing"]),
    async handler({ user, params, body }, s) {
      if (parseUserId(params.userId!) !== user.userId) throw forbidden("You can only set your own typing state");
      const b = body as { typing: boolean; timeout?: number };
      await s.typing.set(user.userId, parseRoomId(params.roomId!), b.typing, b.timeout);
      return {};
    },
  },

  /** POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId} */
  postReceipt: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/receipt/:receiptType/:eventId", auth: "user", guest: true,
    body: obj({ thread_id: { type: "string", maxLength: 255 } }),
    async handler({ user, params, body }, s) {
      await s.receipts.receipt(user.userId, parseRoomId(params.roomId!), params.receiptType!, parseEventId(params.eventId!), (body as { thread_id?: string }).thread_id);
      return {};
    },
  },

  /** POST /_matrix/client/v3/rooms/{roomId}/read_markers */
  setReadMarker: {
    method: "POST", path: "/_matrix/client/v3/rooms/:roomId/read_markers", auth: "user", guest: true,
    body: obj({ "m.fully_read": str(255), "m.read": str(255), "m.read.private": str(255) }),
    async handler({ user, params, body }, s) {
      const roomId = parseRoomId(params.roomId!);
      const b = body as Record<string, string | undefined>;
      for (const type of ["m.fully_read", "m.read", "m.read.private"]) {
        const id = b[type];
        if (id !== undefined) await s.receipts.receipt(user.userId, roomId, type, parseEventId(id), undefined);
      }
      return {};
    },
  },
});
