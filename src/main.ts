// Entry point: read config, start the homeserver, stop gracefully on SIGTERM/SIGINT.
// With `workers` > 1 this process is the primary of a node cluster: it starts the embedded
// Postgres if there is one, applies migrations, and runs that many server processes sharing
// the listening port (they share live updates through Redis); a worker that dies is replaced.
import cluster from "node:cluster";
import { ConfigError, DATABASE_URL_ENV, configPathFromArgs, loadConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { loadRegistrations } from "./config/appservices.js";
import { createLogger } from "./log.js";
import { startHomeserver } from "./server.js";
import { createDb } from "./store/db.js";
import { startEmbeddedPostgres, type EmbeddedHandle } from "./store/embedded.js";
import { migrate } from "./store/migrate.js";

function readConfig(): Config {
  try {
    return loadConfig(configPathFromArgs(process.argv.slice(2)));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

function onSignals(stop: (signal: string) => void): void {
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

async function runServer(config: Config): Promise<void> {
  const log = createLogger(config);
  let hs;
  try {
    hs = await startHomeserver(config, { log });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    log.fatal({ err: e }, "could not start");
    process.exit(1);
  }
  let stopping = false;
  onSignals((signal) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "signal received");
    hs.close().then(() => process.exit(0), (err) => {
      log.error({ err }, "error during shutdown");
      process.exit(1);
    });
  });
}

async function runPrimary(config: Config): Promise<void> {
  const log = createLogger(config).child({ role: "primary" });
  // Checked here too, so a bad registration file stops the cluster instead of its workers.
  try {
    loadRegistrations(config.appservices.registration_files);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  let embedded: EmbeddedHandle | null = null;
  let dbUrl = config.database.url;
  try {
    if (!dbUrl) {
      embedded = await startEmbeddedPostgres(config.database.data_dir, config.database.port, log);
      dbUrl = embedded.url;
    }
    // Once, here, rather than racing in every worker (migrate takes a lock anyway).
    const db = createDb(dbUrl, 1, config.database.statement_timeout_ms);
    try { await migrate(db); } finally { await db.destroy(); }
  } catch (e) {
    log.fatal({ err: e }, "could not start");
    await embedded?.stop();
    process.exit(1);
  }
  let stopping = false;
  const env = { [DATABASE_URL_ENV]: dbUrl };
  const fork = () => cluster.fork(env);
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, "worker died; starting another");
    setTimeout(fork, 1000);
  });
  for (let i = 0; i < config.workers; i++) fork();
  log.info({ workers: config.workers }, "cluster started");
  onSignals((signal) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "signal received: stopping the workers");
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    let left = workers.length;
    const done = async () => {
      await embedded?.stop();
      log.info("cluster stopped");
      process.exit(0);
    };
    if (left === 0) return void done();
    for (const w of workers) {
      w.once("exit", () => { if (--left === 0) void done(); });
      w.process.kill("SIGTERM");
    }
  });
}

const config = readConfig();
if (config.workers > 1 && cluster.isPrimary) void runPrimary(config);
else void runServer(config);
