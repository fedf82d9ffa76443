// receipts.yaml and read_markers.yaml
import { defineRoutes } from "../../http/route.js";
import { obj, str } from "../../http/validate.js";
import { parseEventId, parseRoomId } from "../../matrix/ids.js";

export default defineRoutes({
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
