// Pushers: push gateways told of events that notify. https://spec.matrix.org/latest/client-server-api/#push-notifications
// https://spec.matrix.org/latest/push-gateway-api/
//
// Off the request path: a worker follows the stream (its position in push_state, so events
// that arrive while the server is down are pushed when it is back), evaluates the push rules
// of each room member who has a pusher, and POSTs the notification to each of their pushers'
// `/_matrix/push/v1/notify`. A gateway that fails is retried with backoff (pushes to one
// pusher stay in order); pushkeys the gateway rejects are removed. With several processes,
// one of them pushes (a lease in push_state).
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { MatrixError } from "../http/errors.js";
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import { userLevel } from "../matrix/power-levels.js";
import { evaluatePushRules, type RuleSet } from "../matrix/push-rules.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import * as receipts from "../store/receipts.js";
import * as store from "../store/pushers.js";
import type { MembershipCache } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import type { RoomStateCache } from "./room-state.js";
import type { UnreadService } from "./unread.js";

export interface PusherBody {
  pushkey: string; kind: string | null; app_id: string; app_display_name?: string; device_display_name?: string;
  profile_tag?: string; lang?: string; data?: { url?: string; format?: string; [k: string]: unknown }; append?: boolean;
}

const RETRIES = [1000, 2000, 4000, 8000, 16000];
const LEASE_MS = 30_000;

export class PushService {
  private readonly owner = randomBytes(8).toString("hex");
  private running = false;
  private again = false;
  private closed = false;
  private leaseUntil = 0;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    private readonly cache: RoomStateCache,
    private readonly members: MembershipCache,
    private readonly unread: UnreadService,
    private readonly rulesOf: (u: UserId) => Promise<RuleSet>,
    private readonly log: Logger,
  ) {
    notifier.onStream(() => this.kick());
    this.timer = setInterval(() => this.kick(), 5000);
    this.timer.unref();
  }

  /** GET /pushers */
  async list(userId: UserId): Promise<Record<string, unknown>[]> {
    return (await store.selectPushers(this.db, [userId])).map((p) => ({
      pushkey: p.pushkey, kind: p.kind, app_id: p.app_id, app_display_name: p.app_display_name, device_display_name: p.device_display_name,
      ...(p.profile_tag ? { profile_tag: p.profile_tag } : {}), lang: p.lang, data: p.data,
    }));
  }

  /** POST /pushers/set: kind null deletes. */
  async set(userId: UserId, b: PusherBody, tokenId: number | null = null): Promise<void> {
    if (b.kind === null) {
      await store.deletePusher(this.db, userId, b.app_id, b.pushkey);
      return;
    }
    for (const k of ["app_display_name", "device_display_name", "lang", "data"] as const) {
      if (b[k] === undefined) throw new MatrixError(400, "M_MISSING_PARAM", `${k} is required`);
    }
    if (b.kind === "http") {
      const url = b.data?.url;
      if (typeof url !== "string" || !/^https?:\/\/.+\/_matrix\/push\/v1\/notify$/.test(url)) {
        throw new MatrixError(400, "M_INVALID_PARAM", "data.url must be an http(s) URL ending in /_matrix/push/v1/notify");
      }
    } else if (b.kind !== "email") throw new MatrixError(400, "M_INVALID_PARAM", "kind must be http, email or null");
    await store.upsertPusher(this.db, {
      user_id: userId, app_id: b.app_id, pushkey: b.pushkey, kind: b.kind, app_display_name: b.app_display_name!, device_display_name: b.device_display_name!,
      profile_tag: b.profile_tag ?? null, lang: b.lang!, data: b.data!,
    }, b.append === true, tokenId);
    this.owners = null;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await store.releasePushLease(this.db, this.owner).catch(() => undefined);
  }

  private kick(): void {
    if (this.closed) return;
    if (this.running) { this.again = true; return; }
    this.running = true;
    void (async () => {
      try {
        do {
          this.again = false;
          await this.round();
        } while (this.again && !this.closed);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, "push round failed; will retry");
      } finally {
        this.running = false;
      }
    })();
  }

  private idleSince = 0;

  /** Reads the events after the position and pushes what notifies. */
  private async round(): Promise<void> {
    const now = Date.now();
    // Nobody has a pusher: no reading per commit. The position still moves now and then, so
    // a pusher set later is not sent old events.
    if ((await this.ownersSet()).size === 0) {
      if (now - this.idleSince < 5000) return;
      this.idleSince = now;
    }
    const top = this.notifier.currentPos;
    let pos = await store.pushPosition(this.db, top); // made at the current position on first use
    if (now > this.leaseUntil - LEASE_MS / 3) {
      if (!(await store.takePushLease(this.db, this.owner, now, now + LEASE_MS))) { this.leaseUntil = 0; return; }
      this.leaseUntil = now + LEASE_MS;
    }
    while (pos < top && !this.closed) {
      const rows = await events.selectStreamEvents(this.db, pos, top, 500);
      const end = rows.length === 500 ? rows[rows.length - 1]!.pos : top;
      for (const r of rows) await this.consider(r.roomId, r.event, r.pos);
      await this.badges(pos, end);
      pos = end;
      await store.setPushPosition(this.db, pos);
    }
  }

  /**
   * Read receipts in (after, upTo] of users with pushers: their devices get the new unread
   * count alone (a badge update, push gateway API), so a message read elsewhere stops showing
   * as unread on the phone.
   */
  private async badges(after: number, upTo: number): Promise<void> {
    const owners = await this.ownersSet();
    if (owners.size === 0) return;
    const latest = new Map<string, number>(); // each reader's newest receipt time in the range
    for (const r of await receipts.selectStreamReceiptRows(this.db, after, upTo, 1000)) {
      if ((r.type === "m.read" || r.type === "m.read.private") && owners.has(r.userId)) latest.set(r.userId, Math.max(latest.get(r.userId) ?? 0, r.ts));
    }
    if (latest.size === 0) return;
    const pushers = await store.selectPushers(this.db, [...latest.keys()]);
    for (const [userId, ts] of latest as Map<UserId, number>) {
      const unread = await this.unreadTotal(userId, upTo);
      // A pusher hears only of reading done since it was set.
      for (const p of pushers.filter((x) => x.user_id === userId && x.kind === "http" && ts >= x.created_ts)) {
        const { url, ...data } = p.data as { url: string; format?: string };
        this.enqueue(p, url, { notification: { id: "", type: null, sender: "", counts: { unread }, devices: [{ app_id: p.app_id, pushkey: p.pushkey, pushkey_ts: Math.floor(p.created_ts / 1000), data, tweaks: {} }] } });
      }
    }
  }

  /** The user's notification count over the rooms they are in (the badge). */
  private async unreadTotal(userId: UserId, pos: number): Promise<number> {
    const joined = (await this.members.get(userId)).filter((m) => m.membership === "join").map((m) => m.roomId);
    let unread = 0;
    for (const c of (await this.unread.counts(userId, joined, pos)).values()) unread += c.total.notification_count;
    return unread;
  }

  private async consider(roomId: RoomId, ev: ClientEvent, pos: number): Promise<void> {
    const room = await this.cache.get(roomId);
    if (!room) return;
    // Room members (and an invitee, for their invite) other than the sender.
    const candidates = [...room.interested].filter((u) => u !== ev.sender);
    if (ev.type === "m.room.member" && ev.state_key && !candidates.includes(ev.state_key as UserId) && ev.state_key !== ev.sender) candidates.push(ev.state_key as UserId);
    const withPushers = await this.withPushers(candidates);
    if (withPushers.size === 0) return;
    const pl = room.powerLevels();
    const pushers = await store.selectPushers(this.db, [...withPushers]);
    for (const userId of withPushers as Set<UserId>) {
      const name = room.get("m.room.member", userId)?.content.displayname;
      const out = evaluatePushRules(await this.rulesOf(userId), ev as unknown as Record<string, unknown>, {
        userId, displayName: typeof name === "string" ? name : null, memberCount: room.joined.size,
        senderPower: userLevel(pl, ev.sender), notificationLevels: pl.notifications,
      });
      if (!out.notify) continue;
      const unread = await this.unreadTotal(userId, pos);
      const tweaks = Object.fromEntries(out.actions.filter((a): a is { set_tweak: string; value?: unknown } => typeof a === "object" && a !== null && "set_tweak" in a)
        .map((a) => [a.set_tweak, a.value ?? (a.set_tweak === "highlight" ? true : undefined)]));
      const senderName = room.get("m.room.member", ev.sender)?.content.displayname;
      // The room as people see it named: its name, else its canonical alias (push gateway API).
      const alias = room.get("m.room.canonical_alias", "")?.content.alias;
      const named = room.get("m.room.name", "")?.content.name;
      const roomName = typeof named === "string" && named !== "" ? named : alias;
      for (const p of pushers.filter((x) => x.user_id === userId && x.kind === "http")) {
        const { url, ...data } = p.data as { url: string; format?: string };
        const idOnly = data.format === "event_id_only";
        const notification: Record<string, unknown> = {
          // `id`: the name push gateways read before `event_id` (the reference still sends both).
          event_id: ev.event_id, id: ev.event_id, room_id: roomId,
          counts: { unread },
          prio: ev.type === "m.room.message" || ev.type === "m.room.encrypted" || tweaks.highlight ? "high" : "low",
          devices: [{ app_id: p.app_id, pushkey: p.pushkey, pushkey_ts: Math.floor(p.created_ts / 1000), data, tweaks }],
          ...(idOnly ? {} : {
            type: ev.type, sender: ev.sender, content: ev.content,
            ...(typeof senderName === "string" ? { sender_display_name: senderName } : {}),
            ...(typeof roomName === "string" ? { room_name: roomName } : {}),
            ...(typeof alias === "string" ? { room_alias: alias } : {}),
            ...(ev.type === "m.room.member" ? { user_is_target: ev.state_key === userId, membership: ev.content.membership } : {}),
          }),
        };
        this.enqueue(p, url, { notification });
      }
    }
  }

  /**
   * Which of these users have pushers: from a list of all pusher owners kept for a few seconds
   * (a round then costs no query per event; a pusher made in another process counts within
   * the TTL), refreshed at once when a pusher is set here.
   */
  private owners: { at: number; set: Set<string> } | null = null;
  private async ownersSet(): Promise<Set<string>> {
    if (!this.owners || Date.now() - this.owners.at > 5000) {
      this.owners = { at: Date.now(), set: await store.pusherOwners(this.db) };
    }
    return this.owners.set;
  }

  private async withPushers(userIds: string[]): Promise<Set<string>> {
    const owners = await this.ownersSet();
    return new Set(userIds.filter((u) => owners.has(u)));
  }

  /** Pushes to one pusher go one after another, each retried with backoff. */
  private enqueue(p: store.PusherRow, url: string, body: unknown): void {
    const key = `${p.app_id}\u0000${p.pushkey}\u0000${p.user_id}`;
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.send(p, url, body)).catch(() => undefined);
    this.chains.set(key, next);
    void next.then(() => { if (this.chains.get(key) === next) this.chains.delete(key); });
  }

  private async send(p: store.PusherRow, url: string, body: unknown): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
        const text = await res.text();
        if (res.ok) {
          let rejected: unknown = [];
          try { rejected = (JSON.parse(text) as { rejected?: unknown }).rejected ?? []; } catch { /* no body */ }
          if (Array.isArray(rejected) && rejected.includes(p.pushkey)) {
            this.log.info({ app_id: p.app_id }, "push gateway rejected a pushkey: pusher removed");
            await store.deletePusher(this.db, p.user_id, p.app_id, p.pushkey);
          }
          return;
        }
      } catch { /* unreachable: retried */ }
      if (attempt >= RETRIES.length || this.closed) {
        this.log.warn({ app_id: p.app_id }, "push gateway kept failing; notification dropped");
        return;
      }
      await new Promise((r) => setTimeout(r, RETRIES[attempt]).unref());
    }
  }
}
