// redaction.yaml: PUT /rooms/{roomId}/redact/{eventId}/{txnId}
import { MatrixError } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { obj, str } from "../../http/validate.js";
import { parseEventId, parseRoomId } from "../../matrix/ids.js";
import { txnScope } from "./room-events.js";

export default defineRoutes({
  /** PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}: idempotent on txnId, like sends. */
  redactEvent: {
    method: "PUT", path: "/_matrix/client/v3/rooms/:roomId/redact/:eventId/:txnId", auth: "user", guest: true, shadow: "event",
    body: obj({ reason: str(4096) }),
    async handler({ user, params, body }, s) {
      if (Buffer.byteLength(params.txnId!) > 255) throw new MatrixError(400, "M_INVALID_PARAM", "txnId exceeds 255 bytes");
      const w = await s.rooms.redact(user.userId, txnScope(user), parseRoomId(params.roomId!), parseEventId(params.eventId!), params.txnId!, body as Record<string, unknown>);
      return { event_id: w.eventId };
    },
  },
});
