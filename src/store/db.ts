// Database connection: knex over pg. The only place (with the other store/ files) that knows knex.
import knexFactory, { type Knex } from "knex";
import pg from "pg";

export type Db = Knex;
/** Anything a store function can run queries on: the pool or an open transaction. */
export type Queryable = Knex | Knex.Transaction;

// BIGINT columns (timestamps, stream positions) fit in a JS number for any realistic value;
// parse them as numbers rather than strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export function createDb(url: string, poolSize: number, statementTimeoutMs: number): Db {
  return knexFactory({
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
