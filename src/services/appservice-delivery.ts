// Pushing events to application services: a durable queue per service.
// https://spec.matrix.org/latest/application-service-api/#pushing-events
//
// Each service has a position on the stream (appservice_state). Its worker reads the events
// after it (one query per 500 positions, every room at once), keeps those the service is
// interested in, and writes them as the next transaction (at most 100 events and 100 ephemeral
// items) in the same database transaction that moves the position. Then it sends that
// transaction until the service accepts it: the same txnId and the same body on every retry,
// exponential backoff with jitter (2 s doubling to 1 min; at once when the service makes a
// request of its own, which shows it is back), one transaction in flight, in stream order. Nothing is lost across restarts (the pending transaction and the position are
// in Postgres), and each service has its own worker, so one that is down delays no other.
// With several processes, a lease in appservice_state lets one of them send for each service;
// a lease left by a process of this machine that is gone (a crash, kill -9) is taken at once.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { RoomId, UserId } from "../matrix/ids.js";
import * as store from "../store/appservices.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import * as receipts from "../store/receipts.js";
import * as e2ee from "../store/e2ee.js";
import { call, type Appservice, type AppserviceRegistry } from "./appservices.js";
import type { Notifier } from "./notifier.js";
import { serialize } from "./room-read.js";
import type { RoomStateCache } from "./room-state.js";
import type { TypingService } from "./typing.js";
import type { PresenceService } from "./presence.js";

const MAX_EVENTS = 100;
const MAX_EPHEMERAL = 100;
const SCAN = 500;
const TO_DEVICE_SCAN = 1000;
const BACKOFF_START_MS = 2000;
// A service that is down for long is retried every minute at least (and at once when it makes
// a request of its own): a longer gap leaves a recovered bridge idle for minutes.
const BACKOFF_MAX_MS = 60_000;
const LEASE_MS = 30_000;
const SEND_TIMEOUT_MS = 60_000;
const IDLE_MS = 5000;

export interface DeliveryStats { pending: number; lastSuccessTs: number | null; failures: number; delivered: number }

class Worker {
  readonly stats: DeliveryStats = { pending: 0, lastSuccessTs: null, failures: 0, delivered: 0 };
  /** Typing changes waiting for the next transaction (ephemeral: kept in memory only). */
  private ephemeral: Record<string, unknown>[] = [];
  private wakeNews: (() => void) | null = null;
  private wakeAll: (() => void) | null = null;
  private closed = false;
  private backoffMs = 0;
  private leaseUntil = 0;
  /** The service's stream position as last written by this process (null: read it). */
  private streamPos: number | null = null;

  constructor(private readonly a: Appservice, private readonly d: AppserviceDelivery) {}

  start(): void {
    void this.run();
  }

  stop(): Promise<void> {
    this.closed = true;
    this.wakeAll?.();
    return store.releaseLease(this.d.db, this.a.id, this.d.owner).catch(() => undefined);
  }

  /** New events on the stream: an idle worker looks (a backing-off one keeps waiting). */
  news(): void {
    this.wakeNews?.();
  }

  /** Retry now (a ping): cuts a backoff short. */
  kick(): void {
    this.backoffMs = 0;
    this.wakeAll?.();
  }

  /** The service made a request: if a retry is being waited for, it happens now. */
  alive(): void {
    if (this.backoffMs) this.kick();
  }

  /** Devices of its users whose key counts changed (MSC3202; memory only, like typing). */
  private readonly countsDue = new Set<string>();

  countsChanged(userId: string, deviceId: string): void {
    if (this.countsDue.size < 10_000) this.countsDue.add(`${userId}|${deviceId}`);
    this.wakeNews?.();
  }

  addEphemeral(e: Record<string, unknown>): void {
    if (this.ephemeral.length < 1000) this.ephemeral.push(e);
    this.wakeNews?.();
  }

  private wait(ms: number, newsToo: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(t); this.wakeNews = null; this.wakeAll = null; resolve(); };
      const t = setTimeout(done, ms);
      this.wakeAll = done;
      if (newsToo) this.wakeNews = done;
    });
  }

  private async run(): Promise<void> {
    const { db, log, owner } = this.d;
    const l = log.child({ appservice: this.a.id });
    while (!this.closed) {
      try {
        const now = Date.now();
        // The lease is renewed when a third of it is left, not on every round.
        if (now > this.leaseUntil - LEASE_MS / 3) {
          if (!(await store.takeLease(db, this.a.id, owner, now, now + LEASE_MS)) && !(await this.takeFromTheDead(now))) {
            this.leaseUntil = 0;
            await this.wait(IDLE_MS, false);
            continue;
          }
          if (this.leaseUntil === 0) this.streamPos = null; // (re)gained: read the state afresh
          this.leaseUntil = now + LEASE_MS;
          this.stats.pending = await store.countPending(db, this.a.id);
        }
        // While this process holds the lease it knows whether a transaction is pending.
        const pending = this.streamPos === null || this.stats.pending > 0 ? await store.selectPending(db, this.a.id) : null;
        const txn = pending ?? (await this.build());
        if (!pending && txn) this.stats.pending++;
        if (!txn) {
          await this.wait(IDLE_MS, true);
          continue;
        }
        const r = await call(this.a, "PUT", `/_matrix/app/v1/transactions/${txn.txnId}`, txn.body, false, SEND_TIMEOUT_MS);
        if (r.status >= 200 && r.status < 300) {
          await store.deleteTxn(db, this.a.id, txn.txnId);
          this.stats.pending = Math.max(0, this.stats.pending - 1);
          this.stats.lastSuccessTs = Date.now();
          this.stats.delivered += txn.events;
          if (this.backoffMs) l.info("application service is accepting transactions again");
          this.backoffMs = 0;
          continue;
        }
        this.stats.failures++;
        this.backoffMs = this.backoffMs ? Math.min(this.backoffMs * 2, BACKOFF_MAX_MS) : BACKOFF_START_MS;
        const delay = Math.round(this.backoffMs * (0.8 + Math.random() * 0.4));
        l.warn({ txnId: txn.txnId, status: r.status || "unreachable", retryInMs: delay }, "application service transaction failed; will retry");
        await this.wait(delay, false);
      } catch (e) {
        l.error({ err: (e as Error).message }, "application service delivery error");
        await this.wait(IDLE_MS, false);
      }
    }
  }

  /**
   * The lease is held by a process of this machine that no longer runs (this server before a
   * crash or kill): take it over now rather than when it runs out.
   */
  private async takeFromTheDead(now: number): Promise<boolean> {
    const holder = await store.selectLeaseOwner(this.d.db, this.a.id);
    if (!holder || !deadLocalOwner(holder)) return false;
    return store.takeLeaseFrom(this.d.db, this.a.id, holder, this.d.owner, now + LEASE_MS);
  }

  /** The next transaction from the stream, or null (the position moves past what is of no interest). */
  private async build(): Promise<store.PendingTxn | null> {
    const { db, registry, cache, notifier } = this.d;
    const streamPos = this.streamPos ?? (await store.selectState(db, this.a.id)).streamPos;
    let top = notifier.currentPos;
    // To-device messages for the service's users (MSC2409 as bridges use it, for encryption),
    // read first: when more wait than one transaction takes, this transaction stops at the
    // last of them, so nothing on the stream is skipped.
    const toDevice: { userId: string; deviceId: string; pos: number; sender: string; type: string; content: unknown }[] = [];
    if (this.a.receive_to_device) {
      const rows = await e2ee.selectToDeviceRange(db, streamPos, top, TO_DEVICE_SCAN);
      if (rows.length === TO_DEVICE_SCAN) top = rows[rows.length - 1]!.pos;
      for (const m of rows) if (m.pos <= top && registry.ownsUser(this.a, m.userId)) toDevice.push(m);
    }
    const out: Record<string, unknown>[] = [];
    let pos = streamPos;
    scan: while (pos < top) {
      const rows = await events.selectStreamEvents(db, pos, top, SCAN);
      for (const r of rows) {
        if (out.length >= MAX_EVENTS) break scan;
        const room = await cache.get(r.roomId);
        if (registry.interested(this.a, r.event, room)) out.push(serialize(r, null) as unknown as Record<string, unknown>);
        pos = r.pos;
      }
      if (rows.length < SCAN) {
        if (out.length < MAX_EVENTS) pos = top;
        break;
      }
    }
    // The transaction covers the stream up to `pos` (fewer events fit than the range held).
    for (let i = toDevice.length - 1; i >= 0; i--) if (toDevice[i]!.pos > pos) toDevice.splice(i, 1);
    const eph: Record<string, unknown>[] = [];
    if (this.a.receive_ephemeral) {
      eph.push(...this.ephemeral.splice(0, MAX_EPHEMERAL));
      for (const rc of await receipts.selectStreamReceiptRows(db, streamPos, pos, MAX_EPHEMERAL * 10)) {
        if (eph.length >= MAX_EPHEMERAL) break;
        // Private receipts only of the service's own users (spec).
        if (rc.type === "m.read.private" && !registry.ownsUser(this.a, rc.userId)) continue;
        if (!registry.interestedInRoom(this.a, rc.roomId, await cache.get(rc.roomId))) continue;
        eph.push({
          type: "m.receipt", room_id: rc.roomId,
          content: { [rc.eventId]: { [rc.type]: { [rc.userId]: { ts: rc.ts, ...(rc.threadId ? { thread_id: rc.threadId } : {}) } } } },
        });
      }
    }
    // MSC3202: whose devices changed (its users', and people who share a room with one), who
    // no longer shares a room with any of them, and its devices' one-time key counts.
    let lists: { changed: string[]; left: string[] } | null = null;
    let counts: { otk: Record<string, Record<string, unknown>>; fallback: Record<string, Record<string, unknown>> } | null = null;
    if (this.a.msc3202) {
      lists = await this.d.deviceListsFor(this.a, streamPos, pos, out);
      if (lists.changed.length === 0 && lists.left.length === 0) lists = null;
      const due = [...this.countsDue];
      this.countsDue.clear();
      for (const k of due) {
        const [userId, deviceId] = [k.slice(0, k.indexOf("|")), k.slice(k.indexOf("|") + 1)];
        if (!registry.ownsUser(this.a, userId)) continue;
        const c = await this.d.keyCounts(userId, deviceId);
        counts ??= { otk: {}, fallback: {} };
        (counts.otk[userId] ??= {})[deviceId] = c.counts;
        (counts.fallback[userId] ??= {})[deviceId] = c.unusedFallback;
      }
    }
    if (out.length === 0 && eph.length === 0 && toDevice.length === 0 && !lists && !counts) {
      if (pos > streamPos) await store.advance(db, this.a.id, pos);
      this.streamPos = pos;
      return null;
    }
    const body: Record<string, unknown> & { events: unknown[] } = { events: out };
    if (this.a.receive_ephemeral) {
      body.ephemeral = eph;
      body["de.sorunome.msc2409.ephemeral"] = eph; // the name bridges used before the spec's
    }
    if (this.a.receive_to_device) {
      const list = toDevice.map((m) => ({ type: m.type, sender: m.sender, to_user_id: m.userId, to_device_id: m.deviceId, content: m.content }));
      body.to_device = list;
      body["de.sorunome.msc2409.to_device"] = list;
    }
    if (lists) body["org.matrix.msc3202.device_lists"] = lists;
    if (counts) {
      body["org.matrix.msc3202.device_one_time_keys_count"] = counts.otk;
      body["org.matrix.msc3202.device_unused_fallback_key_types"] = counts.fallback;
    }
    const txn = await store.enqueue(db, this.a.id, body, pos);
    this.streamPos = pos;
    // Held by the pending transaction now; no device of the service syncs them.
    await e2ee.deleteToDeviceRows(db, toDevice);
    return txn;
  }
}

export class AppserviceDelivery {
  /** This process as a lease holder: machine, process ID, and a random part (process IDs are reused). */
  readonly owner = `${MACHINE}:${process.pid}:${randomBytes(6).toString("hex")}`;
  private readonly workers = new Map<string, Worker>();

  constructor(
    readonly db: Db,
    readonly registry: AppserviceRegistry,
    readonly notifier: Notifier,
    readonly cache: RoomStateCache,
    typing: TypingService,
    readonly log: Logger,
    presence?: PresenceService,
  ) {
    notifier.onStream(() => { for (const w of this.workers.values()) w.news(); });
    typing.onChange((roomId, userIds) => void this.typing(roomId, userIds));
    // Presence of a user in a service's namespaces, or of someone who shares a room with one of its users.
    presence?.onChange((userId, content, mates) => {
      for (const a of this.registry.all) {
        if (!a.receive_ephemeral) continue;
        if (!this.registry.ownsUser(a, userId) && ![...mates].some((m) => this.registry.ownsUser(a, m))) continue;
        this.workers.get(a.id)?.addEphemeral({ type: "m.presence", sender: userId, content });
      }
    });
  }

  /** A device's key counts (set by the services: KeyService). */
  keyCounts: (userId: string, deviceId: string) => Promise<{ counts: Record<string, number>; unusedFallback: string[] }> = async () => ({ counts: {}, unusedFallback: [] });
  /** The room-mates of a user (set by the services). */
  roomMates: (userId: string) => Promise<Set<string>> = async () => new Set();

  /** A device's key counts changed: the services that own its user and asked (MSC3202) hear of it. */
  countsChanged(userId: string, deviceId: string): void {
    for (const a of this.registry.all) if (a.msc3202 && this.registry.ownsUser(a, userId)) this.workers.get(a.id)?.countsChanged(userId, deviceId);
  }

  /**
   * MSC3202 device lists for a transaction over (after, upTo]: users whose device lists
   * changed and who are the service's or share a room with one of its users; and, from the
   * memberships the transaction carries, those who left and share no room with any of them.
   */
  async deviceListsFor(a: Appservice, after: number, upTo: number, events: Record<string, unknown>[]): Promise<{ changed: string[]; left: string[] }> {
    const concerns = async (u: string) => this.registry.ownsUser(a, u) || [...(await this.roomMates(u))].some((m) => this.registry.ownsUser(a, m));
    const changed = new Set<string>();
    for (const c of await e2ee.selectStreamDeviceListChanges(this.db, after, upTo)) if (!changed.has(c.userId) && (await concerns(c.userId))) changed.add(c.userId);
    const left = new Set<string>();
    for (const e of events) {
      const content = e.content as { membership?: unknown } | undefined;
      if (e.type !== "m.room.member" || typeof e.state_key !== "string") continue;
      if ((content?.membership === "leave" || content?.membership === "ban") && !this.registry.ownsUser(a, e.state_key) && !(await concerns(e.state_key))) left.add(e.state_key);
    }
    return { changed: [...changed].filter((u) => !left.has(u)), left: [...left] };
  }

  /** Starts a worker for every service with a URL (without one, nothing is pushed: spec). */
  async start(): Promise<void> {
    for (const a of this.registry.all) {
      if (!a.url) continue;
      await store.ensureState(this.db, a.id, this.notifier.currentPos);
      const w = new Worker(a, this);
      this.workers.set(a.id, w);
      w.start();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
  }

  /** The service made a request with its token. */
  alive(asId: string): void {
    this.workers.get(asId)?.alive();
  }

  kick(asId: string): void {
    this.workers.get(asId)?.kick();
  }

  stats(): Map<string, DeliveryStats> {
    return new Map([...this.workers].map(([id, w]) => [id, w.stats]));
  }

  private async typing(roomId: RoomId, userIds: UserId[]): Promise<void> {
    const room = await this.cache.get(roomId).catch(() => null);
    for (const a of this.registry.all) {
      if (!a.receive_ephemeral || !this.registry.interestedInRoom(a, roomId, room)) continue;
      this.workers.get(a.id)?.addEphemeral({ type: "m.typing", room_id: roomId, content: { user_ids: userIds } });
    }
  }
}

/** Which machine this is: its machine-id where there is one, else its host name. */
const MACHINE = (() => {
  try {
    return readFileSync("/etc/machine-id", "utf8").trim().slice(0, 32) || hostname();
  } catch {
    return hostname();
  }
})().replace(/:/g, "_");

/** Is `owner` a process of this machine that is gone? */
function deadLocalOwner(owner: string): boolean {
  const [machine, pid] = owner.split(":");
  if (machine !== MACHINE || !pid || !/^\d+$/.test(pid) || Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false; // it runs
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}
