// Faults: the database going away, and shutdown with long-polls waiting.
import { expect } from "chai";
import pg from "pg";
import { startTestServer } from "./helpers/server.js";

describe("faults", () => {
  it("a database outage answers 503 with Retry-After, /health says so, and service resumes", async function () {
    this.timeout(60_000);
    const lines: string[] = [];
    const s = await startTestServer({}, lines);
    // Whatever the database library prints goes through the log, not straight to the console.
    const printed: unknown[] = [];
    const consoleLog = console.log;
    const consoleWarn = console.warn;
    console.log = (...a: unknown[]) => { printed.push(a); };
    console.warn = (...a: unknown[]) => { printed.push(a); };
    try {
      const u = await s.client().register();
      const first = await u.get("/_matrix/client/v3/sync");
      const waiting = u.get(`/_matrix/client/v3/sync?since=${encodeURIComponent(first.body.next_batch)}&timeout=25000`);
      const dbName = new URL(s.dbUrl).pathname.slice(1);
      // Cut every connection of the server's pool and keep new ones out for a moment.
      const admin = new pg.Client({ connectionString: s.dbUrl.replace(/\/[^/]+$/, "/postgres") });
      await admin.connect();
      try {
        await admin.query(`ALTER DATABASE ${dbName} WITH ALLOW_CONNECTIONS false`);
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [dbName]);
        const r = await u.get("/_matrix/client/v3/devices");
        expect(r.status).to.equal(503);
        expect(r.body.errcode).to.equal("M_UNKNOWN");
        expect(r.headers.get("retry-after")).to.equal("5");
        // The long-poll waiting meanwhile is answered now, not when its 25 s are up.
        const w = await waiting;
        expect(w.status).to.equal(503);
        expect(w.headers.get("retry-after")).to.equal("5");
        expect((await s.client().get("/health")).status).to.equal(503);
        // A flood of failing requests logs one line, not one each.
        const many = await Promise.all(Array.from({ length: 30 }, () => u.get("/_matrix/client/v3/devices")));
        expect(many.every((x) => x.status === 503)).to.equal(true);
        const entries = lines.map((l) => JSON.parse(l)); // every line is JSON
        expect(entries.filter((e) => e.msg === "database unavailable")).to.have.length(1);
        expect(JSON.stringify(entries)).to.not.match(/\n\s+at /); // no stack traces
      } finally {
        await admin.query(`ALTER DATABASE ${dbName} WITH ALLOW_CONNECTIONS true`);
        await admin.end();
      }
      expect((await u.get("/_matrix/client/v3/devices")).status).to.equal(200);
      expect((await s.client().get("/health")).status).to.equal(200);
      expect(printed).to.deep.equal([]);
    } finally {
      console.log = consoleLog;
      console.warn = consoleWarn;
      await s.hs.close();
    }
  });

  it("shutdown answers waiting long-polls at once instead of holding them", async function () {
    this.timeout(30_000);
    const s = await startTestServer();
    const u = await s.client().register();
    const first = await u.get("/_matrix/client/v3/sync");
    const started = Date.now();
    const poll = u.get(`/_matrix/client/v3/sync?since=${first.body.next_batch}&timeout=25000`);
    await new Promise((r) => setTimeout(r, 300));
    await s.hs.close();
    const r = await poll;
    expect(r.status).to.equal(200);
    expect(r.body.next_batch).to.equal(first.body.next_batch);
    expect(Date.now() - started).to.be.lessThan(5000);
  });
});
