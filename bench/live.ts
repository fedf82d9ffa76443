// Live delivery benchmarks: WebSocket vs long-poll, memory per idle connection, delivery across
// two processes through Redis. Each beside a baseline measured in the same run.
import { spawn, type ChildProcess } from "node:child_process";
import { WebSocket, WebSocketServer } from "ws";
import { api, fmt, register, request, rssBytes, startServerProcess, stats, type ServerProc } from "./lib.js";

const WS_PATH = "/_matrix/client/unstable/org.ganglion.ws/v1/stream";
const FILTER = { room: { timeline: { limit: 50, types: ["m.room.message"] }, state: { lazy_load_members: true } } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Raw `ws` echo round trip on this machine: the floor for any WebSocket latency. */
export async function wsEchoBaseline(n: number): Promise<ReturnType<typeof stats>> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  wss.on("connection", (s) => s.on("message", (d) => s.send(d)));
  await new Promise((r) => wss.once("listening", r));
  const port = (wss.address() as { port: number }).port;
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise((r) => ws.once("open", r));
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await new Promise<void>((resolve) => { ws.once("message", () => resolve()); ws.send(JSON.stringify({ id: i, method: "ping" })); });
    lat.push(performance.now() - t);
  }
  ws.close();
  wss.close();
  return stats(lat);
}

function openWs(base: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(base.replace(/^http/, "ws") + WS_PATH, { headers: { Authorization: `Bearer ${token}` } });
  return new Promise((resolve, reject) => { ws.once("open", () => resolve(ws)); ws.once("error", reject); });
}

/** Subscribes a socket; calls `onEvent(tag, now)` for each message event pushed. */
async function subscribe(ws: WebSocket, roomId: string, onEvent: (tag: string, now: number) => void): Promise<void> {
  await new Promise<void>((resolve) => {
    ws.on("message", (d) => {
      const now = performance.now();
      const f = JSON.parse(d.toString());
      if (f.id === "s") return resolve();
      if (f.method !== "sync") return;
      for (const e of f.params.rooms?.join?.[roomId]?.timeline?.events ?? []) if (e.content?.tag) onEvent(e.content.tag, now);
    });
    ws.send(JSON.stringify({ id: "s", method: "sync", params: { filter: FILTER } }));
  });
}

/** Sends `n` tagged messages 50 ms apart; `sentAt` records when each left. */
async function sendTagged(base: string, roomId: string, token: string, prefix: string, n: number, sentAt: Map<string, number>): Promise<void> {
  for (let i = 0; i < n; i++) {
    const tag = `${prefix}${i}`;
    sentAt.set(tag, performance.now());
    await api(base, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${tag}`, { msgtype: "m.text", body: "ping", tag }, token);
    await sleep(50);
  }
}

/** Long-poll loops for `users` on `base`; returns a stop function that resolves when they end. */
function longPollers(base: string, roomId: string, tokens: string[], onEvent: (tag: string, now: number) => void): () => Promise<void> {
  let running = true;
  const f = encodeURIComponent(JSON.stringify(FILTER));
  const loops = tokens.map(async (token) => {
    let since = (await api(base, "GET", `/_matrix/client/v3/sync?filter=${f}&timeout=0`, undefined, token)).next_batch;
    while (running) {
      const s = await api(base, "GET", `/_matrix/client/v3/sync?since=${since}&timeout=5000&filter=${f}`, undefined, token);
      const now = performance.now();
      since = s.next_batch;
      for (const e of s.rooms?.join?.[roomId]?.timeline?.events ?? []) if (e.content?.tag) onEvent(e.content.tag, now);
    }
  });
  return async () => { running = false; await Promise.all(loops); };
}

/** Latency of sends to clients of `recvBase` (long-poll or WebSocket) from a sender on `sendBase`. */
export async function deliveryLatency(kind: "ws" | "poll", sendBase: string, recvBase: string, roomId: string, sender: string, receivers: string[], prefix: string, messages: number): Promise<ReturnType<typeof stats>> {
  const sentAt = new Map<string, number>();
  const lat: number[] = [];
  const seen = (tag: string, now: number) => { const t = sentAt.get(tag); if (t !== undefined) lat.push(now - t); };
  let stop: () => Promise<void>;
  if (kind === "ws") {
    const sockets = await Promise.all(receivers.map((t) => openWs(recvBase, t)));
    await Promise.all(sockets.map((ws) => subscribe(ws, roomId, seen)));
    stop = async () => { for (const ws of sockets) ws.close(); };
  } else {
    stop = longPollers(recvBase, roomId, receivers, seen);
  }
  await sleep(1000);
  await sendTagged(sendBase, roomId, sender, prefix, messages, sentAt);
  await sleep(1500);
  if (kind === "poll") {
    const end = stop;
    // Wake the pollers so they finish.
    stop = async () => { const p = end(); await api(sendBase, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${prefix}end`, { msgtype: "m.text", body: "end" }, sender); await p; };
  }
  await stop();
  return stats(lat);
}

/**
 * RSS growth of a fresh server process per idle connection: `n` subscribed WebSockets, or `n`
 * waiting long-polls. A fresh process each, so memory freed by one kind is not reused by the other.
 */
export async function memoryPerConnection(dbUrl: string, kind: "ws" | "poll", tokens: string[], n: number): Promise<number> {
  const server = await startServerProcess(dbUrl);
  try {
    const f = encodeURIComponent(JSON.stringify(FILTER));
    // Warm up: each user's first sync (caches, JIT) before the "before" figure.
    const since = await Promise.all(tokens.map(async (t) => (await api(server.url, "GET", `/_matrix/client/v3/sync?filter=${f}&timeout=0`, undefined, t)).next_batch));
    await sleep(2000);
    const before = rssBytes(server.child.pid!);
    let release: () => Promise<unknown>;
    if (kind === "ws") {
      const sockets: WebSocket[] = [];
      for (let i = 0; i < n; i++) {
        const ws = await openWs(server.url, tokens[i % tokens.length]!);
        await new Promise<void>((resolve) => {
          ws.on("message", (d) => { if (JSON.parse(d.toString()).id === "s") resolve(); });
          ws.send(JSON.stringify({ id: "s", method: "sync", params: { filter: FILTER, since: since[i % tokens.length] } }));
        });
        sockets.push(ws);
      }
      release = async () => { for (const ws of sockets) ws.close(); };
    } else {
      const polls = Array.from({ length: n }, (_, i) => request(server.url, "GET", `/_matrix/client/v3/sync?since=${since[i % tokens.length]}&timeout=15000&filter=${f}`, undefined, tokens[i % tokens.length]).catch(() => null));
      release = () => Promise.all(polls);
    }
    await sleep(3000);
    const after = rssBytes(server.child.pid!);
    await release();
    return (after - before) / n;
  } finally {
    await server.stop();
  }
}

/** A redis-server for the cross-process figure, or null if it is not installed. */
export async function startRedis(port: number): Promise<{ url: string; stop(): void } | null> {
  let child: ChildProcess;
  try {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  } catch { return null; }
  const failed = await Promise.race([new Promise<boolean>((r) => child.once("error", () => r(true))), sleep(500).then(() => false)]);
  if (failed || child.exitCode !== null) return null;
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill("SIGKILL") };
}

export async function twoProcesses(dbUrl: string, redisUrl: string): Promise<[ServerProc, ServerProc]> {
  const extra = [`redis: { url: "${redisUrl}" }`];
  return [await startServerProcess(dbUrl, extra), await startServerProcess(dbUrl, extra)];
}

export async function usersInRoom(base: string, prefix: string, n: number, ownerToken: string): Promise<{ roomId: string; tokens: string[] }> {
  const users = await Promise.all(Array.from({ length: n }, (_, i) => register(base, `${prefix}${i}`)));
  const roomId = (await api(base, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, ownerToken)).room_id;
  for (const u of users) await api(base, "POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {}, u.token);
  return { roomId, tokens: users.map((u) => u.token) };
}

export { fmt };

/**
 * Send → "delivered" tick at the sender: `receivers` sockets sync and acknowledge each frame
 * (as @ganglion/client does); the sender's own socket watches for the first
 * org.ganglion.delivered receipt of each of its messages. Messages go `spacingMs` apart
 * (a conversation's pace: each user's receipts move at most once per
 * delivery_receipts.min_interval_ms, 1 s by default). Latency from the send's 200.
 */
export async function deliveredTickLatency(base: string, roomId: string, sender: { token: string; userId: string }, receivers: string[], messages: number, spacingMs: number): Promise<ReturnType<typeof stats>> {
  const sockets = await Promise.all(receivers.map((t) => openWs(base, t)));
  let acks = 0;
  await Promise.all(sockets.map((ws) => new Promise<void>((resolve) => {
    ws.on("message", (d) => {
      const f = JSON.parse(d.toString());
      if (f.id === "s") return resolve();
      if (f.method === "sync") ws.send(JSON.stringify({ id: `a${acks++}`, method: "ack", params: { next_batch: f.params.next_batch } }));
    });
    ws.send(JSON.stringify({ id: "s", method: "sync", params: { filter: FILTER } }));
  })));
  const ticks = new Map<string, number>();
  const me = await openWs(base, sender.token);
  await new Promise<void>((resolve) => {
    me.on("message", (d) => {
      const now = performance.now();
      const f = JSON.parse(d.toString());
      if (f.id === "s") return resolve();
      if (f.method !== "sync") return;
      for (const e of f.params.rooms?.join?.[roomId]?.ephemeral?.events ?? []) {
        if (e.type !== "m.receipt") continue;
        for (const [eventId, byType] of Object.entries(e.content as Record<string, Record<string, Record<string, unknown>>>)) {
          const by = byType["org.ganglion.delivered"];
          if (by && Object.keys(by).some((u) => u !== sender.userId) && !ticks.has(eventId)) ticks.set(eventId, now);
        }
      }
    });
    me.send(JSON.stringify({ id: "s", method: "sync", params: {} }));
  });
  await sleep(500);
  const sent = new Map<string, number>();
  for (let i = 0; i < messages; i++) {
    const r = await api(base, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/tick${i}`, { msgtype: "m.text", body: "tick" }, sender.token);
    sent.set(r.event_id, performance.now());
    await sleep(spacingMs);
  }
  await sleep(2000);
  for (const ws of [...sockets, me]) ws.close();
  const lat: number[] = [];
  for (const [eventId, at] of sent) { const t = ticks.get(eventId); if (t !== undefined) lat.push(t - at); }
  return stats(lat);
}
