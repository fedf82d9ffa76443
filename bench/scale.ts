// Scale: fan-out of one message to thousands of clients in one room (WebSocket and long-poll),
// memory of 10,000 idle sockets, and the database statements a delivery costs. Clients run in a
// process of their own (scale-load.ts); every figure is printed beside a raw `ws` broadcast of
// the same bytes to the same number of sockets, measured in the same run by the same client
// process. `npm run bench -- scale` runs this section alone.
import { fork, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import path from "node:path";
import pg from "pg";
import { WebSocketServer, type WebSocket } from "ws";
import { api, cpuMs, fmt, register, request, rssBytes, startServerProcess, stats, type ServerProc } from "./lib.js";

const CLIENTS = Number(process.env.BENCH_SCALE_CLIENTS ?? 1000);
const IDLE = Number(process.env.BENCH_SCALE_IDLE ?? 10_000);
const FANOUTS = Number(process.env.BENCH_SCALE_FANOUTS ?? 6);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The load process: one request at a time, answered in order. */
class Load {
  private readonly child: ChildProcess;
  private queue: ((m: any) => void)[] = [];
  constructor() {
    this.child = fork(path.join(import.meta.dirname, "scale-load.ts"), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (m) => this.queue.shift()?.(m));
  }
  ask(m: unknown): Promise<any> {
    return new Promise((resolve, reject) => {
      this.queue.push((r) => (r.ok ? resolve(r) : reject(new Error(r.error))));
      this.child.send(m as never);
    });
  }
  private closed = false;
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ask({ cmd: "close" }).catch(() => undefined);
    if (this.child.exitCode === null) await new Promise((r) => this.child.once("exit", r));
  }
  get pid(): number { return this.child.pid!; }
}

/** Users with a device and an access token, written straight into the store (no scrypt per user). */
async function makeUsers(pgUrl: string, prefix: string, n: number, serverName = "localhost"): Promise<string[]> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  const tokens: string[] = [];
  const now = Date.now();
  try {
    for (let start = 0; start < n; start += 1000) {
      const ids: string[] = [];
      const hashes: Buffer[] = [];
      for (let i = start; i < Math.min(n, start + 1000); i++) {
        const t = `syt_bench_${randomBytes(16).toString("hex")}`;
        tokens.push(t);
        ids.push(`@${prefix}${i}:${serverName}`);
        hashes.push(createHash("sha256").update(t, "utf8").digest());
      }
      await c.query("BEGIN");
      await c.query("INSERT INTO users (user_id, created_ts) SELECT unnest($1::text[]), $2", [ids, now]);
      await c.query("INSERT INTO devices (user_id, device_id, created_ts) SELECT unnest($1::text[]), 'BENCH', $2", [ids, now]);
      await c.query("INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) SELECT unnest($1::bytea[]), unnest($2::text[]), 'BENCH', $3", [hashes, ids, now]);
      await c.query("COMMIT");
    }
  } finally {
    await c.end();
  }
  return tokens;
}

async function joinAll(base: string, roomId: string, tokens: string[]): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 20 }, async () => {
    while (next < tokens.length) {
      const t = tokens[next++]!;
      await api(base, "POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {}, t);
    }
  }));
  return tokens.length / ((performance.now() - t0) / 1000);
}

/** The server's V8 heap in use and the memory outside it (buffers), from /metrics, in MiB. */
async function heapMiB(base: string): Promise<{ heap: number; external: number }> {
  const { text } = await request(base, "GET", "/metrics");
  const num = (name: string) => Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? NaN) / 2 ** 20;
  return { heap: num("nodejs_heap_size_used_bytes"), external: num("nodejs_external_memory_bytes") };
}

async function queryCount(base: string): Promise<number> {
  const { text } = await request(base, "GET", "/metrics");
  const m = /^ganglion_db_queries_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

/**
 * The raw baselines in this process: a `ws` server and a plain `node:http` long-poll. POST
 * /broadcast?tag=X sends the frame to every socket and answers every GET /poll held open.
 */
async function rawBroadcaster(frameBytes: number): Promise<{ url: string; close(): void }> {
  const sockets = new Set<WebSocket>();
  let waiting: http.ServerResponse[] = [];
  const srv = http.createServer((req, res) => {
    if (req.url === "/poll") {
      waiting.push(res);
      res.once("close", () => { waiting = waiting.filter((w) => w !== res); });
      return;
    }
    const tag = new URL(req.url!, "http://x").searchParams.get("tag") ?? "";
    // The same size as the server's sync frame for the message, built once and shared.
    const head = `{"method":"sync","params":{"tag":"${tag}","pad":"`;
    const frame = head + "x".repeat(Math.max(0, frameBytes - head.length - 4)) + '"}}';
    for (const s of sockets) s.send(frame);
    const polls = waiting;
    waiting = [];
    for (const w of polls) { w.setHeader("Content-Type", "application/json"); w.end(frame); }
    res.end("{}");
  });
  const wss = new WebSocketServer({ server: srv });
  wss.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`,
    close: () => { for (const w of waiting) w.destroy(); wss.close(); srv.close(); },
  };
}

interface Fanout { n: number; expected: number; p50: number; p95: number; p99: number; max: number; errors: number; queries: number; cpuMs: number; sendMs: number }

/** One tagged message to every connected client; what each saw and what it cost the server. */
async function fanout(load: Load, server: ServerProc | null, url: string, roomId: string, sender: string, tag: string, expected: number): Promise<Fanout> {
  const q0 = server ? await queryCount(server.url) : 0;
  const c0 = server ? cpuMs(server.child.pid!) : 0;
  const r = await load.ask({ cmd: "fanout", tag, url, roomId, sender, timeoutMs: 120_000 });
  const s = stats(r.lat);
  const queries = server ? (await queryCount(server.url)) - q0 : 0;
  const cpu = server ? cpuMs(server.child.pid!) - c0 : 0;
  if (r.errorSamples.length) console.log(`  errors (sample): ${r.errorSamples.join(" | ")}`);
  return { n: s.n, expected, p50: s.p50, p95: s.p95, p99: s.p99, max: Math.max(...r.lat, 0), errors: r.errors, queries: Math.max(0, queries), cpuMs: cpu, sendMs: r.sendMs, frameBytes: r.frameBytes } as Fanout & { frameBytes: number };
}

const line = (f: Fanout) =>
  `${f.n}/${f.expected} delivered, p50 ${fmt(f.p50, 1)} ms, p95 ${fmt(f.p95, 1)} ms, p99 ${fmt(f.p99, 1)} ms, max ${fmt(f.max, 0)} ms`;
const cost = (f: Fanout) =>
  `${fmt(f.queries / Math.max(1, f.n), 3)} queries and ${fmt(f.cpuMs / Math.max(1, f.n), 3)} ms server CPU per delivery (${f.queries} statements in all, the send's own included); ${f.errors} errors so far`;

/** Connects `tokens` as `kind` clients, sends FANOUTS messages, then the raw broadcast of the same frames. */
async function fanoutPhase(say: (s: string) => void, label: string, kind: "ws" | "poll", server: ServerProc, roomId: string, sender: string, tokens: string[], since?: string): Promise<void> {
  const load = new Load();
  try {
    const rss0 = rssBytes(server.child.pid!);
    const h0 = await heapMiB(server.url);
    const c = await load.ask({ cmd: "connect", kind, url: server.url, tokens, roomId, since, concurrency: 50 });
    await sleep(3000); // the presence of the clients that came online reaches the others first
    const rss1 = rssBytes(server.child.pid!);
    const h1 = await heapMiB(server.url);
    say(`### ${label}: ${tokens.length} ${kind === "ws" ? "WebSocket" : "long-poll"} clients in one room of ${tokens.length} members`);
    say(`connected ${c.connected} in ${fmt(c.secs, 1)} s (${since ? "resuming from a token" : "each with an initial sync"}); server RSS ${fmt(rss0 / 2 ** 20, 0)} → ${fmt(rss1 / 2 ** 20, 0)} MiB (${fmt((rss1 - rss0) / tokens.length / 1024, 1)} KiB per client); V8 heap in use ${fmt(h0.heap, 0)} → ${fmt(h1.heap, 0)} MiB, outside it ${fmt(h0.external, 0)} → ${fmt(h1.external, 0)} MiB`);
    if (c.errorSamples.length) say(`  connect errors: ${c.errors} (${c.errorSamples.join(" | ")})`);
    const results: (Fanout & { frameBytes?: number })[] = [];
    for (let i = 0; i < FANOUTS; i++) {
      const f = await fanout(load, server, server.url, roomId, sender, `${label.replace(/\W/g, "")}m${i}x`, c.connected);
      results.push(f);
      say(`${i === 0 ? "first fan-out" : `fan-out ${i + 1}`}:   ${line(f)}; ${cost(f)}`);
      await sleep(kind === "poll" ? 1500 : 500); // long-polls reconnect before the next one
    }
    const frame = results[0]?.frameBytes ?? 1000;
    await load.close();
    // The raw baselines: the same number of clients, the same frame size, each from a fresh
    // load process: WebSockets, and for long-polls also plain HTTP requests held open.
    for (const rawKind of kind === "poll" ? ["raw", "rawpoll"] as const : ["raw"] as const) {
      const raw = await rawBroadcaster(frame);
      const rload = new Load();
      try {
        await rload.ask({ cmd: "connect", kind: rawKind, url: raw.url, tokens: tokens.map(() => ""), roomId, concurrency: 50 });
        await sleep(1000);
        const rs: Fanout[] = [];
        for (let i = 0; i < 3; i++) {
          rs.push(await fanout(rload, null, raw.url, roomId, "raw", `raw${rawKind}${i}x${label.replace(/\W/g, "")}`, tokens.length));
          await sleep(rawKind === "rawpoll" ? 1500 : 500);
        }
        const best = rs.sort((a, b) => a.p99 - b.p99)[1]!;
        const what = rawKind === "raw" ? `raw ws broadcast of ${frame} bytes to ${tokens.length} sockets` : `raw node:http long-poll answer of ${frame} bytes to ${tokens.length} waiting requests`;
        say(`${what} (baseline, median of 3): ${line(best)}`);
      } finally {
        await rload.close();
        raw.close();
      }
    }
  } finally {
    await load.close().catch(() => undefined);
  }
}

export async function scaleSection(pgUrl: string, say: (s: string) => void): Promise<void> {
  say(`## Scale: one message to ${CLIENTS.toLocaleString("en")} and ${IDLE.toLocaleString("en")} clients in one room`);
  let server = await startServerProcess(pgUrl); // migrates a fresh database
  try {
    const tA = await makeUsers(pgUrl, "scale_a", CLIENTS);
    const tB = await makeUsers(pgUrl, "scale_b", CLIENTS);
    const tC = await makeUsers(pgUrl, "scale_c", IDLE);
    const owner = await register(server.url, "scale_owner");
    const roomA = (await api(server.url, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, owner.token)).room_id;
    const roomB = (await api(server.url, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, owner.token)).room_id;
    const roomC = IDLE ? (await api(server.url, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, owner.token)).room_id : "";
    const jr = await joinAll(server.url, roomA, tA);
    await joinAll(server.url, roomB, tB);
    const jc = IDLE ? await joinAll(server.url, roomC, tC) : 0;
    say(`set-up: ${CLIENTS * 2 + IDLE} users written into the store; joins at ${fmt(jr, 0)}/s (room of ${CLIENTS}), ${fmt(jc, 0)}/s (room of ${IDLE})`);
    // A fresh process: the clients are new to it, so the first fan-out is the cold one.
    await server.stop();
    server = await startServerProcess(pgUrl);
    await fanoutPhase(say, "A", "ws", server, roomA, owner.token, tA);
    await fanoutPhase(say, "B", "poll", server, roomB, owner.token, tB);
    await server.stop();
    if (IDLE === 0) return; // BENCH_SCALE_IDLE=0: the 1,000-client phases only
    server = await startServerProcess(pgUrl);
    const since = (await api(server.url, "GET", "/_matrix/client/v3/sync?timeout=0&filter=" + encodeURIComponent(JSON.stringify({ room: { rooms: [] } })), undefined, owner.token)).next_batch;
    await fanoutPhase(say, "C", "ws", server, roomC, owner.token, tC, since);
  } finally {
    await server.stop();
  }
}
