// versions.yaml, wellknown.yaml, capabilities.yaml: what a client asks before anything else.
import { defineRoutes } from "../../http/route.js";
import { SUPPORTED_ROOM_VERSIONS } from "../../matrix/room-versions.js";

/**
 * The spec versions we advertise. A client uses the highest it knows to choose endpoints
 * (for example authenticated media from v1.11), so this list moves with docs/spec-coverage.md.
 */
export const SPEC_VERSIONS = ["r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
  "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12",
  "v1.13", "v1.14", "v1.15", "v1.16", "v1.17"];

/** Our extensions and the MSCs we implement, flagged as the spec asks (`unstable_features`). */
export const UNSTABLE_FEATURES: Record<string, boolean> = {
  // Cross-signing (keys/device_signing/upload, signatures/upload): without this flag Element
  // skips setting it up at registration.
  "org.matrix.e2e_cross_signing": true,
  // Authenticated media (/_matrix/client/v1/media, docs/media.md).
  "org.matrix.msc3916.stable": true,
  // Private read receipts (m.read.private) and threads (/threads, threaded receipts).
  "org.matrix.msc2285.stable": true,
  "org.matrix.msc3440.stable": true,
  "org.matrix.msc3771": true,
  "org.matrix.msc3773": true,
  // Application services create and delete their users' devices (PUT/DELETE /devices/{id}).
  "io.element.msc4190": true,
  // /sync?org.matrix.msc4222.use_state_after=true (matrix-js-sdk asks for it by that name).
  "org.matrix.msc4222": true,
  // Room summaries (/room_summary and the im.nheko.summary paths).
  "org.matrix.msc3266": true,
  // Simplified sliding sync (POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync).
  "org.matrix.simplified_msc3575": true,
};
/** Our WebSocket extension (docs/websocket.md); on unless switched off in the config. */
export const WS_FEATURE = "org.ganglion.ws";

export default defineRoutes({
  /** GET /_matrix/client/versions */
  getVersions: {
    method: "GET", path: "/_matrix/client/versions", auth: "none",
    handler: (_ctx, { config }) => ({ versions: SPEC_VERSIONS, unstable_features: { ...UNSTABLE_FEATURES, [WS_FEATURE]: config.websocket.enabled } }),
  },

  /** GET /.well-known/matrix/client */
  getWellknown: {
    method: "GET", path: "/.well-known/matrix/client", auth: "none",
    handler: (_ctx, { config }) => ({ "m.homeserver": { base_url: config.public_baseurl!.replace(/\/$/, "") } }),
  },

  /** GET /_matrix/client/v3/capabilities */
  getCapabilities: {
    method: "GET", path: "/_matrix/client/v3/capabilities", auth: "user", guest: true,
    handler: (_ctx, { config, email }) => ({
      capabilities: {
        "m.change_password": { enabled: true },
        "m.room_versions": { default: config.rooms.default_version, available: SUPPORTED_ROOM_VERSIONS },
        "m.set_displayname": { enabled: true },
        "m.set_avatar_url": { enabled: true },
        "m.profile_fields": { enabled: true },
        "m.3pid_changes": { enabled: email.enabled },
        "m.get_login_token": { enabled: false },
      },
    }),
  },
});
