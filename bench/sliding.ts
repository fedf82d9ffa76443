// Simplified sliding sync against /sync for one user in 100, 1,000 and 10,000 rooms: the first
// response for a 20-room window (as Element X asks for it) beside the full initial /sync of
// the same account (time, server CPU, bytes), on a fresh process and once warm; then the
// wake-up for one new message, sliding sync beside a /sync long-poll. `npm run bench -- sliding`.
import { api, cpuMs, fmt, register, request, startServerProcess, stats, type ServerProc } from "./lib.js";

const ROOMS = Number(process.env.BENCH_SLIDING_ROOMS ?? 10_000);
const SIZES = (process.env.BENCH_SLIDING_SIZES?.split(",").map(Number) ?? [100, 1000, ROOMS]).filter((n, i, a) => n <= ROOMS && a.indexOf(n) === i);
const WAKES = Number(process.env.BENCH_SLIDING_WAKES ?? 15);
const SS = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

async function pool<T>(items: T[], n: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) { const i = next++; await fn(items[i]!, i); }
  }));
}

/** What Element X asks for first: the top 20 rooms, one event each, the state a room list shows. */
const windowBody = (connId: string) => ({
  conn_id: connId,
  lists: {
    all_rooms: {
      ranges: [[0, 19]], timeline_limit: 1,
      required_state: [["m.room.name", ""], ["m.room.avatar", ""], ["m.room.encryption", ""], ["m.room.create", ""], ["m.room.member", "$LAZY"], ["m.room.member", "$ME"]],
    },
  },
  extensions: { e2ee: { enabled: true }, to_device: { enabled: true }, account_data: { enabled: true }, receipts: { enabled: true }, typing: { enabled: true } },
});

interface Timed { ms: number; cpu: number; bytes: number; body: any }

async function timed(server: ServerProc, method: string, path: string, body: unknown, token: string): Promise<Timed> {
  const c0 = cpuMs(server.child.pid!);
  const t0 = performance.now();
  const r = await request(server.url, method, path, body, token);
  const ms = performance.now() - t0;
  if (r.status !== 200) throw new Error(`${path} ${r.status} ${r.text.slice(0, 200)}`);
  return { ms, cpu: cpuMs(server.child.pid!) - c0, bytes: Buffer.byteLength(r.text), body: JSON.parse(r.text) };
}

const fullSync = (server: ServerProc, token: string) =>
  timed(server, "GET", `/_matrix/client/v3/sync?timeout=0&filter=${encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1 }, state: { lazy_load_members: true } } }))}`, undefined, token);

const median = <T extends { ms: number }>(xs: T[]): T => [...xs].sort((a, b) => a.ms - b.ms)[Math.floor(xs.length / 2)]!;

/** Send → the waiting request's answer, WAKES times; ms after the send's 200, and server CPU per send + wake-up. */
async function wakeUps(server: ServerProc, sender: string, roomId: string, wait: (signal: AbortSignal) => Promise<void>, prime: () => Promise<void>): Promise<{ lat: ReturnType<typeof stats>; cpu: number }> {
  const lat: number[] = [];
  let cpu = 0;
  for (let i = 0; i < WAKES; i++) {
    await prime();
    const ac = new AbortController();
    const waiting = wait(ac.signal);
    await new Promise((r) => setTimeout(r, 30));
    const c0 = cpuMs(server.child.pid!);
    await api(server.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/wake${Date.now()}-${i}`, { msgtype: "m.text", body: `wake ${i}` }, sender);
    const sent = performance.now();
    await waiting;
    lat.push(performance.now() - sent);
    cpu += cpuMs(server.child.pid!) - c0;
  }
  return { lat: stats(lat), cpu: cpu / WAKES };
}

export async function slidingSection(pgUrl: string, say: (s: string) => void): Promise<void> {
  let server = await startServerProcess(pgUrl);
  try {
    const t0 = performance.now();
    const owner = await register(server.url, "ss_owner");
    const users = new Map<number, { token: string }>();
    for (const n of SIZES) users.set(n, n === ROOMS ? owner : await register(server.url, `ss_user${n}`));
    const rooms: string[] = [];
    await pool(Array.from({ length: ROOMS }, (_, i) => i), 16, async (i) => {
      rooms[i] = (await api(server.url, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat", name: `Room ${i}` }, owner.token)).room_id;
    });
    const joins: [string, string][] = [];
    for (const n of SIZES) if (n !== ROOMS) for (let i = 0; i < n; i++) joins.push([rooms[i]!, users.get(n)!.token]);
    await pool(joins, 16, async ([room, token]) => { await api(server.url, "POST", `/_matrix/client/v3/join/${encodeURIComponent(room)}`, {}, token); });
    await pool(rooms, 16, async (room, i) => {
      await api(server.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/ss${i}`, { msgtype: "m.text", body: `hello in room ${i}` }, owner.token);
    });
    say(`## Sliding sync (MSC4186) against /sync: one user in ${SIZES.join(", ")} rooms`);
    say(`set-up through the API: ${ROOMS} rooms, ${joins.length} joins, ${ROOMS} messages in ${fmt((performance.now() - t0) / 1000, 0)} s; window: the top 20 rooms, timeline 1, name/avatar/encryption/create and lazy members, five extensions; /sync: timeline 1, lazy members`);
    const rtt: number[] = [];
    for (let i = 0; i < 200; i++) { const s = performance.now(); await request(server.url, "GET", "/_matrix/client/versions"); rtt.push(performance.now() - s); }
    say(`baseline, same run: HTTP round trip (GET /versions) p50 ${fmt(stats(rtt).p50, 2)} ms`);

    // A fresh process: nothing of the rooms in memory.
    await server.stop();
    server = await startServerProcess(pgUrl);
    for (const n of SIZES) {
      const token = users.get(n)!.token;
      const cold = await timed(server, "POST", SS, windowBody("cold"), token);
      const warms: Timed[] = [];
      for (let i = 0; i < 3; i++) warms.push(await timed(server, "POST", SS, windowBody(`warm${i}`), token));
      const warm = median(warms);
      const full = await fullSync(server, token);
      const fullWarm = await fullSync(server, token);
      say(`${String(n).padStart(5)} rooms: first window (fresh process) ${fmt(cold.ms, 0)} ms, ${fmt(cold.cpu, 0)} ms CPU, ${fmt(cold.bytes / 1024, 1)} KiB; `
        + `warm ${fmt(warm.ms, 1)} ms, ${fmt(warm.cpu, 1)} ms CPU, ${fmt(warm.bytes / 1024, 1)} KiB, ${Object.keys(warm.body.rooms).length} rooms of count ${warm.body.lists.all_rooms.count} | `
        + `full /sync: first ${fmt(full.ms, 0)} ms, ${fmt(full.cpu, 0)} ms CPU; warm ${fmt(fullWarm.ms, 0)} ms, ${fmt(fullWarm.cpu, 0)} ms CPU, ${fmt(fullWarm.bytes / 1024, 0)} KiB`);

      // Wake-ups: a message in one of the user's rooms (the 50th: outside the window until it moves in).
      const room = rooms[Math.min(50, n - 1)]!;
      const start = (await timed(server, "POST", SS, windowBody("wake"), token)).body;
      let pos = start.pos as string;
      let toDevice = start.extensions.to_device.next_batch as string;
      const ssWake = await wakeUps(server, owner.token, room, async (signal) => {
        for (;;) {
          // As a client sends it: the lists again, and to_device's since.
          const body = { ...windowBody("wake"), extensions: { to_device: { since: toDevice } } };
          const r = await request(server.url, "POST", `${SS}?pos=${encodeURIComponent(pos)}&timeout=30000`, body, token, signal);
          const b = JSON.parse(r.text);
          if (r.status !== 200) throw new Error(`sliding sync ${r.status} ${r.text.slice(0, 200)}`);
          pos = b.pos;
          toDevice = b.extensions.to_device.next_batch;
          if (b.rooms?.[room]) return;
        }
      }, async () => undefined);
      let since = fullWarm.body.next_batch as string;
      const syncWake = await wakeUps(server, owner.token, room, async (signal) => {
        for (;;) {
          const r = await request(server.url, "GET", `/_matrix/client/v3/sync?since=${encodeURIComponent(since)}&timeout=30000&filter=${encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1 }, state: { lazy_load_members: true } } }))}`, undefined, token, signal);
          const b = JSON.parse(r.text);
          since = b.next_batch;
          if (b.rooms?.join?.[room]) return;
        }
      }, async () => undefined);
      say(`${String(n).padStart(5)} rooms, wake-up for one message (ms after the send's 200; server CPU per send + wake-up): sliding sync p50 ${fmt(ssWake.lat.p50, 1)} p95 ${fmt(ssWake.lat.p95, 1)} ms, ${fmt(ssWake.cpu, 2)} ms CPU | /sync p50 ${fmt(syncWake.lat.p50, 1)} p95 ${fmt(syncWake.lat.p95, 1)} ms, ${fmt(syncWake.cpu, 2)} ms CPU`);
    }
  } finally {
    await server.stop();
  }
}
