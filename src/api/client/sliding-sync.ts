// Simplified sliding sync (MSC4186): POST /sync at the MSC's unstable path, where
// matrix-js-sdk and matrix-rust-sdk (Element X) ask, and at the path the MSC names.
// services/sliding-sync.ts; docs/sliding-sync.md.
import { defineRoutes, type RouteDef } from "../../http/route.js";
import { parseSlidingRequest } from "../../services/sliding-request.js";

const handler: RouteDef["handler"] = async ({ user, body, query, res }, s) => {
  const req = parseSlidingRequest(body, query, user.userId);
  // Per response, as /sync: only a client that hangs up before the answer cancels the wait.
  const closed = new AbortController();
  res.once("close", () => { if (!res.writableFinished) closed.abort(); });
  return s.slidingSync.request(user, req, closed.signal, s.shutdown.signal);
};

export default defineRoutes({
  /** POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync */
  slidingSync: { method: "POST", path: "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync", auth: "user", handler },
  /** POST /_matrix/client/v4/sync (the MSC's own path). */
  slidingSyncV4: { method: "POST", path: "/_matrix/client/v4/sync", auth: "user", handler },
});
