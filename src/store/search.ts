// Full-text search over events.search_vector (GIN). docs/search.md
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId } from "../matrix/ids.js";
import type { Db } from "./db.js";
import type { EventRow } from "./events.js";

export interface SearchParams {
  language: string;
  query: string;
  roomIds: RoomId[];
  keys: string[];
  senders?: string[];
  notSenders?: string[];
  types?: string[];
  notTypes?: string[];
  order: "rank" | "recent";
  /** Keyset: results strictly after this (rank, pos) / pos in the order. */
  after: { rank: number; pos: number } | null;
  limit: number;
  timeoutMs: number;
}

export type SearchRow = EventRow & { rank: number; roomId: RoomId };

function where(p: SearchParams, args: unknown[]): string {
  const w = ["e.room_id = ANY(?::text[])", "e.search_vector @@ q.q", "e.search_key = ANY(?::text[])", "e.redacted_by IS NULL"];
  args.push(p.roomIds, p.keys);
  if (p.senders) { w.push("e.sender = ANY(?::text[])"); args.push(p.senders); }
  if (p.notSenders?.length) { w.push("NOT (e.sender = ANY(?::text[]))"); args.push(p.notSenders); }
  if (p.types) { w.push("e.type LIKE ANY(?::text[])"); args.push(p.types.map(likePattern)); }
  if (p.notTypes?.length) { w.push("NOT (e.type LIKE ANY(?::text[]))"); args.push(p.notTypes.map(likePattern)); }
  return w.join(" AND ");
}

/** Filter type patterns use "*" as a wildcard (spec: filters). */
const likePattern = (t: string) => t.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, "%");

/**
 * One page of matches, in the requested order. Runs under its own statement timeout.
 * `dense` (the term matches many events) picks the plan: a rare term is found through the GIN
 * index and its few matches sorted; a common one is read in position order until the page is
 * full (recent), or ranked among its newest RANK_WINDOW matches only (rank): ranking every one
 * of a hundred thousand matches would take seconds.
 */
export async function searchEvents(db: Db, p: SearchParams & { dense: boolean }): Promise<SearchRow[]> {
  return db.transaction(async (trx) => {
    await trx.raw(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(p.timeoutMs))}`);
    const args: unknown[] = [p.language, p.query];
    const w = where(p, args);
    let sql: string;
    const cols = "e.pos, e.json, e.txn_device, e.txn_id, e.room_id, ts_rank_cd(e.search_vector, q.q, 1)::real AS rank";
    if (p.order === "recent") {
      let keyset = "";
      if (p.after) { keyset = "AND e.pos < ?"; args.push(p.after.pos); }
      // "+ 0" keeps the planner off the position index for a rare term (it would walk the
      // whole room backwards looking for the few matches).
      sql = `WITH q AS (SELECT websearch_to_tsquery(?::regconfig, ?) AS q)
        SELECT ${cols} FROM events e, q WHERE ${w} ${keyset} ORDER BY e.pos${p.dense ? "" : " + 0"} DESC LIMIT ?`;
    } else {
      const window = p.dense ? `AND e.pos IN (SELECT e.pos FROM events e, q WHERE ${w} ORDER BY e.pos DESC LIMIT ${RANK_WINDOW})` : "";
      if (p.dense) args.push(...args.slice(2));
      let keyset = "";
      if (p.after) { keyset = "WHERE (s.rank, s.pos) < (?::real, ?)"; args.push(p.after.rank, p.after.pos); }
      sql = `WITH q AS (SELECT websearch_to_tsquery(?::regconfig, ?) AS q)
        SELECT * FROM (SELECT ${cols} FROM events e, q WHERE ${w} ${window}) s ${keyset}
        ORDER BY s.rank DESC, s.pos DESC LIMIT ?`;
    }
    args.push(p.limit);
    const res = await trx.raw(sql, args as never);
    return res.rows.map((r: { pos: string; json: ClientEvent; txn_device: string | null; txn_id: string | null; room_id: RoomId; rank: number }) => ({
      pos: Number(r.pos), event: r.json, txn: r.txn_device ? { device: r.txn_device, id: r.txn_id! } : null, rank: Number(r.rank), roomId: r.room_id,
    }));
  });
}

/** A term matching more events than this is ranked among its newest this-many matches. */
export const RANK_WINDOW = 10_000;

/** How many events match (up to `cap`: an approximate count, as the spec allows). */
export async function countMatches(db: Db, p: SearchParams, cap: number): Promise<number> {
  return db.transaction(async (trx) => {
    await trx.raw(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(p.timeoutMs))}`);
    const args: unknown[] = [p.language, p.query];
    const w = where(p, args);
    args.push(cap);
    const res = await trx.raw(
      `WITH q AS (SELECT websearch_to_tsquery(?::regconfig, ?) AS q)
       SELECT count(*)::int AS n FROM (SELECT 1 FROM events e, q WHERE ${w} LIMIT ?) s`, args as never);
    return Number(res.rows[0].n);
  });
}
