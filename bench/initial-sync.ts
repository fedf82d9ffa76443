// Initial /sync of a large account: one user in 50, 200 and 1,000 rooms (about 10 members and
// 20 messages each), with timeline limits 1 and 20 and lazy-loaded members. Time, server CPU and
// bytes per initial sync, on a fresh server process (nothing of the rooms in memory: the first
// sync) and again once the rooms are loaded. `npm run bench -- initial-sync` runs it alone.
import { api, cpuMs, fmt, register, request, startServerProcess, type ServerProc } from "./lib.js";

const ROOMS = Number(process.env.BENCH_SYNC_ROOMS ?? 1000);
const SIZES = [50, 200, ROOMS].filter((n, i, a) => n <= ROOMS && a.indexOf(n) === i);

async function pool<T>(items: T[], n: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) { const i = next++; await fn(items[i]!, i); }
  }));
}

async function timedSync(server: ServerProc, token: string, limit: number): Promise<{ ms: number; cpu: number; bytes: number; rooms: number }> {
  const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit }, state: { lazy_load_members: true } } }));
  const c0 = cpuMs(server.child.pid!);
  const t0 = performance.now();
  const r = await request(server.url, "GET", `/_matrix/client/v3/sync?filter=${filter}&timeout=0`, undefined, token);
  const ms = performance.now() - t0;
  if (r.status !== 200) throw new Error(`sync ${r.status} ${r.text.slice(0, 200)}`);
  return { ms, cpu: cpuMs(server.child.pid!) - c0, bytes: Buffer.byteLength(r.text), rooms: Object.keys(JSON.parse(r.text).rooms.join).length };
}

export async function initialSyncSection(pgUrl: string, say: (s: string) => void): Promise<void> {
  let server = await startServerProcess(pgUrl);
  try {
    const t0 = performance.now();
    const owner = await register(server.url, "is_owner");
    const fillers = await Promise.all(Array.from({ length: 6 }, (_, i) => register(server.url, `is_fill${i}`)));
    const members = await Promise.all(SIZES.map((n) => register(server.url, `is_user${n}`)));
    const rooms: string[] = [];
    await pool(Array.from({ length: ROOMS }, (_, i) => i), 10, async (i) => {
      rooms[i] = (await api(server.url, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat", name: `Room ${i}` }, owner.token)).room_id;
    });
    const joins: [string, string][] = [];
    for (let i = 0; i < ROOMS; i++) {
      for (const f of fillers) joins.push([rooms[i]!, f.token]);
      SIZES.forEach((n, k) => { if (i < n) joins.push([rooms[i]!, members[k]!.token]); });
    }
    await pool(joins, 20, async ([room, token]) => { await api(server.url, "POST", `/_matrix/client/v3/join/${encodeURIComponent(room)}`, {}, token); });
    const senders = [owner, ...fillers];
    const sends = Array.from({ length: ROOMS * 20 }, (_, i) => i);
    await pool(sends, 20, async (i) => {
      const room = rooms[i % ROOMS]!;
      const s = senders[i % senders.length]!;
      await api(server.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/is${i}`, { msgtype: "m.text", body: `message ${i} in a room with some ordinary words` }, s.token);
    });
    say(`## Initial sync of a large account (rooms of ~10 members, 20 messages each, lazy-loaded members)`);
    say(`set-up through the API: ${ROOMS} rooms, ${joins.length} joins, ${sends.length} messages in ${fmt((performance.now() - t0) / 1000, 0)} s`);
    // A fresh process: the first initial sync finds no room in memory.
    await server.stop();
    server = await startServerProcess(pgUrl);
    for (const [k, n] of SIZES.entries()) {
      const cold = await timedSync(server, members[k]!.token, 1);
      const parts = [`first (rooms loaded from the database) ${fmt(cold.ms, 0)} ms, ${fmt(cold.cpu, 0)} ms server CPU`];
      for (const limit of [1, 20]) {
        const warm: Awaited<ReturnType<typeof timedSync>>[] = [];
        for (let i = 0; i < 3; i++) warm.push(await timedSync(server, members[k]!.token, limit));
        const w = warm.sort((a, b) => a.ms - b.ms)[1]!;
        parts.push(`timeline ${limit}: ${fmt(w.ms, 0)} ms, ${fmt(w.cpu, 0)} ms CPU (${fmt(w.cpu / n, 2)} per room), ${fmt(w.bytes / 1024, 0)} KiB, ${w.rooms} rooms`);
      }
      say(`${String(n).padStart(4)} rooms: ${parts.join("; ")}`);
    }
  } finally {
    await server.stop();
  }
}
