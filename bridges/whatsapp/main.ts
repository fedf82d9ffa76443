// npm run bridge:whatsapp -- --config FILE            runs the bridge
// npm run bridge:whatsapp -- --config FILE --generate-registration OUT
//                                                     writes the homeserver's registration file
import { writeFileSync } from "node:fs";
import { registrationYaml } from "../kit/registration.js";
import { WhatsAppBridge } from "./bridge.js";
import { loadConfig } from "./config.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const file = arg("--config");
  if (!file) {
    process.stderr.write("usage: bridge:whatsapp --config FILE [--generate-registration OUT]\n");
    process.exit(2);
  }
  let config;
  try {
    config = loadConfig(file);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  const out = arg("--generate-registration");
  if (out) {
    const a = config.appservice;
    writeFileSync(out, registrationYaml({ id: a.id, url: a.url, asToken: a.as_token, hsToken: a.hs_token, botLocalpart: a.bot_localpart, userPrefix: a.user_prefix, domain: config.homeserver.domain, protocols: ["whatsapp"] }));
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
  const bridge = new WhatsAppBridge(config, dbUrl);
  const { port } = await bridge.start();
  process.stdout.write(`${JSON.stringify({ msg: "whatsapp bridge listening", port })}\n`);
  const stop = () => { void bridge.stop().then(() => embedded?.stop()).then(() => process.exit(0)); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

void main();
