// Full-text search over events.search_vector (GIN). docs/search.md
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId } from "../matrix/ids.js";
import type { Db } from "./db.js";
import type { EventRow } from "./events.js";

export interface SearchParams {
  language: string;
  query: string;
  roomIds: RoomId[];
  /**
   * In the rooms listed here, only events in these stretches of the stream, lo < pos <= hi
   * (what the user may see); rooms not listed are searched whole.
   */
  visible?: { roomId: RoomId; lo: number; hi: number }[];
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

/**
 * The query appears inline (not as a CTE) wherever it is used: the planner then sees the
 * actual tsquery and estimates from the index statistics how many events match, and picks the
 * GIN index for a rare term. Each use binds the language and query again.
 */
function tsq(p: SearchParams, args: unknown[]): string {
  args.push(p.language, p.query);
  return "websearch_to_tsquery(?::regconfig, ?)";
}

function where(p: SearchParams, args: unknown[]): string {
  const w = ["e.room_id = ANY(?::text[])"];
  args.push(p.roomIds);
  if (p.visible?.length) {
    const partial = [...new Set(p.visible.map((v) => v.roomId))];
    w.push("(NOT (e.room_id = ANY(?::text[])) OR EXISTS (SELECT 1 FROM unnest(?::text[], ?::bigint[], ?::bigint[]) v(room, lo, hi) WHERE v.room = e.room_id AND e.pos > v.lo AND e.pos <= v.hi))");
    args.push(partial, p.visible.map((v) => v.roomId), p.visible.map((v) => v.lo), p.visible.map((v) => v.hi));
  }
  w.push(`e.search_vector @@ ${tsq(p, args)}`, "e.search_key = ANY(?::text[])", "e.redacted_by IS NULL");
  args.push(p.keys);
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
    const args: unknown[] = [];
    const cols = () => `e.pos, e.json, e.txn_device, e.txn_id, e.room_id, ts_rank_cd(e.search_vector, ${tsq(p, args)}, 1)::real AS rank`;
    let sql: string;
    if (p.order === "recent") {
      const c = cols();
      const w = where(p, args);
      let keyset = "";
      if (p.after) { keyset = "AND e.pos < ?"; args.push(p.after.pos); }
      // "+ 0" keeps the planner off the position index for a rare term (it would walk the
      // whole room backwards looking for the few matches).
      sql = `SELECT ${c} FROM events e WHERE ${w} ${keyset} ORDER BY e.pos${p.dense ? "" : " + 0"} DESC LIMIT ?`;
    } else {
      const c = cols();
      // A common term: rank its newest RANK_WINDOW matches, read in position order (a subquery
      // with a LIMIT is planned on its own, not turned into a join over every match).
      const source = p.dense ? `(SELECT e.* FROM events e WHERE ${where(p, args)} ORDER BY e.pos DESC LIMIT ${RANK_WINDOW}) e` : "events e";
      const w = p.dense ? "true" : where(p, args);
      let keyset = "";
      if (p.after) { keyset = "WHERE (s.rank, s.pos) < (?::real, ?)"; args.push(p.after.rank, p.after.pos); }
      sql = `SELECT * FROM (SELECT ${c} FROM ${source} WHERE ${w}) s ${keyset} ORDER BY s.rank DESC, s.pos DESC LIMIT ?`;
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
    const args: unknown[] = [];
    const w = where(p, args);
    args.push(cap);
    const res = await trx.raw(`SELECT count(*)::int AS n FROM (SELECT 1 FROM events e WHERE ${w} LIMIT ?) s`, args as never);
    return Number(res.rows[0].n);
  });
}
