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
  if (!config.database.url) {
    process.stderr.write("database.url is required (an embedded database for the bridge is not available yet)\n");
    process.exit(2);
  }
  const bridge = new WhatsAppBridge(config, config.database.url);
  const { port } = await bridge.start();
  process.stdout.write(`${JSON.stringify({ msg: "whatsapp bridge listening", port })}\n`);
  const stop = () => { void bridge.stop().then(() => process.exit(0)); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

void main();
