// Search benchmark: latency over a large generated room history, and what indexing costs a send.
import pg from "pg";
import { searchDoc } from "../src/matrix/search-text.js";
import { api, fmt, register, stats, type ServerProc } from "./lib.js";

const CONSONANTS = "bcdfghjklmnprstvz";
const VOWELS = "aeiou";
const VOCAB = 20_000;

/** Pseudo-words, deterministic: word k is the base-85 spelling of k in consonant-vowel syllables. */
function word(k: number): string {
  let s = "";
  let n = k + 85;
  while (n > 0) {
    s += CONSONANTS[n % 17]! + VOWELS[Math.floor(n / 17) % 5]!;
    n = Math.floor(n / 85);
  }
  return s + "x"; // never an English stop word or stem-collision with another word
}

/** A seeded generator, so runs are comparable. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return ((x >>> 0) % 1_000_000) / 1_000_000;
  };
}

/** Zipf-like (s ≈ 1) rank in [0, n): rank k has probability about 1 / ((k + 1) ln n). */
const zipf = (r: () => number, n: number) => Math.min(n - 1, Math.floor(Math.exp(r() * Math.log(n + 1))) - 1);

const HAN_BASE = 0x4e00;

function message(r: () => number): string {
  if (r() < 0.05) {
    // Some CJK: a run of common Han characters.
    const len = 6 + Math.floor(r() * 20);
    let s = "";
    for (let i = 0; i < len; i++) s += String.fromCodePoint(HAN_BASE + zipf(r, 3000));
    return s;
  }
  const len = 4 + Math.floor(r() * 16);
  const words: string[] = [];
  for (let i = 0; i < len; i++) words.push(word(zipf(r, VOCAB)));
  return words.join(" ");
}

/** Writes `n` generated messages into a room straight into the events table (positions from the stream counter). */
export async function loadHistory(dbUrl: string, roomId: string, sender: string, n: number, language = "english"): Promise<{ secs: number; cjkSample: string }> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  const r = rng(42);
  const t0 = performance.now();
  const BATCH = 5000;
  let cjkSample = "";
  for (let done = 0; done < n; done += BATCH) {
    const m = Math.min(BATCH, n - done);
    const base = Number((await c.query("UPDATE stream_counter SET pos = pos + $1 RETURNING pos - $1 AS base", [m])).rows[0].base);
    const ids: string[] = [], jsons: string[] = [], texts: (string | null)[] = [], cjks: (string | null)[] = [], ts: number[] = [];
    for (let i = 0; i < m; i++) {
      const body = message(r);
      if (!cjkSample && /[\u4e00-\u9fff]{6}/.test(body)) cjkSample = body.slice(2, 5);
      const id = `$bench${base + i + 1}`;
      const t = 1_700_000_000_000 + done + i;
      const doc = searchDoc("m.room.message", { body });
      ids.push(id);
      ts.push(t);
      jsons.push(JSON.stringify({ type: "m.room.message", sender, room_id: roomId, event_id: id, origin_server_ts: t, content: { msgtype: "m.text", body } }));
      texts.push(doc?.text ?? null);
      cjks.push(doc?.cjk ?? null);
    }
    await c.query(
      `INSERT INTO events (pos, event_id, room_id, type, sender, depth, origin_server_ts, json, pdu, search_key, search_vector)
       SELECT $1::bigint + x.i, x.id, $2, 'm.room.message', $3, 1000000 + x.i, x.ts, x.json::jsonb, '{}'::jsonb, 'content.body',
              to_tsvector($4::regconfig, x.text) || to_tsvector('simple', x.cjk)
       FROM unnest($5::int[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[]) AS x(i, id, ts, json, text, cjk)`,
      [base, roomId, sender, language, ids.map((_, i) => i + 1), ids, ts, jsons, texts, cjks]);
  }
  await c.query("ANALYZE events");
  await c.end();
  return { secs: (performance.now() - t0) / 1000, cjkSample };
}

export async function searchLatency(server: ServerProc, token: string, roomId: string, terms: string[], order: "rank" | "recent"): Promise<ReturnType<typeof stats> & { hits: number }> {
  const lat: number[] = [];
  let hits = 0;
  for (const term of terms) {
    const t = performance.now();
    const r = await api(server.url, "POST", "/_matrix/client/v3/search", { search_categories: { room_events: { search_term: term, order_by: order, filter: { rooms: [roomId], limit: 10 } } } }, token);
    lat.push(performance.now() - t);
    hits += r.search_categories.room_events.results.length;
  }
  return { ...stats(lat), hits };
}

export const rareTerms = (n: number) => Array.from({ length: n }, (_, i) => word(12_000 + i * 37));
export const commonTerms = (n: number) => Array.from({ length: n }, (_, i) => word(i % 5));

/** Sequential sends to a fresh room: events/s. */
export async function sendRate(server: ServerProc, name: string, n: number): Promise<number> {
  const u = await register(server.url, name);
  const room = (await api(server.url, "POST", "/_matrix/client/v3/createRoom", {}, u.token)).room_id;
  const r = rng(7);
  for (let i = 0; i < 50; i++) await api(server.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/w${i}`, { msgtype: "m.text", body: message(r) }, u.token);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await api(server.url, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/s${i}`, { msgtype: "m.text", body: message(r) }, u.token);
  return n / ((performance.now() - t0) / 1000);
}

export { fmt };
