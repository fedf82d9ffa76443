// Application service delivery: latency under a steady send load, and catch-up after an outage.
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { api, fmt, register, startServerProcess, stats } from "./lib.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A minimal application service: notes when each tagged event arrives; can be "down" (503). */
async function fakeAppservice(hsToken: string) {
  const arrived = new Map<string, number>();
  let down = false;
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (c) => (text += c));
    req.on("end", () => {
      if (req.headers.authorization !== `Bearer ${hsToken}`) { res.writeHead(403).end("{}"); return; }
      if (down) { res.writeHead(503).end("{}"); return; }
      if (req.method === "PUT" && req.url?.startsWith("/_matrix/app/v1/transactions/")) {
        const now = performance.now();
        for (const e of (JSON.parse(text).events ?? []) as { content?: { tag?: string } }[]) if (e.content?.tag && !arrived.has(e.content.tag)) arrived.set(e.content.tag, now);
      }
      res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    arrived,
    setDown: (v: boolean) => { down = v; },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

export async function appserviceSection(pgUrl: string, say: (s: string) => void, steady = 500, backlog = 10_000): Promise<void> {
  const as = await fakeAppservice("bench-hs-token");
  const dir = mkdtempSync(path.join(tmpdir(), "ganglion-bench-as-"));
  const reg = path.join(dir, "registration.yaml");
  writeFileSync(reg, [
    "id: benchbridge", `url: ${as.url}`, "as_token: bench-as-token", "hs_token: bench-hs-token", "sender_localpart: benchbridgebot", "rate_limited: false",
    "namespaces:", "  users:", "    - { exclusive: true, regex: '@_bench_.*' }", "  aliases: []", "  rooms: []",
  ].join("\n"));
  const server = await startServerProcess(pgUrl, [`appservices: { registration_files: ["${reg}"] }`]);
  try {
    const asUser = (await api(server.url, "POST", "/_matrix/client/v3/register", { type: "m.login.application_service", username: "_bench_puppet", inhibit_login: true }, "bench-as-token")).user_id;
    const human = await register(server.url, "bench_as_human");
    const room = (await api(server.url, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, human.token)).room_id;
    await api(server.url, "POST", `/_matrix/client/v3/join/${encodeURIComponent(room)}?user_id=${encodeURIComponent(asUser)}`, {}, "bench-as-token");
    const sendTo = (tag: string, token: string) => api(server.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/${tag}`, { msgtype: "m.text", body: "x", tag }, token);

    // Baseline in the same run: one long-poll /sync client of the same room.
    const polled = new Map<string, number>();
    let running = true;
    const poller = (async () => {
      let since = (await api(server.url, "GET", "/_matrix/client/v3/sync?timeout=0", undefined, human.token)).next_batch;
      while (running) {
        const s = await api(server.url, "GET", `/_matrix/client/v3/sync?since=${since}&timeout=5000`, undefined, human.token);
        const now = performance.now();
        since = s.next_batch;
        for (const e of s.rooms?.join?.[room]?.timeline?.events ?? []) if (e.content?.tag && !polled.has(e.content.tag)) polled.set(e.content.tag, now);
      }
    })();
    await sleep(500);
    // Steady load: 50 sends/s.
    const sentAt = new Map<string, number>();
    for (let i = 0; i < steady; i++) {
      const tag = `st${i}`;
      sentAt.set(tag, performance.now());
      await sendTo(tag, human.token);
      await sleep(20);
    }
    await sleep(2000);
    running = false;
    await sendTo("st-end", human.token);
    await poller;
    const lat = (m: Map<string, number>) => stats([...sentAt].filter(([t]) => m.has(t)).map(([t, at]) => m.get(t)! - at));
    const asLat = lat(as.arrived);
    const pollLat = lat(polled);
    say(`## Application service delivery`);
    say(`steady load (${steady} sends at ~50/s): event → application service p50 ${fmt(asLat.p50, 1)} ms, p99 ${fmt(asLat.p99, 1)} ms (${asLat.n} delivered); the same events to a long-poll /sync client: p50 ${fmt(pollLat.p50, 1)} ms, p99 ${fmt(pollLat.p99, 1)} ms`);

    // Catch-up: the service is down while `backlog` events arrive, then comes back.
    as.setDown(true);
    const senders = await Promise.all(Array.from({ length: 10 }, (_, i) => register(server.url, `bench_as_s${i}`)));
    for (const s of senders) await api(server.url, "POST", `/_matrix/client/v3/join/${encodeURIComponent(room)}`, {}, s.token);
    const t0 = performance.now();
    await Promise.all(senders.map(async (s, k) => {
      for (let i = k; i < backlog; i += senders.length) await sendTo(`bk${i}`, s.token);
    }));
    const writeRate = backlog / ((performance.now() - t0) / 1000);
    as.setDown(false);
    const t1 = performance.now();
    await api(server.url, "POST", "/_matrix/client/v1/appservice/benchbridge/ping", {}, "bench-as-token"); // retries the backed-off queue now
    const deadline = Date.now() + 300_000;
    while (![...Array(backlog).keys()].every((i) => as.arrived.has(`bk${i}`)) && Date.now() < deadline) await sleep(20);
    const caught = [...Array(backlog).keys()].filter((i) => as.arrived.has(`bk${i}`)).length;
    const catchRate = caught / ((performance.now() - t1) / 1000);
    say(`catch-up after ${backlog.toLocaleString("en")} events arrived while it was down: ${caught} delivered at ${fmt(catchRate, 0)} events/s (the backlog was written at ${fmt(writeRate, 0)} events/s: catch-up is ${fmt(catchRate / writeRate, 1)}× the write rate)`);
  } finally {
    await server.stop();
    await as.close();
  }
}
