// Canonical JSON. https://spec.matrix.org/latest/appendices/#canonical-json
// Keys sorted by code point, no insignificant whitespace, integers only, within ±(2^53 - 1).
import { MatrixError } from "../http/errors.js";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Throws 400 M_BAD_JSON if a value cannot be represented in canonical JSON (floats, big numbers). */
export function assertCanonicalizable(value: unknown, path = "content", depth = 0): void {
  if (depth > 100) throw new MatrixError(400, "M_BAD_JSON", "JSON nested too deeply");
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new MatrixError(400, "M_BAD_JSON", `${path}: floats are not allowed in events`);
    if (value > MAX_SAFE || value < -MAX_SAFE) throw new MatrixError(400, "M_BAD_JSON", `${path}: integer out of range`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => assertCanonicalizable(v, `${path}[${i}]`, depth + 1));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) assertCanonicalizable(v, `${path}.${k}`, depth + 1);
  }
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort(byCodePoint);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}

// JS sorts strings by UTF-16 code unit; canonical JSON wants code points. They differ only for
// astral characters against U+E000..U+FFFF.
function byCodePoint(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca - cb;
    if (ca > 0xffff) i++;
  }
  return a.length - b.length;
}
