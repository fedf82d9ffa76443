// The Google Chat bridge's config (bridges/googlechat/config.sample.yaml explains every key).
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse } from "yaml";

export interface GoogleChatConfig {
  homeserver: { url: string; domain: string };
  appservice: { id: string; listen: { host: string; port: number }; url: string; as_token: string; hs_token: string; bot_localpart: string; user_prefix: string };
  database: { url?: string; data_dir?: string; schema: string };
  googlechat: {
    chat_base_url: string; service_account_file: string; project_number: string; certs_url: string; events_path: string;
    auth_audience: "project_number" | "endpoint_url"; endpoint_url: string | null; oidc_jwks_url: string;
  };
  team: string[];
  admin_room: string | null;
  relay: { format: string };
}

const str = { type: "string", minLength: 1 };
const schema = {
  type: "object",
  required: ["homeserver", "appservice", "database", "googlechat"],
  properties: {
    homeserver: { type: "object", required: ["url", "domain"], properties: { url: { type: "string", pattern: "^https?://" }, domain: str } },
    appservice: {
      type: "object", required: ["as_token", "hs_token", "url"],
      properties: {
        id: { ...str, default: "googlechat" },
        listen: { type: "object", default: {}, properties: { host: { ...str, default: "127.0.0.1" }, port: { type: "integer", minimum: 0, maximum: 65535, default: 29319 } } },
        url: { type: "string", pattern: "^https?://" }, as_token: str, hs_token: str,
        bot_localpart: { ...str, default: "googlechatbot" }, user_prefix: { ...str, default: "googlechat_" },
      },
    },
    database: { type: "object", properties: { url: { type: "string", pattern: "^postgres(ql)?://" }, data_dir: str, schema: { type: "string", pattern: "^[a-z_][a-z0-9_]*$", default: "googlechat_bridge" } } },
    googlechat: {
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
    team: { type: "array", items: { type: "string", pattern: "^@" }, default: [] },
    admin_room: { type: ["string", "null"], pattern: "^!", default: null },
    relay: { type: "object", default: {}, properties: { format: { ...str, default: "{displayname}: {message}" } } },
  },
};
const validate = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(schema);

export function buildConfig(raw: unknown): GoogleChatConfig {
  const doc = structuredClone(raw ?? {});
  if (!validate(doc)) {
    throw new Error(`invalid Google Chat bridge config:\n${(validate.errors ?? []).map((e) => `  - ${e.instancePath.slice(1).replaceAll("/", ".") || "(top level)"}: ${e.message}`).join("\n")}`);
  }
  const c = doc as unknown as GoogleChatConfig;
  if (!c.database.url && !c.database.data_dir) throw new Error("invalid Google Chat bridge config:\n  - database: give url (or data_dir for an embedded Postgres)");
  if (c.googlechat.auth_audience === "endpoint_url" && !c.googlechat.endpoint_url) throw new Error("invalid Google Chat bridge config:\n  - googlechat.endpoint_url: needed with auth_audience endpoint_url");
  return c;
}

export function loadConfig(file: string): GoogleChatConfig {
  return buildConfig(parse(readFileSync(file, "utf8")));
}
