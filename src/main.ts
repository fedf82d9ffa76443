// Entry point: read config, start the homeserver, stop gracefully on SIGTERM/SIGINT.
import { ConfigError, configPathFromArgs, loadConfig } from "./config/load.js";
import { createLogger } from "./log.js";
import { startHomeserver } from "./server.js";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(configPathFromArgs(process.argv.slice(2)));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config);
  let hs;
  try {
    hs = await startHomeserver(config, { log });
  } catch (e) {
    log.fatal({ err: e }, "could not start");
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "signal received");
    hs.close().then(() => process.exit(0), (err) => {
      log.error({ err }, "error during shutdown");
      process.exit(1);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

void main();
