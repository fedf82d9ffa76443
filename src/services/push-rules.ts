// Push rules: the user's rule set (server defaults plus their own rules and changes).
// https://spec.matrix.org/latest/client-server-api/#push-rules-api
//
// The whole rule set is kept as the user's `m.push_rules` account data, which is what clients
// read in /sync. On every read it is laid over the current server defaults: a default rule
// keeps the user's `enabled` and `actions`, the user's own rules keep their order, so a newer
// server's defaults reach existing users.
import { MatrixError, notFound } from "../http/errors.js";
import type { UserId } from "../matrix/ids.js";
import type { PushRule } from "../matrix/push-rules.js";
import { defaultPushRules } from "../matrix/push-rules-default.js";
import type { AccountDataService } from "./account-data.js";
import type { Notifier } from "./notifier.js";
import { LoadCache } from "./load-cache.js";

export const KINDS = ["override", "content", "room", "sender", "underride"] as const;
export type Kind = (typeof KINDS)[number];

type FullSet = Record<Kind, PushRule[]>;

export class PushRuleService {
  private readonly cache = new LoadCache<UserId, FullSet>(50_000);

  constructor(private readonly accountData: AccountDataService, notifier: Notifier) {
    // A change of the rules here or in another process.
    notifier.onAccountData((userId, type) => { if (type === "m.push_rules") this.cache.delete(userId); });
  }

  /** The user's rule set if in memory. */
  peek(userId: UserId): FullSet | undefined {
    return this.cache.peek(userId);
  }

  /** The user's rule set, in evaluation order. */
  async get(userId: UserId): Promise<FullSet> {
    return this.cache.get(userId, async () => {
      const stored = await this.accountData.get(userId, "", "m.push_rules").catch(() => null);
      return merge(defaultPushRules(userId) as unknown as FullSet, (stored?.global ?? null) as Partial<FullSet> | null);
    });
  }

  async rule(userId: UserId, kind: string, ruleId: string): Promise<PushRule> {
    const k = checkKind(kind);
    const r = (await this.get(userId))[k].find((x) => x.rule_id === ruleId);
    if (!r) throw notFound("No such push rule");
    return r;
  }

  /** PUT /pushrules/global/{kind}/{ruleId} (with before/after). */
  put(userId: UserId, kind: string, ruleId: string, body: { actions: unknown[]; conditions?: Record<string, unknown>[]; pattern?: string }, before?: string, after?: string): Promise<void> {
    return this.serial(userId, () => this.putNow(userId, kind, ruleId, body, before, after));
  }

  private async putNow(userId: UserId, kind: string, ruleId: string, body: { actions: unknown[]; conditions?: Record<string, unknown>[]; pattern?: string }, before?: string, after?: string): Promise<void> {
    const k = checkKind(kind);
    if (ruleId.startsWith(".")) throw new MatrixError(400, "M_INVALID_PARAM", "Rule IDs starting with '.' are reserved for server-default rules");
    if (k === "content" && typeof body.pattern !== "string") throw new MatrixError(400, "M_MISSING_PARAM", "A content rule needs a pattern");
    checkActions(body.actions);
    const set = structuredClone(await this.get(userId));
    const list = set[k];
    const rule: PushRule = {
      rule_id: ruleId, default: false, enabled: true, actions: body.actions,
      ...(k === "override" || k === "underride" ? { conditions: body.conditions ?? [] } : {}),
      ...(k === "content" ? { pattern: body.pattern } : {}),
    };
    const existing = list.findIndex((r) => r.rule_id === ruleId && !r.default);
    if (existing >= 0) list.splice(existing, 1);
    const anchor = before ?? after;
    if (anchor !== undefined) {
      const i = list.findIndex((r) => r.rule_id === anchor && !r.default);
      if (i < 0) throw notFound(`No user-defined ${k} rule ${anchor}`);
      list.splice(before !== undefined ? i : i + 1, 0, rule);
    } else if (existing >= 0) {
      list.splice(existing, 0, rule);
    } else {
      // New rules go first among the user's rules of their kind (spec: highest priority).
      const firstUser = list.findIndex((r) => !r.default && r.rule_id !== ".m.rule.master");
      const afterMaster = k === "override" && list[0]?.rule_id === ".m.rule.master" ? 1 : 0;
      list.splice(firstUser >= 0 ? firstUser : afterMaster, 0, rule);
    }
    await this.save(userId, set);
  }

  delete(userId: UserId, kind: string, ruleId: string): Promise<void> {
    return this.serial(userId, () => this.deleteNow(userId, kind, ruleId));
  }

  private async deleteNow(userId: UserId, kind: string, ruleId: string): Promise<void> {
    const k = checkKind(kind);
    const set = structuredClone(await this.get(userId));
    const i = set[k].findIndex((r) => r.rule_id === ruleId);
    if (i < 0) throw notFound("No such push rule");
    if (set[k][i]!.default) throw new MatrixError(400, "M_INVALID_PARAM", "Server-default rules cannot be deleted");
    set[k].splice(i, 1);
    await this.save(userId, set);
  }

  async setEnabled(userId: UserId, kind: string, ruleId: string, enabled: boolean): Promise<void> {
    await this.modify(userId, kind, ruleId, (r) => { r.enabled = enabled; });
  }

  async setActions(userId: UserId, kind: string, ruleId: string, actions: unknown[]): Promise<void> {
    checkActions(actions);
    await this.modify(userId, kind, ruleId, (r) => { r.actions = actions; });
  }

  private modify(userId: UserId, kind: string, ruleId: string, f: (r: PushRule) => void): Promise<void> {
    return this.serial(userId, () => this.modifyNow(userId, kind, ruleId, f));
  }

  /**
   * A user's rule changes one after another in this process: each reads the set, changes it and
   * writes it whole, so two at once would lose one.
   */
  private readonly chains = new Map<UserId, Promise<void>>();

  private serial<T>(userId: UserId, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(userId) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.then(() => undefined, () => undefined);
    this.chains.set(userId, tail);
    void tail.then(() => { if (this.chains.get(userId) === tail) this.chains.delete(userId); });
    return run;
  }

  private async modifyNow(userId: UserId, kind: string, ruleId: string, f: (r: PushRule) => void): Promise<void> {
    const k = checkKind(kind);
    const set = structuredClone(await this.get(userId));
    const r = set[k].find((x) => x.rule_id === ruleId);
    if (!r) throw notFound("No such push rule");
    f(r);
    await this.save(userId, set);
  }

  private async save(userId: UserId, set: FullSet): Promise<void> {
    await this.accountData.set(userId, "", "m.push_rules", { global: set }, true);
    this.cache.set(userId, set);
  }
}

function checkKind(kind: string): Kind {
  if (!(KINDS as readonly string[]).includes(kind)) throw new MatrixError(400, "M_INVALID_PARAM", `Unknown rule kind ${kind}`);
  return kind as Kind;
}

/** Actions: "notify", or tweaks {set_tweak, value?}; the historical ones are accepted and ignored. */
function checkActions(actions: unknown): void {
  if (!Array.isArray(actions)) throw new MatrixError(400, "M_BAD_JSON", "actions must be a list");
  for (const a of actions) {
    if (typeof a === "string" && ["notify", "dont_notify", "coalesce"].includes(a)) continue;
    if (a && typeof a === "object" && typeof (a as { set_tweak?: unknown }).set_tweak === "string") continue;
    throw new MatrixError(400, "M_BAD_JSON", `Unknown action ${JSON.stringify(a)}`);
  }
}

/** Lays the stored rule set over the current defaults (see the top of the file). */
function merge(defaults: FullSet, stored: Partial<FullSet> | null): FullSet {
  const out = {} as FullSet;
  for (const k of KINDS) {
    const defs = defaults[k] ?? [];
    const mine = Array.isArray(stored?.[k]) ? stored![k]! : [];
    const storedDefault = new Map(mine.filter((r) => r?.default).map((r) => [r.rule_id, r]));
    const laid = defs.map((d) => {
      const s = storedDefault.get(d.rule_id);
      return s ? { ...d, enabled: s.enabled ?? d.enabled, actions: Array.isArray(s.actions) ? s.actions : d.actions } : d;
    });
    const user = mine.filter((r) => r && !r.default && typeof r.rule_id === "string");
    if (k === "override" && laid[0]?.rule_id === ".m.rule.master") out[k] = [laid[0], ...user, ...laid.slice(1)];
    else out[k] = [...user, ...laid];
  }
  return out;
}
