// profile.yaml: GET /profile/{userId}, GET|PUT|DELETE /profile/{userId}/{keyName}.
import { MatrixError } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { anyObject } from "../../http/validate.js";
import { parseUserId } from "../../matrix/ids.js";

export default defineRoutes({
  /** GET /_matrix/client/v3/profile/{userId} */
  getUserProfile: {
    method: "GET", path: "/_matrix/client/v3/profile/:userId", auth: "optional", guest: true,
    handler: ({ params }, s) => s.profiles.get(parseUserId(params.userId!)),
  },

  /** GET /_matrix/client/v3/profile/{userId}/{keyName} */
  getProfileField: {
    method: "GET", path: "/_matrix/client/v3/profile/:userId/:keyName", auth: "optional", guest: true,
    async handler({ params }, s) {
      const key = params.keyName!;
      return { [key]: await s.profiles.getField(parseUserId(params.userId!), key) };
    },
  },

  /** PUT /_matrix/client/v3/profile/{userId}/{keyName} */
  setProfileField: {
    method: "PUT", path: "/_matrix/client/v3/profile/:userId/:keyName", auth: "user", guest: true,
    body: anyObject,
    async handler({ user, params, body }, s) {
      const key = params.keyName!;
      guestMayChange(user.isGuest, key);
      const b = body as Record<string, unknown>;
      // The body holds exactly the property named in the path (spec).
      if (!(key in b)) throw new MatrixError(400, "M_MISSING_PARAM", `Missing key '${key}'`);
      await s.profiles.setField(user.userId, parseUserId(params.userId!), key, b[key]);
      return {};
    },
  },

  /** DELETE /_matrix/client/v3/profile/{userId}/{keyName} */
  deleteProfileField: {
    method: "DELETE", path: "/_matrix/client/v3/profile/:userId/:keyName", auth: "user", guest: true,
    async handler({ user, params }, s) {
      guestMayChange(user.isGuest, params.keyName!);
      await s.profiles.deleteField(user.userId, parseUserId(params.userId!), params.keyName!);
      return {};
    },
  },
});

/** Guests may change their display name and nothing else of their profile (spec: guest access). */
function guestMayChange(isGuest: boolean, key: string): void {
  if (isGuest && key !== "displayname") throw new MatrixError(403, "M_GUEST_ACCESS_FORBIDDEN", "Guests may only set a display name");
}
