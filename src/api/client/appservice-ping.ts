// appservice_ping.yaml: POST /_matrix/client/v1/appservice/{appserviceId}/ping
import { forbidden } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { obj, str } from "../../http/validate.js";

export default defineRoutes({
  /** Calls the service's /_matrix/app/v1/ping and says how long it took; also retries its queue now. */
  appservicePing: {
    method: "POST", path: "/_matrix/client/v1/appservice/:appserviceId/ping", auth: "user",
    body: obj({ transaction_id: str(255) }),
    async handler({ user, params, body }, s) {
      const as = user.appserviceId ? s.appservices.get(user.appserviceId) : undefined;
      if (!as || as.id !== params.appserviceId) throw forbidden("The access token does not belong to this application service");
      const duration = await s.appservices.ping(as, (body as { transaction_id?: string }).transaction_id);
      s.delivery.kick(as.id);
      return { duration_ms: duration };
    },
  },
});
