// Push rule evaluation. https://spec.matrix.org/latest/client-server-api/#push-rules
// Pure: given a user's rule set, an event and the room facts the conditions need, what should
// happen (notify? highlight?). Used for unread counts now, and pushers later.

export interface PushRule {
  rule_id: string;
  enabled?: boolean;
  default?: boolean;
  conditions?: Record<string, unknown>[];
  pattern?: string;
  actions: unknown[];
}

export type RuleSet = Partial<Record<"override" | "content" | "room" | "sender" | "underride", PushRule[]>>;

export interface PushContext {
  userId: string;
  /** The user's display name in the room (contains_display_name). */
  displayName: string | null;
  /** Joined members (room_member_count). */
  memberCount: number;
  /** Power level of the sender, and the room's `notifications` levels. */
  senderPower: number;
  notificationLevels: Record<string, unknown>;
}

export interface PushOutcome {
  notify: boolean;
  highlight: boolean;
  /** The matched rule's actions with tweaks (for pushers), historical actions stripped. */
  actions: unknown[];
}

const LEGACY_MENTION_RULES = new Set([".m.rule.contains_display_name", ".m.rule.roomnotif", ".m.rule.contains_user_name"]);
const hasMentions = (event: Record<string, unknown>): boolean => {
  const c = event.content as Record<string, unknown> | undefined;
  return !!c && typeof c === "object" && c["m.mentions"] !== undefined;
};

const NOTHING: PushOutcome = { notify: false, highlight: false, actions: [] };
const KINDS = ["override", "content", "room", "sender", "underride"] as const;

export function evaluatePushRules(rules: RuleSet, event: Record<string, unknown>, ctx: PushContext): PushOutcome {
  for (const kind of KINDS) {
    for (const rule of rules[kind] ?? []) {
      if (rule.enabled === false) continue;
      // The deprecated mention rules step aside for events that say whom they mention
      // (m.mentions, spec v1.7 intentional mentions).
      if (LEGACY_MENTION_RULES.has(rule.rule_id) && hasMentions(event)) continue;
      if (!ruleMatches(kind, rule, event, ctx)) continue;
      const actions = (rule.actions ?? []).filter((a) => a !== "dont_notify" && a !== "coalesce");
      const notify = actions.includes("notify");
      const hl = actions.find((a): a is { set_tweak: string; value?: unknown } => typeof a === "object" && a !== null && (a as { set_tweak?: unknown }).set_tweak === "highlight");
      return { notify, highlight: notify && hl !== undefined && hl.value !== false, actions };
    }
  }
  return NOTHING;
}

function ruleMatches(kind: (typeof KINDS)[number], rule: PushRule, event: Record<string, unknown>, ctx: PushContext): boolean {
  switch (kind) {
    case "room": return event.room_id === rule.rule_id;
    case "sender": return event.sender === rule.rule_id;
    case "content": {
      const body = lookup(event, BODY);
      return typeof body === "string" && typeof rule.pattern === "string" && globMatch(rule.pattern, body, true, rule);
    }
    default: {
      for (const c of rule.conditions ?? []) if (!memoMatches(c, event, ctx)) return false;
      return true;
    }
  }
}

/**
 * Condition outcomes kept per event, for the conditions the default rules share (frozen
 * objects, push-rules-default.ts; a user's own conditions are evaluated each time). Every
 * condition but contains_display_name depends only on the event and the room's facts (member
 * count, the sender's power, the notification levels): one event counted for a room of
 * thousands, or every member's recount over the same events, tests them once. Kept beside
 * the event object (gone with it); different room facts start afresh.
 */
interface Memo { memberCount: number; senderPower: number; levels: object; results: WeakMap<object, boolean> }
const memos = new WeakMap<object, Memo>();

function memoMatches(c: Record<string, unknown>, event: Record<string, unknown>, ctx: PushContext): boolean {
  if (c.kind === "contains_display_name" || !Object.isFrozen(c)) return conditionMatches(c, event, ctx);
  let m = memos.get(event);
  if (!m || m.memberCount !== ctx.memberCount || m.senderPower !== ctx.senderPower || m.levels !== ctx.notificationLevels) {
    m = { memberCount: ctx.memberCount, senderPower: ctx.senderPower, levels: ctx.notificationLevels, results: new WeakMap() };
    memos.set(event, m);
  }
  let r = m.results.get(c);
  if (r === undefined) m.results.set(c, (r = conditionMatches(c, event, ctx)));
  return r;
}

function conditionMatches(c: Record<string, unknown>, event: Record<string, unknown>, ctx: PushContext): boolean {
  switch (c.kind) {
    case "event_match": {
      if (typeof c.key !== "string" || typeof c.pattern !== "string") return false;
      const v = lookup(event, pathOf(c.key));
      return typeof v === "string" && globMatch(c.pattern, v, c.key === "content.body", c);
    }
    case "event_property_is": {
      if (typeof c.key !== "string") return false;
      const v = lookup(event, pathOf(c.key));
      return isScalar(v) && v === c.value;
    }
    case "event_property_contains": {
      if (typeof c.key !== "string") return false;
      const v = lookup(event, pathOf(c.key));
      return Array.isArray(v) && v.some((x) => isScalar(x) && x === c.value);
    }
    case "contains_display_name": {
      const body = lookup(event, BODY);
      if (typeof body !== "string" || !ctx.displayName) return false;
      const v = lowerAscii(body);
      if (v !== null && LITERAL_ASCII.test(ctx.displayName)) return literalMatch(ctx.displayName.toLowerCase(), v, true);
      return globMatch(escapeGlob(ctx.displayName), body, true);
    }
    case "room_member_count": {
      const m = typeof c.is === "string" ? /^(==|<=|>=|<|>)?([0-9]+)$/.exec(c.is) : null;
      if (!m) return false;
      const n = Number(m[2]);
      const count = ctx.memberCount;
      switch (m[1] ?? "==") {
        case "==": return count === n;
        case "<": return count < n;
        case ">": return count > n;
        case "<=": return count <= n;
        default: return count >= n;
      }
    }
    case "sender_notification_permission": {
      if (typeof c.key !== "string") return false;
      const needed = ctx.notificationLevels[c.key];
      const level = typeof needed === "number" ? needed : 50; // the spec's default for notifications.room
      return ctx.senderPower >= level;
    }
    default:
      return false; // unrecognised conditions never match (spec)
  }
}

const isScalar = (v: unknown) => v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isInteger(v));

/** Dot-separated property path; `\.` is a literal dot and `\\` a backslash (appendices). */
export function splitPath(key: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < key.length; i++) {
    const ch = key[i]!;
    if (ch === "\\" && (key[i + 1] === "." || key[i + 1] === "\\")) {
      cur += key[++i];
    } else if (ch === ".") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** splitPath, remembered: rules are evaluated for every member on every event. */
const paths = new Map<string, string[]>();
function pathOf(key: string): string[] {
  let p = paths.get(key);
  if (!p) {
    if (paths.size > 10_000) paths.clear();
    paths.set(key, (p = splitPath(key)));
  }
  return p;
}

const BODY = ["content", "body"];

function lookup(event: Record<string, unknown>, path: string[]): unknown {
  let v: unknown = event;
  for (const p of path) {
    if (!v || typeof v !== "object" || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, p)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

const escapeGlob = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

const globCache = { w: new Map<string, RegExp>(), f: new Map<string, RegExp>() };
/**
 * Glob (`*`, `?`) matched case-insensitively against the whole value or, for `content.body`,
 * any substring that starts and ends at a word boundary (non-[A-Za-z0-9_] or the ends).
 */
export function globMatch(pattern: string, value: string, words: boolean, holder?: object): boolean {
  const lit = literalOf(pattern, holder);
  if (lit !== null) {
    const v = lowerAscii(value);
    if (v !== null) return literalMatch(lit, v, words);
  }
  const cache = words ? globCache.w : globCache.f;
  let re = cache.get(pattern);
  if (!re) {
    let src = "";
    for (let i = 0; i < pattern.length; i++) {
      const ch = pattern[i]!;
      if (ch === "\\" && i + 1 < pattern.length) src += escapeRe(pattern[++i]!);
      else if (ch === "*") src += "[\\s\\S]*";
      else if (ch === "?") src += "[\\s\\S]";
      else src += escapeRe(ch);
    }
    re = words ? new RegExp(`(?:^|(?<=[^A-Za-z0-9_]))${src}(?=[^A-Za-z0-9_]|$)`, "iu") : new RegExp(`^${src}$`, "iu");
    if (cache.size > 10_000) cache.clear();
    cache.set(pattern, re);
  }
  return re.test(value);
}

/**
 * The common case without a regular expression: a pattern with no glob or escape (most rules,
 * and most display names and user names) against an ASCII value, where lower-casing is
 * exactly the case-insensitive match. Each member's display name would otherwise compile a
 * regular expression of its own the first time a message is counted for them.
 */
const LITERAL_ASCII = /^[\x20-\x29\x2b-\x3e\x40-\x5b\x5d-\x7e]*$/; // printable ASCII but * ? \\
const NON_ASCII = /[^\x00-\x7f]/;
const wordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

function literalMatch(p: string, v: string, words: boolean): boolean {
  if (!words) return p === v;
  for (let i = v.indexOf(p); i !== -1; i = i < v.length ? v.indexOf(p, i + 1) : -1) {
    if ((i === 0 || !wordChar(v.charCodeAt(i - 1))) && (i + p.length === v.length || !wordChar(v.charCodeAt(i + p.length)))) return true;
  }
  return false;
}

/**
 * A pattern's lower-cased text when it is literal ASCII, else null: kept beside the rule or
 * condition that holds it (a user's rule set lives as long as it is cached), else by pattern.
 */
const literals = new Map<string, string | null>();
const heldLiterals = new WeakMap<object, { pattern: string; lit: string | null }>();
function literalOf(pattern: string, holder?: object): string | null {
  if (holder) {
    const h = heldLiterals.get(holder);
    if (h && h.pattern === pattern) return h.lit;
    const lit = LITERAL_ASCII.test(pattern) ? pattern.toLowerCase() : null;
    heldLiterals.set(holder, { pattern, lit });
    return lit;
  }
  let l = literals.get(pattern);
  if (l === undefined) {
    l = LITERAL_ASCII.test(pattern) ? pattern.toLowerCase() : null;
    if (literals.size > 10_000) literals.clear();
    literals.set(pattern, l);
  }
  return l;
}

/**
 * The value lower-cased if it is ASCII, else null. Remembered for a few values: every
 * member's rules look at the same event's type, msgtype and body in turn.
 */
const lowered = new Map<string, string | null>();
function lowerAscii(v: string): string | null {
  let l = lowered.get(v);
  if (l === undefined) {
    l = NON_ASCII.test(v) ? null : v.toLowerCase();
    if (lowered.size >= 64) lowered.clear();
    lowered.set(v, l);
  }
  return l;
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
