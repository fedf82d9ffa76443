// Forward-only migrations from schema/NNNN_name.sql, each applied in one transaction.
// An advisory lock makes concurrent starts (several processes) apply each migration once.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Db } from "./db.js";

const MIGRATION_LOCK = 0x67616e67; // "gang"

export function schemaDir(): string {
  // src/store → ../../schema; dist/src/store → ../../../schema
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const rel of ["../../schema", "../../../schema"]) {
    const p = path.resolve(here, rel);
    try {
      readdirSync(p);
      return p;
    } catch { /* try the next */ }
  }
  throw new Error("schema/ directory not found");
}

export async function migrate(db: Db, dir = schemaDir()): Promise<string[]> {
  const files = readdirSync(dir).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  await db.transaction(async (trx) => {
    await trx.raw("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK]);
    await trx.raw(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_ts bigint NOT NULL)`);
  });
  const applied: string[] = [];
  for (const f of files) {
    const version = Number(f.slice(0, 4));
    // Each file in its own transaction, under a lock, so a concurrent start applies it once.
    await db.transaction(async (trx) => {
      await trx.raw("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK]);
      const done = await trx("schema_migrations").where({ version }).first();
      if (done) return;
      await trx.raw(readFileSync(path.join(dir, f), "utf8"));
      await trx("schema_migrations").insert({ version, name: f, applied_ts: Date.now() });
      applied.push(f);
    });
  }
  return applied;
}
