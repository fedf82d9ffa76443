// The WhatsApp bridge's config (bridges/whatsapp/config.sample.yaml explains every key).
import { bridgeConfigLoader, str, type BaseBridgeConfig } from "../kit/config.js";

export interface WhatsAppConfig extends BaseBridgeConfig {
  whatsapp: { graph_base_url: string; graph_version: string; phone_number_id: string; access_token: string; app_secret: string; verify_token: string; webhook_path: string };
}

export const { buildConfig, loadConfig } = bridgeConfigLoader<WhatsAppConfig>("WhatsApp bridge",
  { id: "whatsapp", port: 29318, bot: "whatsappbot", prefix: "whatsapp_", schema: "whatsapp_bridge" },
  {
    key: "whatsapp",
    schema: {
      type: "object", required: ["phone_number_id", "access_token", "app_secret", "verify_token"],
      properties: {
        graph_base_url: { type: "string", pattern: "^https?://", default: "https://graph.facebook.com" },
        graph_version: { ...str, default: "v23.0" },
        phone_number_id: str, access_token: str, app_secret: str, verify_token: str,
        webhook_path: { type: "string", pattern: "^/", default: "/webhooks/whatsapp" },
      },
    },
  });
