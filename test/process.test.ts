// The server as a process and on its defaults: graceful shutdown, the embedded Postgres,
// a server_name with a port.
import { spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { pino } from "pino";
import { buildConfig } from "../src/config/load.js";
import { startHomeserver } from "../src/server.js";
import { Client } from "./helpers/client.js";
import { createTestDatabase } from "./helpers/postgres.js";
import { startTestServer } from "./helpers/server.js";
import { startTestRedis } from "./helpers/redis.js";
import { createRoom, join, send } from "./helpers/rooms.js";

const root = path.resolve(import.meta.dirname, "..");

/** Starts src/main.ts; resolves with the process and its URL once it logs that it listens. */
function startMain(configFile: string): Promise<{ child: ChildProcess; url: string; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/main.ts"), "--config", configFile], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${lines.join("\n")}`)), 30_000);
    child.stdout!.on("data", (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        try {
          const j = JSON.parse(line);
          if (j.msg === "homeserver listening") {
            clearTimeout(timer);
            resolve({ child, url: j.url, lines });
          }
        } catch { /* not JSON */ }
      }
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${lines.join("\n")}`)));
  });
}

const waitFor = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("the server process", () => {
  it("on SIGTERM stops accepting, finishes the request in flight, and exits 0", async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(path.join(tmpdir(), "ganglion-proc-"));
    const file = path.join(dir, "c.yaml");
    writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\ndatabase: { url: "${await createTestDatabase()}" }\nrate_limiting: { enabled: false }\n`);
    const { child, url, lines } = await startMain(file);
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const u = new URL(url);
    const body = JSON.stringify({ username: "inflight", password: "pw", auth: { type: "m.login.dummy" } });
    // Send half a request, signal the server, then finish the request.
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, method: "POST", path: "/_matrix/client/v3/register", headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } }, (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, text }));
      });
      req.on("error", reject);
      req.write(body.slice(0, 10));
      setTimeout(async () => {
        child.kill("SIGTERM");
        try {
          await waitFor(() => lines.some((l) => l.includes("signal received")));
          req.end(body.slice(10));
        } catch (e) { reject(e); }
      }, 100);
    });
    const r = await response;
    expect(r.status, r.text).to.equal(200);
    expect(JSON.parse(r.text).user_id).to.equal("@inflight:localhost");
    expect(await exited).to.equal(0);
    // New connections are refused once it has stopped.
    const after = await fetch(`${url}/_matrix/client/versions`).then(() => "answered", () => "refused");
    expect(after).to.equal("refused");
    expect(lines.some((l) => l.includes("\"shut down\""))).to.equal(true);
  });
});

describe("workers: several server processes on one port (node cluster, Redis)", () => {
  it("runs N workers that serve one conversation together, and stops them all on SIGTERM", async function () {
    this.timeout(90_000);
    const redis = await startTestRedis();
    const dir = mkdtempSync(path.join(tmpdir(), "ganglion-cluster-"));
    const file = path.join(dir, "c.yaml");
    writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nworkers: 2\nredis: { url: "${redis.url}" }\ndatabase: { url: "${await createTestDatabase()}" }\nrate_limiting: { enabled: false }\n`);
    const { child, url, lines } = await startMain(file);
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      await waitFor(() => lines.filter((l) => l.includes("homeserver listening")).length === 2, 30_000);
      const pids = new Set(lines.filter((l) => l.includes("homeserver listening")).map((l) => JSON.parse(l).pid));
      expect(pids.size).to.equal(2);
      const a = await new Client(url).register();
      const b = await new Client(url).register();
      const roomId = await createRoom(a, { preset: "public_chat" });
      await join(b, roomId);
      let since = (await b.get("/_matrix/client/v3/sync")).body.next_batch;
      const sent: string[] = [];
      for (let i = 0; i < 10; i++) sent.push(await send(a, roomId, `m${i}`));
      const got: string[] = [];
      for (let i = 0; i < 20 && got.length < sent.length; i++) {
        const r = await b.get(`/_matrix/client/v3/sync?since=${encodeURIComponent(since)}&timeout=2000`);
        expect(r.status).to.equal(200);
        got.push(...(r.body.rooms?.join?.[roomId]?.timeline?.events ?? []).filter((e: any) => e.type === "m.room.message").map((e: any) => e.event_id));
        since = r.body.next_batch;
      }
      expect(got).to.deep.equal(sent);
      child.kill("SIGTERM");
      expect(await exited).to.equal(0);
      expect(lines.filter((l) => l.includes("\"shut down\"")).length).to.equal(2);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses workers > 1 without Redis, naming the problem", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ganglion-cluster-"));
    const file = path.join(dir, "c.yaml");
    writeFileSync(file, "workers: 3\n");
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/main.ts"), "--config", file], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    rmSync(dir, { recursive: true, force: true });
    expect(code).to.equal(2);
    expect(err).to.contain("workers").and.to.contain("redis.url");
  });
});

describe("embedded Postgres default", () => {
  it("starts on its own Postgres in data_dir, and keeps accounts across a restart", async function () {
    this.timeout(120_000);
    const dir = mkdtempSync(path.join(tmpdir(), "ganglion-embedded-"));
    chmodSync(dir, 0o755);
    const config = buildConfig({ listen: { port: 0 }, database: { data_dir: path.join(dir, "pg") }, logging: { level: "silent" }, rate_limiting: { enabled: false } });
    try {
      const hs1 = await startHomeserver(config, { log: pino({ level: "silent" }) });
      const c1 = new Client(hs1.url);
      const u = await c1.register("persisted", "pw");
      await hs1.close();
      const hs2 = await startHomeserver(config, { log: pino({ level: "silent" }) });
      try {
        const login = await new Client(hs2.url).post("/_matrix/client/v3/login", { type: "m.login.password", user: "persisted", password: "pw" });
        expect(login.status).to.equal(200);
        expect(login.body.user_id).to.equal(u.userId);
        // The token from before the restart still works.
        expect((await new Client(hs2.url, u.token).get("/_matrix/client/v3/account/whoami")).status).to.equal(200);
      } finally {
        await hs2.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("server_name with a port", () => {
  it("makes and parses user IDs like @alice:localhost:8800", async () => {
    const s = await startTestServer({ server_name: "localhost:8800" });
    try {
      const u = await s.client().register("alice");
      expect(u.userId).to.equal("@alice:localhost:8800");
      expect((await u.get("/_matrix/client/v3/account/whoami")).body.user_id).to.equal("@alice:localhost:8800");
      const p = await s.client().get(`/_matrix/client/v3/profile/${encodeURIComponent("@alice:localhost:8800")}`);
      expect(p.status).to.equal(200);
      const login = await s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: "@alice:localhost:8800" }, password: u.password });
      expect(login.status).to.equal(200);
      expect(login.body.user_id).to.equal("@alice:localhost:8800");
    } finally {
      await s.hs.close();
    }
  });
});
