// The Google Chat bridge's config (bridges/googlechat/config.sample.yaml explains every key).
import { bridgeConfigLoader, str, type BaseBridgeConfig } from "../kit/config.js";

export interface GoogleChatConfig extends BaseBridgeConfig {
  googlechat: {
    chat_base_url: string; service_account_file: string; project_number: string; certs_url: string; events_path: string;
    auth_audience: "project_number" | "endpoint_url"; endpoint_url: string | null; oidc_jwks_url: string;
  };
}

export const { buildConfig, loadConfig } = bridgeConfigLoader<GoogleChatConfig>("Google Chat bridge",
  { id: "googlechat", port: 29319, bot: "googlechatbot", prefix: "googlechat_", schema: "googlechat_bridge" },
  {
    key: "googlechat",
    schema: {
      type: "object", required: ["service_account_file", "project_number"],
      properties: {
        chat_base_url: { type: "string", pattern: "^https?://", default: "https://chat.googleapis.com" },
        service_account_file: str,
        project_number: str,
        certs_url: { type: "string", pattern: "^https?://", default: "https://www.googleapis.com/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com" },
        events_path: { type: "string", pattern: "^/", default: "/googlechat/events" },
        auth_audience: { enum: ["project_number", "endpoint_url"], default: "project_number" },
        endpoint_url: { type: ["string", "null"], pattern: "^https?://", default: null },
        oidc_jwks_url: { type: "string", pattern: "^https?://", default: "https://www.googleapis.com/oauth2/v3/certs" },
      },
    },
  },
  (c) => (c.googlechat.auth_audience === "endpoint_url" && !c.googlechat.endpoint_url ? ["googlechat.endpoint_url: needed with auth_audience endpoint_url"] : []));
