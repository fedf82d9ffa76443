// What full-text search indexes and how a query is read (docs/search.md).
//
// Postgres's parser splits words of every script, but in the database's C locale it neither
// lowercases non-ASCII letters nor splits CJK text (which has no spaces) into words. So text is
// NFKC-normalised and lowercased here, and runs of CJK characters are taken out and indexed as
// unigrams and overlapping bigrams ("東京都" → 東 京 都 | 東京 京都), the classic CJK n-gram
// approach: any substring is findable (one character by its unigram, longer ones as a phrase
// of bigrams), with no dictionary and no extension.

// Han, Hiragana, Katakana, Hangul (syllables and jamo), CJK symbols and fullwidth forms.
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]+/gu;
const CJK_ONE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

export const SEARCH_KEYS = ["content.body", "content.name", "content.topic"] as const;
export type SearchKey = (typeof SEARCH_KEYS)[number];

/** The searchable field of an event of this type, or null. */
export function searchKeyOf(type: string): SearchKey | null {
  if (type === "m.room.message") return "content.body";
  if (type === "m.room.name") return "content.name";
  if (type === "m.room.topic") return "content.topic";
  return null;
}

export interface SearchDoc { key: SearchKey; text: string; cjk: string }

const normalise = (s: string) => s.normalize("NFKC").toLowerCase();

const cjkRuns = (s: string): string[] => (s.match(CJK) ?? []).map((r) => [...r].filter((c) => CJK_ONE.test(c)).join("")).filter((r) => r.length > 0);

function bigrams(run: string): string[] {
  const cs = [...run];
  const out: string[] = [];
  for (let i = 0; i + 1 < cs.length; i++) out.push(cs[i]! + cs[i + 1]!);
  return out;
}

/** The text to index for an event's content (null: nothing searchable). Bounded in size. */
export function searchDoc(type: string, content: Record<string, unknown>): SearchDoc | null {
  const key = searchKeyOf(type);
  if (!key) return null;
  const raw = content[key.slice("content.".length)];
  if (typeof raw !== "string" || raw.length === 0) return null;
  const text = normalise(raw.slice(0, 20_000));
  const runs = cjkRuns(text);
  const uni = runs.map((r) => [...r].join(" ")).join(" ");
  const bi = runs.map((r) => bigrams(r).join(" ")).join(" ");
  return { key, text: text.replace(CJK, " "), cjk: [uni, bi].filter(Boolean).join(" | ") };
}

/**
 * A user's query, for websearch_to_tsquery: normalised, with each CJK run made into its
 * bigrams (a quoted phrase, or the single character). Returns the query, the terms to
 * highlight, and how many terms it has (for the cap).
 */
export function searchQuery(q: string): { query: string; highlights: string[]; terms: number } {
  const s = normalise(q);
  let out = "";
  let inQuote = false;
  let last = 0;
  for (const m of s.matchAll(CJK)) {
    const before = s.slice(last, m.index);
    for (const ch of before) if (ch === "\"") inQuote = !inQuote;
    out += before;
    const run = [...m[0]].filter((c) => CJK_ONE.test(c)).join("");
    const grams = [...run].length === 1 ? run : bigrams(run).join(" ");
    out += inQuote || [...run].length === 1 ? ` ${grams} ` : ` "${grams}" `;
    last = m.index! + m[0].length;
  }
  out += s.slice(last);
  const highlights = new Set<string>();
  let terms = 0;
  for (const word of s.replace(/"/g, " ").split(/\s+/)) {
    if (!word || word === "or") continue;
    terms++;
    if (word.startsWith("-")) continue;
    highlights.add(word);
  }
  return { query: out, highlights: [...highlights], terms };
}
