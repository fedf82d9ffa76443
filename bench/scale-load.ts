// The client load for the scale benchmark, in a process of its own (bench/scale.ts forks it), so
// the server's CPU figures are its own and the clients' JSON parsing does not delay the
// orchestrator. It holds N WebSocket or long-poll clients, sends one tagged message when asked
// and reports when each client saw it. All times are read on this process's clock: the send
// (or the raw broadcast request) and every arrival.
import { setMaxListeners } from "node:events";
import { request } from "./lib.js";
import { WebSocket } from "ws";

const WS_PATH = "/_matrix/client/unstable/org.ganglion.ws/v1/stream";
const FILTER = { room: { timeline: { limit: 20 }, state: { lazy_load_members: true } } };

type Cmd =
  | { cmd: "connect"; kind: "ws" | "poll" | "raw" | "rawpoll"; url: string; tokens: string[]; roomId: string; since?: string; concurrency: number }
  | { cmd: "fanout"; tag: string; url: string; roomId: string; sender: string; timeoutMs: number }
  | { cmd: "close" };

const req = (base: string, method: string, p: string, token?: string, body?: unknown, signal?: AbortSignal) => request(base, method, p, body, token, signal);

/** Arrival times per tag: tag → one time per client that saw it. */
const arrivals = new Map<string, number[]>();
let errors = 0;
const errorSamples: string[] = [];
let frameBytes = 0;
let running = true;
const sockets: WebSocket[] = [];
const polls: Promise<void>[] = [];
const aborter = new AbortController();
setMaxListeners(0, aborter.signal); // one signal for every long-poll's request

function noteError(what: string): void {
  errors++;
  if (errorSamples.length < 5) errorSamples.push(what.slice(0, 200));
}

/** Tags seen in a sync response or frame (Matrix events carry content.tag; raw frames too). */
function seen(text: string, now: number): void {
  // A cheap scan instead of a JSON parse per client: the tag is a unique marker string.
  let i = text.indexOf('"tag":"');
  while (i !== -1) {
    const end = text.indexOf('"', i + 7);
    const tag = text.slice(i + 7, end);
    let list = arrivals.get(tag);
    if (!list) arrivals.set(tag, (list = []));
    list.push(now);
    if (!frameBytes) frameBytes = Buffer.byteLength(text);
    i = text.indexOf('"tag":"', end);
  }
}

async function pool<T>(items: T[], n: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) { const i = next++; await fn(items[i]!, i); }
  }));
}

async function connect(c: Extract<Cmd, { cmd: "connect" }>): Promise<{ connected: number; secs: number }> {
  const t0 = performance.now();
  let connected = 0;
  const filter = encodeURIComponent(JSON.stringify(FILTER));
  await pool(c.tokens, c.concurrency, async (token) => {
    if (c.kind === "rawpoll") {
      // The plain-HTTP baseline: the same loop of requests, each held until the next message.
      connected++;
      polls.push((async () => {
        while (running) {
          try {
            const r = await req(c.url, "GET", "/poll", undefined, undefined, aborter.signal);
            seen(r.text, performance.now());
          } catch (e) {
            if (!running) return;
            noteError(`poll ${(e as Error).message}`);
            await new Promise((x) => setTimeout(x, 500));
          }
        }
      })());
      return;
    }
    if (c.kind === "poll") {
      let since = c.since;
      {
        // Connected once the first sync (initial, or resuming from the token) has been answered.
        const r = await req(c.url, "GET", `/_matrix/client/v3/sync?filter=${filter}&timeout=0${since ? `&since=${since}` : ""}`, token);
        if (r.status !== 200) { noteError(`initial sync ${r.status} ${r.text}`); return; }
        since = JSON.parse(r.text).next_batch as string;
      }
      connected++;
      polls.push((async () => {
        let s = since;
        while (running) {
          try {
            const r = await req(c.url, "GET", `/_matrix/client/v3/sync?since=${s}&timeout=30000&filter=${filter}`, token, undefined, aborter.signal);
            const now = performance.now();
            if (r.status !== 200) { noteError(`sync ${r.status} ${r.text}`); await new Promise((x) => setTimeout(x, 500)); continue; }
            seen(r.text, now);
            s = /"next_batch":"([^"]+)"/.exec(r.text)![1]!;
          } catch (e) {
            if (!running) return;
            noteError(`sync ${(e as Error).message}`);
            await new Promise((x) => setTimeout(x, 500));
          }
        }
      })());
      return;
    }
    const wsUrl = c.url.replace(/^http/, "ws") + (c.kind === "raw" ? "/" : WS_PATH);
    const ws = new WebSocket(wsUrl, c.kind === "raw" ? {} : { headers: { Authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve) => {
      ws.once("open", () => {
        if (c.kind === "raw") { connected++; resolve(); return; }
        ws.send(JSON.stringify({ id: "s", method: "sync", params: { filter: FILTER, ...(c.since ? { since: c.since } : {}) } }));
      });
      ws.once("error", (e) => { noteError(`ws ${e.message}`); resolve(); });
      ws.on("message", (d: Buffer) => {
        const now = performance.now();
        const text = d.toString();
        if (text.startsWith('{"id":"s"')) {
          if (text.includes('"error"')) noteError(`ws sync ${text.slice(0, 200)}`); else connected++;
          resolve();
          return;
        }
        seen(text, now);
      });
      ws.on("close", (code) => { if (running) noteError(`ws closed ${code}`); });
    });
    sockets.push(ws);
  });
  return { connected, secs: (performance.now() - t0) / 1000 };
}

async function fanout(c: Extract<Cmd, { cmd: "fanout" }>, clients: number): Promise<unknown> {
  const t0 = performance.now();
  const r = c.sender === "raw"
    ? await req(c.url, "POST", `/broadcast?tag=${c.tag}`)
    : await req(c.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(c.roomId)}/send/m.room.message/${c.tag}`, c.sender, { msgtype: "m.text", body: "hello everyone", tag: c.tag });
  const sendMs = performance.now() - t0;
  if (r.status !== 200) noteError(`send ${r.status} ${r.text}`);
  const deadline = Date.now() + c.timeoutMs;
  while ((arrivals.get(c.tag)?.length ?? 0) < clients && Date.now() < deadline) await new Promise((x) => setTimeout(x, 10));
  const lat = (arrivals.get(c.tag) ?? []).map((t) => t - t0);
  return { lat, sendMs, errors, errorSamples: errorSamples.splice(0), frameBytes };
}

let clients = 0;
process.on("message", (m: Cmd) => {
  void (async () => {
    try {
      if (m.cmd === "connect") {
        const r = await connect(m);
        clients += r.connected;
        process.send!({ ok: true, ...r, errors, errorSamples: errorSamples.splice(0) });
      } else if (m.cmd === "fanout") {
        process.send!({ ok: true, ...(await fanout(m, clients) as object) });
      } else {
        running = false;
        aborter.abort();
        for (const ws of sockets) ws.terminate();
        await Promise.allSettled(polls);
        process.send!({ ok: true });
        process.exit(0);
      }
    } catch (e) {
      process.send!({ ok: false, error: (e as Error).stack });
    }
  })();
});
