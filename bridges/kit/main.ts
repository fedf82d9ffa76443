// The command line both bridges share: --config FILE [--generate-registration OUT].
import { writeFileSync } from "node:fs";
import { registrationYaml } from "./registration.js";

interface BaseConfig {
  homeserver: { domain: string };
  appservice: { id: string; url: string; as_token: string; hs_token: string; bot_localpart: string; user_prefix: string };
  database: { url?: string; data_dir?: string };
}

interface Runnable { start(): Promise<{ port: number }>; stop(): Promise<void> }

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export async function runBridgeMain<C extends BaseConfig>(name: string, load: (file: string) => C, make: (config: C, dbUrl: string) => Runnable, protocols: string[]): Promise<void> {
  const file = arg("--config");
  if (!file) {
    process.stderr.write(`usage: bridge:${name} --config FILE [--generate-registration OUT]\n`);
    process.exit(2);
  }
  let config: C;
  try {
    config = load(file);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  const out = arg("--generate-registration");
  if (out) {
    const a = config.appservice;
    writeFileSync(out, registrationYaml({ id: a.id, url: a.url, asToken: a.as_token, hsToken: a.hs_token, botLocalpart: a.bot_localpart, userPrefix: a.user_prefix, domain: config.homeserver.domain, protocols }));
    process.stdout.write(`registration written to ${out}\n`);
    return;
  }
  // database.url, or an embedded Postgres in database.data_dir (the same generic starter the
  // homeserver uses; the bridge shares no state with the homeserver through it).
  let dbUrl = config.database.url;
  let embedded: { stop(): Promise<void> } | null = null;
  if (!dbUrl) {
    const { startEmbeddedPostgres } = await import("../../src/store/embedded.js");
    const { pino } = await import("pino");
    const h = await startEmbeddedPostgres(config.database.data_dir!, null, pino({ level: "warn" }));
    dbUrl = h.url;
    embedded = h;
  }
  const bridge = make(config, dbUrl);
  const { port } = await bridge.start();
  process.stdout.write(`${JSON.stringify({ msg: `${name} bridge listening`, port })}\n`);
  const stop = () => { void bridge.stop().then(() => embedded?.stop()).then(() => process.exit(0)); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
