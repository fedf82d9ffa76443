// loadConfig(): YAML → ajv-validated, defaulted, frozen Config. The only module that reads
// process.env (the config file path may come from GANGLION_CONFIG; worker processes get the
// database URL of the embedded Postgres their primary started in GANGLION_DATABASE_URL).
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { isValidServerName } from "../matrix/ids.js";
import { configSchema, type Config } from "./schema.js";

export const CONFIG_ENV = "GANGLION_CONFIG";
export const DATABASE_URL_ENV = "GANGLION_DATABASE_URL";

/** A config that cannot be used. `problems` lists every one found, not just the first. */
export class ConfigError extends Error {
  constructor(readonly problems: string[], readonly source: string) {
    super(`invalid config (${source}):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validate = ajv.compile(configSchema);

/** Validates and defaults a plain object (a parsed YAML file, or overrides in tests). */
export function buildConfig(raw: unknown, source = "config"): Config {
  const doc = raw === null || raw === undefined ? {} : structuredClone(raw);
  if (typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(["the file must be a YAML mapping"], source);
  const problems: string[] = [];
  if (!validate(doc)) {
    for (const e of validate.errors ?? []) {
      const where = e.instancePath ? e.instancePath.slice(1).replaceAll("/", ".") : "(top level)";
      const extra = e.keyword === "additionalProperties" ? `: ${String(e.params.additionalProperty)}` : "";
      problems.push(`${where}: ${e.message ?? "is invalid"}${extra}`);
    }
  }
  const cfg = doc as Config;
  if (typeof cfg.server_name === "string" && !isValidServerName(cfg.server_name)) {
    problems.push(`server_name: "${cfg.server_name}" is not a valid server name (host or host:port)`);
  }
  if (typeof cfg.workers === "number" && cfg.workers > 1 && !cfg.redis?.url) {
    problems.push("workers: more than one worker process needs redis.url (they share live updates through Redis)");
  }
  if (problems.length) throw new ConfigError(problems, source);
  if (cfg.public_baseurl === null) {
    const host = cfg.listen.host === "0.0.0.0" || cfg.listen.host === "::" ? "localhost" : cfg.listen.host;
    cfg.public_baseurl = `http://${host.includes(":") ? `[${host}]` : host}:${cfg.listen.port}/`;
  } else if (!cfg.public_baseurl.endsWith("/")) {
    cfg.public_baseurl += "/";
  }
  return deepFreeze(cfg);
}

/** Reads the config from `path`, else from $GANGLION_CONFIG, else uses the defaults. */
export function loadConfig(path?: string | null): Config {
  const file = path ?? process.env[CONFIG_ENV] ?? null;
  const dbUrl = process.env[DATABASE_URL_ENV];
  const withEnv = (raw: unknown): unknown => {
    if (!dbUrl) return raw;
    const doc = (raw && typeof raw === "object" ? { ...(raw as Record<string, unknown>) } : {}) as Record<string, unknown>;
    doc.database = { ...((doc.database as object | undefined) ?? {}), url: dbUrl };
    return doc;
  };
  if (!file) return buildConfig(withEnv({}), "defaults");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError([`cannot read the file: ${(e as Error).message}`], file);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError([`not valid YAML: ${(e as Error).message}`], file);
  }
  return buildConfig(withEnv(raw), file);
}

/** Parses `--config FILE` / `--config=FILE` / `-c FILE` from argv. */
export function configPathFromArgs(argv: string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--config" || a === "-c") return argv[i + 1] ?? null;
    if (a.startsWith("--config=")) return a.slice("--config=".length);
  }
  return null;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
