// The config sections every bridge has (homeserver, appservice, database, team, admin_room,
// relay), validated with the bridge's own section; every problem is listed.
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse } from "yaml";

export interface BaseBridgeConfig {
  homeserver: { url: string; domain: string };
  appservice: { id: string; listen: { host: string; port: number }; url: string; as_token: string; hs_token: string; bot_localpart: string; user_prefix: string };
  database: { url?: string; data_dir?: string; schema: string };
  team: string[];
  admin_room: string | null;
  relay: { format: string };
}

export const str = { type: "string", minLength: 1 };

/** A bridge's config loader: its defaults and its own section (`key`: schema). */
export function bridgeConfigLoader<C extends BaseBridgeConfig>(label: string, d: { id: string; port: number; bot: string; prefix: string; schema: string }, own: { key: string; schema: Record<string, unknown> }, check: (c: C) => string[] = () => []) {
  const schema = {
    type: "object",
    required: ["homeserver", "appservice", "database", own.key],
    properties: {
      homeserver: { type: "object", required: ["url", "domain"], properties: { url: { type: "string", pattern: "^https?://" }, domain: str } },
      appservice: {
        type: "object", required: ["as_token", "hs_token", "url"],
        properties: {
          id: { ...str, default: d.id },
          listen: { type: "object", default: {}, properties: { host: { ...str, default: "127.0.0.1" }, port: { type: "integer", minimum: 0, maximum: 65535, default: d.port } } },
          url: { type: "string", pattern: "^https?://" }, as_token: str, hs_token: str,
          bot_localpart: { ...str, default: d.bot }, user_prefix: { ...str, default: d.prefix },
        },
      },
      database: { type: "object", properties: { url: { type: "string", pattern: "^postgres(ql)?://" }, data_dir: str, schema: { type: "string", pattern: "^[a-z_][a-z0-9_]*$", default: d.schema } } },
      [own.key]: own.schema,
      team: { type: "array", items: { type: "string", pattern: "^@" }, default: [] },
      admin_room: { type: ["string", "null"], pattern: "^!", default: null },
      relay: { type: "object", default: {}, properties: { format: { ...str, default: "{displayname}: {message}" } } },
    },
  };
  const validate = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(schema);
  const fail = (problems: string[]) => new Error(`invalid ${label} config:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  const build = (raw: unknown): C => {
    const doc = structuredClone(raw ?? {});
    if (!validate(doc)) throw fail((validate.errors ?? []).map((e) => `${e.instancePath.slice(1).replaceAll("/", ".") || "(top level)"}: ${e.message}`));
    const c = doc as unknown as C;
    const problems = [...(!c.database.url && !c.database.data_dir ? ["database: give url (or data_dir for an embedded Postgres)"] : []), ...check(c)];
    if (problems.length) throw fail(problems);
    return c;
  };
  return { buildConfig: build, loadConfig: (file: string): C => build(parse(readFileSync(file, "utf8"))) };
}
