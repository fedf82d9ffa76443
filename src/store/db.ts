// Database connection: knex over pg. The only place (with the other store/ files) that knows knex.
import knexFactory, { type Knex } from "knex";
import pg from "pg";
import type { Logger } from "pino";
import { Throttled } from "../log-throttle.js";

export type Db = Knex;
/** Anything a store function can run queries on: the pool or an open transaction. */
export type Queryable = Knex | Knex.Transaction;

// BIGINT columns (timestamps, stream positions) fit in a JS number for any realistic value;
// parse them as numbers rather than strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

/** Knex's own messages ("Connection Error", pool warnings) as log lines, one a minute per kind. */
function knexLog(log: Logger | undefined): Knex.Config["log"] {
  if (!log) return undefined;
  const t = new Throttled(60_000);
  const line = (level: "warn" | "error" | "debug") => (m: unknown) => {
    // Only the first line of the message: never a stack or a statement with its values.
    const text = (m instanceof Error ? m.message : String(m)).split("\n")[0]!.slice(0, 200);
    if (level === "debug") log.debug({ module: "knex" }, text);
    else t.note(log, `database client: ${text.replace(/\d+/g, "#")}`, { module: "knex", level });
  };
  return { warn: line("warn"), error: line("error"), deprecate: line("warn"), debug: line("debug") };
}

export function createDb(url: string, poolSize: number, statementTimeoutMs: number, log?: Logger): Db {
  return knexFactory({
    log: knexLog(log),
    client: "pg",
    connection: {
      connectionString: url,
      statement_timeout: statementTimeoutMs || undefined,
      application_name: "ganglion",
    },
    pool: { min: 0, max: poolSize, idleTimeoutMillis: 30000 },
    // How long a query may wait for a free connection. Load must queue rather than fail: a
    // database that is down fails at once (the connection attempt is refused), so this only
    // bounds waiting behind other queries of a healthy one.
    acquireConnectionTimeout: 60_000,
  });
}

export interface PoolStats { used: number; free: number; pending: number; max: number }

export function poolStats(db: Db): PoolStats {
  // tarn's pool is knex's; its counters are public methods.
  const pool = (db.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number; max: number } }).pool;
  if (!pool) return { used: 0, free: 0, pending: 0, max: 0 };
  return { used: pool.numUsed(), free: pool.numFree(), pending: pool.numPendingAcquires(), max: pool.max };
}

/** A LIKE/ILIKE pattern matching `s` anywhere, its own `\`, `%` and `_` taken literally. */
export const containsPattern = (s: string): string => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
