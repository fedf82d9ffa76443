// Benchmark helpers: a server in its own process (so its CPU time is its own), clients, statistics.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createServer } from "node:net";
import http from "node:http";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const root = path.resolve(import.meta.dirname, "..");

export interface ServerProc { url: string; child: ChildProcess; dbUrl: string; stop(): Promise<void> }

/** Starts the built server with the given database URL; resolves when it answers /health. */
export async function startServerProcess(dbUrl: string, extraConfig: string[] = []): Promise<ServerProc> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "ganglion-bench-"));
  chmodSync(dir, 0o755);
  const cfg = path.join(dir, "bench.yaml");
  writeFileSync(cfg, [
    `listen: { host: 127.0.0.1, port: ${port} }`,
    `database: { url: "${dbUrl}", pool_size: 20 }`,
    "rate_limiting: { enabled: false }",
    "logging: { level: warn }",
    ...extraConfig,
  ].join("\n"));
  // The production build (npm run bench builds it first), as `npm start` runs it.
  // BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=prof") profiles the server processes.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, "dist/src/main.js"), "--config", cfg], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error("server did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url, child, dbUrl,
    // Idempotent: stopping a process that has already exited resolves at once.
    stop: () => new Promise<void>((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      child.once("exit", () => r());
      child.kill("SIGTERM");
    }),
  };
}

/** CPU time (user + system) of a process in milliseconds, from /proc. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function stats(xs: number[]): { p50: number; p95: number; p99: number; n: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), n: s.length };
}

// The load generator shares the machine with the server, so it should cost little CPU:
// node:http with a keep-alive agent is several times cheaper per request than fetch.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

export function request(base: string, method: string, p: string, body?: unknown, token?: string, signal?: AbortSignal): Promise<{ status: number; text: string }> {
  const u = new URL(base + p);
  const payload = body !== undefined ? JSON.stringify(body) : undefined;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent, signal,
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(payload !== undefined ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}

export async function api(base: string, method: string, p: string, body?: unknown, token?: string): Promise<any> {
  const { status, text } = await request(base, method, p, body, token);
  if (status !== 200) throw new Error(`${method} ${p}: ${status} ${text}`);
  return text ? JSON.parse(text) : {};
}

export async function register(base: string, name: string): Promise<{ userId: string; token: string }> {
  const r = await api(base, "POST", "/_matrix/client/v3/register", { username: name, password: "bench-password", auth: { type: "m.login.dummy" } });
  return { userId: r.user_id, token: r.access_token };
}

export const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

/** Resident memory of a process in bytes, from /proc. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}
