// Starts the homeserver in-process on port 0 against a fresh database, for one test file.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { buildConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { startHomeserver, type Homeserver } from "../../src/server.js";
import { createTestDatabase } from "./postgres.js";
import { Client } from "./client.js";

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface TestServer {
  hs: Homeserver;
  config: Config;
  dbUrl: string;
  client(token?: string): Client;
}

/** The config a test server starts with; `overrides` are merged section by section. */
export function testConfig(dbUrl: string, overrides: DeepPartial<Config> & Record<string, unknown> = {}): Config {
  const base: Record<string, unknown> = {
    server_name: "localhost",
    listen: { host: "127.0.0.1", port: 0 },
    database: { url: dbUrl, pool_size: 10 },
    rate_limiting: { enabled: false },
    logging: { level: "silent" },
    registration: { enabled: true, shared_secret: "test-shared-secret-0123456789" },
    media: { store_path: mkdtempSync(path.join(tmpdir(), "ganglion-media-")) },
  };
  for (const [k, v] of Object.entries(overrides)) {
    const cur = base[k];
    base[k] = cur && typeof cur === "object" && v && typeof v === "object" && !Array.isArray(v) ? { ...cur, ...v } : v;
  }
  return buildConfig(base, "test");
}

/** `logLines`: the server's log lines are collected there (at debug level) instead of dropped. */
export async function startTestServer(overrides: Parameters<typeof testConfig>[1] = {}, logLines?: string[]): Promise<TestServer> {
  const dbUrl = await createTestDatabase();
  const config = testConfig(dbUrl, overrides);
  const log = logLines ? pino({ level: "debug" }, { write: (l: string) => { logLines.push(l); } }) : pino({ level: process.env.TEST_LOG ?? "silent" });
  const hs = await startHomeserver(config, { log, shutdownGraceMs: 2000 });
  return { hs, config, dbUrl, client: (token?: string) => new Client(hs.url, token) };
}

/** Registers mocha hooks that start a server before the file's tests and stop it after. */
export function useServer(overrides: Parameters<typeof testConfig>[1] = {}): { readonly s: TestServer } {
  const holder: { s?: TestServer } = {};
  before(async function () {
    this.timeout(60_000);
    holder.s = await startTestServer(overrides);
  });
  after(async function () {
    this.timeout(30_000);
    await holder.s?.hs.close();
  });
  return {
    get s(): TestServer {
      if (!holder.s) throw new Error("server not started");
      return holder.s;
    },
  };
}
