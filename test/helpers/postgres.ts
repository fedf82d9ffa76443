// One embedded Postgres for the whole test run (started by the root hooks); each test file gets
// a fresh database in it, so files never see each other's rows.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { pino } from "pino";
import { startEmbeddedPostgres, type EmbeddedHandle } from "../../src/store/embedded.js";

let handle: EmbeddedHandle | null = null;
let dataDir: string | null = null;

export async function startTestPostgres(): Promise<void> {
  // Under the system temp dir (world-searchable), so the 'postgres' user can reach it when
  // the tests run as root.
  dataDir = path.join(tmpdir(), `ganglion-test-pg-${process.pid}-${randomBytes(3).toString("hex")}`);
  handle = await startEmbeddedPostgres(dataDir, null, pino({ level: "silent" }));
}

export async function stopTestPostgres(): Promise<void> {
  await handle?.stop();
  handle = null;
  if (dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(`${dataDir}.password`, { force: true });
  }
}

/** Creates an empty database and returns its URL. */
export async function createTestDatabase(): Promise<string> {
  if (!handle) throw new Error("test Postgres is not running (root hooks not loaded?)");
  const name = `t_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: handle.url });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  return handle.url.replace(/\/[^/]+$/, `/${name}`);
}

/** A direct connection to a test database, for checks the API cannot make (how a token is stored). */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
