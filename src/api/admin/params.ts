// Query parameters the admin API shares: paging (`from`, `limit`), booleans, `dir`.
import { invalidParam } from "../../http/errors.js";

/** "true" or "false" (absent: `dflt`); anything else 400 M_INVALID_PARAM. */
export function boolParam(v: string | undefined, dflt: boolean | null = null): boolean | null {
  if (v === undefined) return dflt;
  if (v === "true") return true;
  if (v === "false") return false;
  throw invalidParam("Boolean query parameters must be 'true' or 'false'");
}

/** `from` (0) and `limit` (100, at most 1000), non-negative integers. */
export function paging(q: Record<string, string | undefined>, dfltLimit = 100): { from: number; limit: number } {
  const from = q.from === undefined ? 0 : Number(q.from);
  const limit = q.limit === undefined ? dfltLimit : Number(q.limit);
  if (!Number.isSafeInteger(from) || from < 0) throw invalidParam("from must be a non-negative integer");
  if (!Number.isSafeInteger(limit) || limit < 0) throw invalidParam("limit must be a non-negative integer");
  return { from, limit: Math.min(limit, 1000) };
}

/** `dir`: "f" or "b" (absent: `dflt`). */
export function direction(v: string | undefined, dflt: "f" | "b"): "f" | "b" {
  const d = v ?? dflt;
  if (d !== "f" && d !== "b") throw invalidParam("dir must be 'f' or 'b'");
  return d;
}
