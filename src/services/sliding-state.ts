// A sliding sync connection's last response as bytes, for the other processes (several
// processes on one database: services/sliding-sync.ts). Room configs are written once each
// and referred to by index; the text is deflated (a room list's records repeat a lot).
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { RoomId } from "../matrix/ids.js";
import type { Combined, RoomConfig } from "./sliding-request.js";
import type { RoomSent } from "./sliding-rooms.js";
import type { Snapshot } from "./sliding-sync.js";

interface Stored {
  v: 1;
  nonce: number;
  extensions: Record<string, Record<string, unknown>>;
  subscriptions: [RoomId, RoomConfig][];
  snapshot: { seq: number; pos: number; typing: number; presence: number; lists: [string, number][]; configs: Combined[]; rooms: [RoomId, Omit<RoomSent, "combined" | "members"> & { c: number; m: string[] }][] };
}

export function encodeConnection(c: { nonce: number; extensions: Record<string, Record<string, unknown>>; subscriptions: Map<RoomId, RoomConfig> }, s: Snapshot): Buffer {
  const configs: Combined[] = [];
  const index = new Map<string, number>();
  const rooms: Stored["snapshot"]["rooms"] = [];
  for (const [roomId, r] of s.rooms) {
    const text = JSON.stringify(r.combined);
    let i = index.get(text);
    if (i === undefined) { i = configs.length; configs.push(r.combined); index.set(text, i); }
    const { combined: _c, members, ...rest } = r;
    rooms.push([roomId, { ...rest, c: i, m: [...members] }]);
  }
  const stored: Stored = {
    v: 1, nonce: c.nonce, extensions: c.extensions, subscriptions: [...c.subscriptions],
    snapshot: { seq: s.seq, pos: s.pos, typing: s.typing, presence: s.presence, lists: [...s.listCounts], configs, rooms },
  };
  return deflateRawSync(JSON.stringify(stored), { level: 1 });
}

export function decodeConnection(data: Buffer): { nonce: number; extensions: Record<string, Record<string, unknown>>; subscriptions: Map<RoomId, RoomConfig>; snapshot: Snapshot } | null {
  let d: Stored;
  try { d = JSON.parse(inflateRawSync(data).toString("utf8")) as Stored; } catch { return null; }
  if (d?.v !== 1) return null;
  const s = d.snapshot;
  const rooms = new Map<RoomId, RoomSent>();
  for (const [roomId, r] of s.rooms) {
    const { c, m, ...rest } = r;
    rooms.set(roomId, { ...rest, combined: s.configs[c]!, members: new Set(m) });
  }
  return {
    nonce: d.nonce, extensions: d.extensions, subscriptions: new Map(d.subscriptions),
    snapshot: { seq: s.seq, pos: s.pos, typing: s.typing, presence: s.presence, listCounts: new Map(s.lists), rooms },
  };
}
