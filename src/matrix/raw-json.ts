// JSON built once and shared: a serialised fragment (an event as every member but its sender
// sees it) embedded in a larger value without being parsed or built again. A sync wake-up
// serialises each new event once, and the text is reused by every user it goes to (DESIGN §6).
import { randomBytes } from "node:crypto";
import type { ClientEvent } from "./events.js";

/** Set while stringifyJson runs: fragments met by JSON.stringify are collected here. */
let collecting: string[] | null = null;
// A placeholder no string of user data can match: it holds a random nonce of this process.
const NONCE = randomBytes(12).toString("hex");
const PLACEHOLDER = new RegExp(`"\\\\u0001${NONCE}:(\\d+)"`, "g");

export class RawJson {
  constructor(readonly json: string) {}
  /**
   * Inside stringifyJson: a placeholder that is swapped for the text afterwards. Anywhere else
   * (a plain JSON.stringify) the parsed value, so the output is right either way.
   */
  toJSON(): unknown {
    if (collecting) return `\u0001${NONCE}:${collecting.push(this.json) - 1}`;
    return JSON.parse(this.json);
  }
}

/** JSON.stringify, with RawJson fragments copied in as they are (native speed for the rest). */
export function stringifyJson(v: unknown): string {
  const outer = collecting;
  const mine: string[] = [];
  collecting = mine;
  let text: string;
  try {
    text = JSON.stringify(v) ?? "null";
  } finally {
    collecting = outer;
  }
  return mine.length ? text.replace(PLACEHOLDER, (_m, i: string) => mine[Number(i)]!) : text;
}

/**
 * The event's JSON with `unsigned.age` as of `now`. The text up to the age is built once per
 * event object and kept beside it; each viewer adds only its age. Key order: unsigned last,
 * age last within it, so the tail is always `<age>}}`.
 */
const heads = new WeakMap<ClientEvent, string>();
export function eventJsonWithAge(ev: ClientEvent, now: number): RawJson {
  return new RawJson(eventTextWithAge(ev, now));
}

/** eventJsonWithAge's text, for callers that assemble a larger text themselves. */
export function eventTextWithAge(ev: ClientEvent, now: number): string {
  let head = heads.get(ev);
  if (head === undefined) {
    const { unsigned, ...rest } = ev;
    const { age: _age, ...u } = (unsigned ?? {}) as Record<string, unknown>;
    const text = JSON.stringify({ ...rest, unsigned: { ...u, age: 0 } });
    head = text.slice(0, text.length - 3); // drop "0}}"
    heads.set(ev, head);
  }
  return `${head}${Math.max(0, now - ev.origin_server_ts)}}}`;
}
