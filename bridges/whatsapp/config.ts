// The WhatsApp bridge's config (bridges/whatsapp/config.sample.yaml explains every key).
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse } from "yaml";

export interface WhatsAppConfig {
  homeserver: { url: string; domain: string };
  appservice: { id: string; listen: { host: string; port: number }; url: string; as_token: string; hs_token: string; bot_localpart: string; user_prefix: string };
  database: { url?: string; data_dir?: string; schema: string };
  whatsapp: { graph_base_url: string; graph_version: string; phone_number_id: string; access_token: string; app_secret: string; verify_token: string; webhook_path: string };
  team: string[];
  /** Where the bridge reports problems that stop it (a room ID); unset: the room concerned. */
  admin_room: string | null;
  relay: { format: string };
}

const str = { type: "string", minLength: 1 };
const schema = {
  type: "object",
  required: ["homeserver", "appservice", "database", "whatsapp"],
  properties: {
    homeserver: { type: "object", required: ["url", "domain"], properties: { url: { type: "string", pattern: "^https?://" }, domain: str } },
    appservice: {
      type: "object", required: ["as_token", "hs_token", "url"],
      properties: {
        id: { ...str, default: "whatsapp" },
        listen: { type: "object", default: {}, properties: { host: { ...str, default: "127.0.0.1" }, port: { type: "integer", minimum: 0, maximum: 65535, default: 29318 } } },
        url: { type: "string", pattern: "^https?://" }, as_token: str, hs_token: str,
        bot_localpart: { ...str, default: "whatsappbot" }, user_prefix: { ...str, default: "whatsapp_" },
      },
    },
    database: { type: "object", properties: { url: { type: "string", pattern: "^postgres(ql)?://" }, data_dir: str, schema: { type: "string", pattern: "^[a-z_][a-z0-9_]*$", default: "whatsapp_bridge" } } },
    whatsapp: {
      type: "object", required: ["phone_number_id", "access_token", "app_secret", "verify_token"],
      properties: {
        graph_base_url: { type: "string", pattern: "^https?://", default: "https://graph.facebook.com" },
        graph_version: { ...str, default: "v23.0" },
        phone_number_id: str, access_token: str, app_secret: str, verify_token: str,
        webhook_path: { type: "string", pattern: "^/", default: "/webhooks/whatsapp" },
      },
    },
    team: { type: "array", items: { type: "string", pattern: "^@" }, default: [] },
    admin_room: { type: ["string", "null"], pattern: "^!", default: null },
    relay: { type: "object", default: {}, properties: { format: { ...str, default: "{displayname}: {message}" } } },
  },
};
const validate = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(schema);

export function buildConfig(raw: unknown): WhatsAppConfig {
  const doc = structuredClone(raw ?? {});
  if (!validate(doc)) {
    throw new Error(`invalid WhatsApp bridge config:\n${(validate.errors ?? []).map((e) => `  - ${e.instancePath.slice(1).replaceAll("/", ".") || "(top level)"}: ${e.message}`).join("\n")}`);
  }
  const c = doc as unknown as WhatsAppConfig;
  if (!c.database.url && !c.database.data_dir) throw new Error("invalid WhatsApp bridge config:\n  - database: give url (or data_dir for an embedded Postgres)");
  return c;
}

export function loadConfig(file: string): WhatsAppConfig {
  return buildConfig(parse(readFileSync(file, "utf8")));
}
