// npm run bench: figures, each beside a baseline measured in the same run on the same machine.
// Asserts nothing. See docs/performance.md for recorded results.
import { cpus, totalmem } from "node:os";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { pino } from "pino";
import { startEmbeddedPostgres } from "../src/store/embedded.js";
import { api, cpuMs, fmt, register, request, startServerProcess, stats } from "./lib.js";
import { deliveredTickLatency, deliveryLatency, memoryPerConnection, startRedis, twoProcesses, usersInRoom, wsEchoBaseline } from "./live.js";
import { createServer } from "node:net";
import { commonTerms, loadHistory, rareTerms, searchLatency, sendRate } from "./search.js";
import { appserviceSection } from "./appservice.js";
import { scaleSection } from "./scale.js";
import { initialSyncSection } from "./initial-sync.js";
import { slidingSection } from "./sliding.js";

const SEQ_SENDS = Number(process.env.BENCH_SEQ ?? 1000);
const CONC_SENDERS = 100;
const CONC_PER_SENDER = Number(process.env.BENCH_CONC_EACH ?? 20);
const POLLERS = 100;
const DELIVERY_MESSAGES = Number(process.env.BENCH_DELIVERIES ?? 60);
const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE ?? 2000);
const TICK_MESSAGES = Number(process.env.BENCH_TICKS ?? 20);
const SEARCH_EVENTS = Number(process.env.BENCH_SEARCH_EVENTS ?? 1_000_000);

const freePort = (): Promise<number> => new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

async function rawInsertRate(url: string, conns: number, total: number): Promise<number> {
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  await setup.query("CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, room text, body jsonb)");
  await setup.end();
  const clients = await Promise.all(Array.from({ length: conns }, async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    return c;
  }));
  const per = Math.ceil(total / conns);
  const t0 = process.hrtime.bigint();
  await Promise.all(clients.map(async (c) => {
    for (let i = 0; i < per; i++) {
      // A single-row insert in its own transaction: BEGIN, INSERT, COMMIT (synchronous_commit on).
      await c.query("BEGIN");
      await c.query("INSERT INTO bench_insert (room, body) VALUES ($1, $2)", ["!r:localhost", { body: "hello", i }]);
      await c.query("COMMIT");
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all(clients.map((c) => c.end()));
  return (per * conns) / secs;
}

async function httpRoundTrips(base: string, n: number): Promise<{ rate: number; lat: ReturnType<typeof stats> }> {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await request(base, "GET", "/_matrix/client/versions");
    lat.push(performance.now() - s);
  }
  return { rate: n / ((performance.now() - t0) / 1000), lat: stats(lat) };
}

async function main(): Promise<void> {
  const dataDir = path.join(tmpdir(), `ganglion-bench-pg-${process.pid}`);
  const pgHandle = await startEmbeddedPostgres(dataDir, null, pino({ level: "silent" }));
  // BENCH_EXTRA_CONFIG: YAML lines for the main server's config (e.g. "delivery_receipts: { enabled: false }").
  const server = await startServerProcess(pgHandle.url, process.env.BENCH_EXTRA_CONFIG ? [process.env.BENCH_EXTRA_CONFIG] : []);
  const pid = server.child.pid!;
  const out: string[] = [];
  const say = (s: string) => { out.push(s); console.log(s); };
  try {
    say(`# Ganglion benchmark — ${new Date().toISOString()}`);
    say(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
    say("");
    // `npm run bench -- search` or `-- appservice`: that section alone.
    if (process.argv.includes("search")) {
      await searchSection(pgHandle.url, say);
      return;
    }
    if (process.argv.includes("initial-sync")) {
      await server.stop();
      await initialSyncSection(pgHandle.url, say);
      return;
    }
    if (process.argv.includes("sliding")) {
      await server.stop();
      await slidingSection(pgHandle.url, say);
      return;
    }
    if (process.argv.includes("scale")) {
      await server.stop();
      await scaleSection(pgHandle.url, say);
      return;
    }
    if (process.argv.includes("appservice")) {
      await appserviceSection(pgHandle.url, say);
      return;
    }

    // Baselines.
    const rawSeq = await rawInsertRate(pgHandle.url, 1, 2000);
    const rawConc = await rawInsertRate(pgHandle.url, 10, 4000);
    const rtt = await httpRoundTrips(server.url, 2000);
    say("## Baselines (same run, same Postgres, same server)");
    say(`raw INSERT+COMMIT, 1 connection:    ${fmt(rawSeq, 0)} rows/s`);
    say(`raw INSERT+COMMIT, 10 connections:  ${fmt(rawConc, 0)} rows/s`);
    say(`HTTP round trip (GET /versions):    ${fmt(rtt.rate, 0)} req/s, p50 ${fmt(rtt.lat.p50, 2)} ms, p99 ${fmt(rtt.lat.p99, 2)} ms`);
    say("");

    // Send throughput, one sender, sequential (after a warm-up, so the JIT has compiled the path).
    const owner = await register(server.url, "bench_owner");
    const room = (await api(server.url, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, owner.token)).room_id;
    for (let i = 0; i < 300; i++) {
      await api(server.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/warm${i}`, { msgtype: "m.text", body: `warm ${i}` }, owner.token);
    }
    let cpu0 = cpuMs(pid);
    let t0 = performance.now();
    for (let i = 0; i < SEQ_SENDS; i++) {
      await api(server.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/seq${i}`, { msgtype: "m.text", body: `message ${i}` }, owner.token);
    }
    const seqRate = SEQ_SENDS / ((performance.now() - t0) / 1000);
    const seqCpu = (cpuMs(pid) - cpu0) / SEQ_SENDS;

    // 100 concurrent senders over 10 shared rooms.
    const senders = await Promise.all(Array.from({ length: CONC_SENDERS }, (_, i) => register(server.url, `bench_s${i}`)));
    const rooms: string[] = [];
    for (let r = 0; r < 10; r++) rooms.push((await api(server.url, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, owner.token)).room_id);
    await Promise.all(senders.map((s, i) => api(server.url, "POST", `/_matrix/client/v3/join/${encodeURIComponent(rooms[i % 10]!)}`, {}, s.token)));
    cpu0 = cpuMs(pid);
    t0 = performance.now();
    await Promise.all(senders.map(async (s, i) => {
      for (let n = 0; n < CONC_PER_SENDER; n++) {
        await api(server.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[i % 10]!)}/send/m.room.message/c${n}`, { msgtype: "m.text", body: `c ${n}` }, s.token);
      }
    }));
    const concTotal = CONC_SENDERS * CONC_PER_SENDER;
    const concRate = concTotal / ((performance.now() - t0) / 1000);
    const concCpu = (cpuMs(pid) - cpu0) / concTotal;
    say("## Send throughput (PUT /rooms/{id}/send, acknowledged = committed)");
    say(`1 sender, sequential:            ${fmt(seqRate, 0)} events/s  (${fmt(seqRate / rawSeq * 100, 0)}% of raw 1-connection insert; server CPU ${fmt(seqCpu, 2)} ms/event)`);
    say(`100 senders, 10 shared rooms:    ${fmt(concRate, 0)} events/s  (${fmt(concRate / rawConc * 100, 0)}% of raw 10-connection insert; server CPU ${fmt(concCpu, 2)} ms/event)`);
    say("");
    if (process.argv.includes("sends")) return; // `npm run bench -- sends`: baselines and sends alone

    // Delivery latency: 100 clients long-polling /sync in one shared room; one sender.
    const pollers = await Promise.all(Array.from({ length: POLLERS }, (_, i) => register(server.url, `bench_p${i}`)));
    const lroom = (await api(server.url, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, owner.token)).room_id;
    for (const p of pollers) await api(server.url, "POST", `/_matrix/client/v3/join/${encodeURIComponent(lroom)}`, {}, p.token);
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 50, types: ["m.room.message"] }, state: { lazy_load_members: true } } }));
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    let running = true;
    const loops = pollers.map(async (p) => {
      let since = (await api(server.url, "GET", `/_matrix/client/v3/sync?filter=${filter}&timeout=0`, undefined, p.token)).next_batch;
      while (running) {
        const s = await api(server.url, "GET", `/_matrix/client/v3/sync?since=${since}&timeout=5000&filter=${filter}`, undefined, p.token);
        const now = performance.now();
        since = s.next_batch;
        const evs = s.rooms?.join?.[lroom]?.timeline?.events ?? [];
        for (const e of evs) {
          const t = sentAt.get(e.content?.tag);
          if (t !== undefined) latencies.push(now - t);
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
    cpu0 = cpuMs(pid);
    for (let i = 0; i < DELIVERY_MESSAGES; i++) {
      const tag = `d${i}`;
      sentAt.set(tag, performance.now());
      await api(server.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(lroom)}/send/m.room.message/${tag}`, { msgtype: "m.text", body: "ping", tag }, owner.token);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1500));
    const deliveryCpu = (cpuMs(pid) - cpu0) / (DELIVERY_MESSAGES * POLLERS);
    running = false;
    // Wake the pollers so they finish.
    await api(server.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(lroom)}/send/m.room.message/end`, { msgtype: "m.text", body: "end" }, owner.token);
    await Promise.all(loops);
    const d = stats(latencies);
    say(`## Send → /sync delivery, ${POLLERS} long-polling clients in one room`);
    say(`deliveries: ${d.n} of ${DELIVERY_MESSAGES * POLLERS}`);
    say(`latency: p50 ${fmt(d.p50, 1)} ms, p95 ${fmt(d.p95, 1)} ms, p99 ${fmt(d.p99, 1)} ms  (HTTP round-trip p50 ${fmt(rtt.lat.p50, 2)} ms → p50 is ${fmt(d.p50 / rtt.lat.p50, 1)}× a trivial request)`);
    say(`server CPU per delivery: ${fmt(deliveryCpu, 3)} ms`);
    say("");

    // The same room and clients over the WebSocket extension, beside a raw ws echo.
    const echo = await wsEchoBaseline(2000);
    const tokens = pollers.map((p) => p.token);
    const wsLat = await deliveryLatency("ws", server.url, server.url, lroom, owner.token, tokens, "w", DELIVERY_MESSAGES);
    say(`## Send → WebSocket delivery, ${POLLERS} connected clients in one room`);
    say(`raw ws echo round trip (baseline): p50 ${fmt(echo.p50, 2)} ms, p95 ${fmt(echo.p95, 2)} ms, p99 ${fmt(echo.p99, 2)} ms`);
    say(`deliveries: ${wsLat.n} of ${DELIVERY_MESSAGES * POLLERS}`);
    say(`latency: p50 ${fmt(wsLat.p50, 1)} ms, p95 ${fmt(wsLat.p95, 1)} ms, p99 ${fmt(wsLat.p99, 1)} ms  (long-poll: p50 ${fmt(d.p50, 1)}, p95 ${fmt(d.p95, 1)}, p99 ${fmt(d.p99, 1)})`);
    say("");

    // The "delivered" tick: a room of 100 sockets (the sender and 99 who acknowledge).
    const droom = (await api(server.url, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, owner.token)).room_id;
    await Promise.all(tokens.slice(0, 99).map((tk) => api(server.url, "POST", `/_matrix/client/v3/join/${encodeURIComponent(droom)}`, {}, tk)));
    const tick = await deliveredTickLatency(server.url, droom, owner, tokens.slice(0, 99), TICK_MESSAGES, 1100);
    say(`## Send → "delivered" tick at the sender, 100 sockets in one room (99 acknowledge each frame)`);
    say(`ticks: ${tick.n} of ${TICK_MESSAGES}; latency after the send's 200: p50 ${fmt(tick.p50, 1)} ms, p95 ${fmt(tick.p95, 1)} ms, p99 ${fmt(tick.p99, 1)} ms  (WebSocket delivery of the same run: p50 ${fmt(wsLat.p50, 1)}, p99 ${fmt(wsLat.p99, 1)})`);
    say("");
    if (process.argv.includes("delivery")) return; // `npm run bench -- delivery`: up to here

    // Memory and the two-process figures use fresh server processes.
    await server.stop();
    const memPoll = await memoryPerConnection(pgHandle.url, "poll", tokens, IDLE_CONNECTIONS);
    const memWs = await memoryPerConnection(pgHandle.url, "ws", tokens, IDLE_CONNECTIONS);
    say(`## Memory per idle connection (RSS growth of a fresh server over ${IDLE_CONNECTIONS} connections)`);
    say(`long-poll /sync, waiting: ${fmt(memPoll / 1024, 1)} KiB each`);
    say(`WebSocket, subscribed:    ${fmt(memWs / 1024, 1)} KiB each  (${fmt(memWs / memPoll, 1)}× a long-poll)`);
    say("");

    // Two processes on the same Postgres sharing one Redis: sender on A, clients on B.
    const redis = await startRedis(await freePort());
    if (!redis) {
      say("## Across two processes (Redis): skipped, redis-server is not installed");
    } else {
      const [A, B] = await twoProcesses(pgHandle.url, redis.url);
      try {
        const xOwner = await register(A.url, "bench_x_owner");
        const x = await usersInRoom(A.url, "bench_x", POLLERS, xOwner.token);
        const same = await deliveryLatency("poll", A.url, A.url, x.roomId, xOwner.token, x.tokens, "xs", DELIVERY_MESSAGES);
        const cross = await deliveryLatency("poll", A.url, B.url, x.roomId, xOwner.token, x.tokens, "xc", DELIVERY_MESSAGES);
        const crossWs = await deliveryLatency("ws", A.url, B.url, x.roomId, xOwner.token, x.tokens, "xw", DELIVERY_MESSAGES);
        say(`## Across two processes (Redis), ${POLLERS} clients, sender on process A`);
        say(`long-poll on A (same process, baseline): p50 ${fmt(same.p50, 1)} ms, p95 ${fmt(same.p95, 1)} ms, p99 ${fmt(same.p99, 1)} ms  (${same.n} deliveries)`);
        say(`long-poll on B (through Redis):          p50 ${fmt(cross.p50, 1)} ms, p95 ${fmt(cross.p95, 1)} ms, p99 ${fmt(cross.p99, 1)} ms  (${cross.n} deliveries; p50 ${fmt(cross.p50 / same.p50, 2)}× same-process)`);
        say(`WebSocket on B (through Redis):          p50 ${fmt(crossWs.p50, 1)} ms, p95 ${fmt(crossWs.p95, 1)} ms, p99 ${fmt(crossWs.p99, 1)} ms  (${crossWs.n} deliveries)`);
      } finally {
        await A.stop();
        await B.stop();
        redis.stop();
      }
    }
    say("");

    await searchSection(pgHandle.url, say);
    say("");
    await appserviceSection(pgHandle.url, say);
    say("");
    await initialSyncSection(pgHandle.url, say);
    say("");
    await slidingSection(pgHandle.url, say);
    say("");
    await scaleSection(pgHandle.url, say);
  } finally {
    if (server.child.exitCode === null) await server.stop();
    await pgHandle.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(`${dataDir}.password`, { force: true });
  }
}

/** Search over a large history, and what indexing costs a send (same run, same database). */
async function searchSection(pgUrl: string, say: (s: string) => void): Promise<void> {
  const sServer = await startServerProcess(pgUrl);
  const plain = await startServerProcess(pgUrl, ["search: { enabled: false }"]);
  try {
    const searcher = await register(sServer.url, "bench_searcher");
    const sroom = (await api(sServer.url, "POST", "/_matrix/client/v3/createRoom", {}, searcher.token)).room_id;
    const loaded = await loadHistory(pgUrl, sroom, searcher.userId, SEARCH_EVENTS);
    say(`## Search over ${SEARCH_EVENTS.toLocaleString("en")} generated messages (Zipf-distributed words, 5% CJK)`);
    say(`history written straight into the events table (with the index) in ${fmt(loaded.secs, 0)} s: ${fmt(SEARCH_EVENTS / loaded.secs, 0)} rows/s`);
    for (const order of ["rank", "recent"] as const) {
      const rare = await searchLatency(sServer, searcher.token, sroom, rareTerms(50), order);
      const common = await searchLatency(sServer, searcher.token, sroom, commonTerms(20), order);
      const cjk = await searchLatency(sServer, searcher.token, sroom, Array(20).fill(loaded.cjkSample), order);
      say(`order_by ${order}: rare term p50 ${fmt(rare.p50, 1)} ms, p95 ${fmt(rare.p95, 1)} ms (${fmt(rare.hits / 50, 1)} results/query); common term p50 ${fmt(common.p50, 1)} ms, p95 ${fmt(common.p95, 1)} ms; CJK substring p50 ${fmt(cjk.p50, 1)} ms, p95 ${fmt(cjk.p95, 1)} ms`);
    }
    const on: number[] = [];
    const off: number[] = [];
    for (let round = 0; round < 2; round++) {
      on.push(await sendRate(sServer, `bench_idx_on${round}`, 400));
      off.push(await sendRate(plain, `bench_idx_off${round}`, 400));
    }
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    say(`sequential sends with the search index: ${fmt(avg(on), 0)} events/s; without (search.enabled: false): ${fmt(avg(off), 0)} events/s → indexing costs ${fmt((1 - avg(on) / avg(off)) * 100, 0)}%`);
  } finally {
    await sServer.stop();
    await plain.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
