// Sync and pagination tokens: the only place they are formatted and parsed (DESIGN §3.7).
// A token names a gap in the stream: "s<P>" means "after position P". Ephemeral streams may
// add their own counters after underscores ("s<P>_<typing>..."); pagination reads only P.
import { MatrixError } from "../http/errors.js";

export interface StreamToken { pos: number; ephemeral: number[] }

export function formatToken(pos: number, ephemeral: number[] = []): string {
  let t = `s${pos}`;
  for (const e of ephemeral) t += `_${e}`;
  return t;
}

/** The last token parsed: every socket a fan-out wakes carries the same next_batch. */
let last: { token: string; parsed: StreamToken } | null = null;

export function parseToken(token: string, name = "token"): StreamToken {
  if (last && last.token === token) return { pos: last.parsed.pos, ephemeral: last.parsed.ephemeral.slice() };
  const parsed = parseFresh(token, name);
  last = { token, parsed: { pos: parsed.pos, ephemeral: parsed.ephemeral.slice() } };
  return parsed;
}

function parseFresh(token: string, name: string): StreamToken {
  const m = /^s(\d{1,16})((?:_\d{1,16})*)$/.exec(token);
  if (!m) throw new MatrixError(400, "M_INVALID_PARAM", `Invalid ${name}`);
  const pos = Number(m[1]);
  const ephemeral = m[2] ? m[2].slice(1).split("_").map(Number) : [];
  if (!Number.isSafeInteger(pos)) throw new MatrixError(400, "M_INVALID_PARAM", `Invalid ${name}`);
  return { pos, ephemeral };
}
