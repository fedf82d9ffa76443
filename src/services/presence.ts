// Presence. https://spec.matrix.org/latest/client-server-api/#presence
// In memory only, never Postgres: presence is what makes large servers fall over, so its cost
// per user is one small record. A sync refreshes last-active without telling anyone; only a
// real change (online ↔ unavailable ↔ offline, a new status message) wakes room-mates, and a
// sweep turns users who stopped syncing offline. It can be switched off (presence.enabled).
// With Redis, changes go to the other processes on the bus, and a user's last activity is
// shared at most every few seconds (not per sync) so no process sweeps away a user who syncs
// elsewhere; each state is also kept in a key with a TTL for processes that start later.
import type { Config } from "../config/schema.js";
import { forbidden, notFound } from "../http/errors.js";
import type { UserId } from "../matrix/ids.js";
import type { Bus } from "./bus.js";
import { joinedMembersOf, roomMatesOf, type MembershipCache } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import type { RoomStateCache } from "./room-state.js";

/** How long changes gather before a batch is announced. */
const BATCH_MS = 50;
/** Spacing between batches per user a batch woke (see announce). */
const WAKE_SPACING_MS = 0.5;

export type PresenceValue = "online" | "unavailable" | "offline";

interface State { presence: PresenceValue; statusMsg: string | null; lastActive: number; serial: number; shared: number }

export class PresenceService {
  private readonly users = new Map<UserId, State>();
  /** Changes in serial order, so a sync looks only at what changed after its token. */
  private changes: { serial: number; userId: UserId }[] = [];
  private serialNow = Date.now();
  private readonly sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: Config,
    private readonly notifier: Notifier,
    private readonly members: MembershipCache,
    private readonly cache: RoomStateCache,
    private readonly userExists: (u: UserId) => Promise<boolean>,
    private readonly bus: Bus,
  ) {
    bus.onMessage((m) => {
      if (m.k === "presence") void this.apply(m.user, m.presence, m.msg, m.lastActive, false).catch(() => undefined);
    });
    if (config.presence.enabled) {
      const every = Math.max(50, Math.min(10_000, config.presence.offline_after_ms / 2));
      this.sweeper = setInterval(() => void this.sweep(), every);
      this.sweeper.unref();
    }
  }

  get enabled(): boolean { return this.config.presence.enabled; }
  get serial(): number { return this.serialNow; }
  /** Presence is shared only through rooms of at most this many members. */
  get maxRoomMembers(): number { return this.config.presence.max_room_members; }

  /** PUT /presence/{userId}/status, and set_presence on /sync (fromSync: only refreshes when unchanged). */
  async set(userId: UserId, presence: PresenceValue, statusMsg?: string | null): Promise<void> {
    if (!this.enabled) return;
    const msg = statusMsg === undefined ? this.users.get(userId)?.statusMsg ?? null : statusMsg;
    await this.apply(userId, presence, msg, Date.now(), true);
  }

  /** Loads presence from Redis (a process that starts while others run). */
  async load(): Promise<void> {
    if (!this.enabled) return;
    for (const { key, value } of await this.bus.scanEphemeral("presence:")) {
      try {
        const v = JSON.parse(value) as { presence: PresenceValue; msg: string | null; lastActive: number };
        const userId = key.slice("presence:".length) as UserId;
        if (!this.users.has(userId)) this.users.set(userId, { presence: v.presence, statusMsg: v.msg, lastActive: v.lastActive, serial: this.nextSerial(userId), shared: v.lastActive });
      } catch { /* a malformed key is skipped */ }
    }
  }

  /** A token from another process: changes from now on must sort after it. */
  observe(serial: number): void {
    if (serial > this.serialNow && serial < Date.now() + 86_400_000) this.serialNow = serial;
  }

  /** A presence change or refresh, made here (local) or on another process. */
  private async apply(userId: UserId, presence: PresenceValue, msg: string | null, lastActive: number, local: boolean): Promise<void> {
    const prev = this.users.get(userId);
    // News from elsewhere older than what this process saw (a sweep there while the user
    // syncs here) changes nothing.
    if (!local && prev && lastActive < prev.lastActive) return;
    if (prev && prev.presence === presence && prev.statusMsg === msg) {
      // Coalesced: nobody is told. The other processes hear of the activity now and then.
      prev.lastActive = Math.max(prev.lastActive, lastActive);
      if (local && this.bus.clustered && lastActive - prev.shared >= this.shareEvery) this.share(userId, prev);
      return;
    }
    const state: State = { presence, statusMsg: msg, lastActive, serial: this.nextSerial(userId), shared: lastActive };
    this.users.set(userId, state);
    if (local) this.share(userId, state);
    await this.announce(userId, state.serial);
  }

  private get shareEvery(): number {
    return Math.max(25, Math.floor(this.config.presence.offline_after_ms / 4));
  }

  private share(userId: UserId, s: State): void {
    s.shared = s.lastActive;
    this.bus.publish({ k: "presence", user: userId, presence: s.presence, msg: s.statusMsg, lastActive: s.lastActive });
    this.bus.setEphemeral(`presence:${userId}`, JSON.stringify({ presence: s.presence, msg: s.statusMsg, lastActive: s.lastActive }), this.config.presence.offline_after_ms * 2);
  }

  /** GET /presence/{userId}/status: the user, or someone sharing a room with them. */
  async get(requester: UserId, userId: UserId): Promise<Record<string, unknown>> {
    if (requester !== userId) {
      if (!(await this.userExists(userId))) throw notFound("Unknown user");
      if (!(await this.roomMates(requester)).has(userId)) throw forbidden("You do not share a room with this user");
    }
    return this.content(userId);
  }

  /** m.presence events for /sync: room-mates (and the user) whose presence changed after `since`. */
  async forSync(userId: UserId, since: number | null, met: Iterable<UserId> = []): Promise<Record<string, unknown>[]> {
    if (!this.enabled) return [];
    const rooms = await this.sharingRooms(userId);
    const visible = (u: UserId) => u === userId || rooms.some((r) => r.interested.has(u));
    // People the user has just come to share a room with: their current presence, changed or
    // not (through rooms that share presence).
    const fresh = since === null ? [] : [...met].filter((u) => u !== userId && visible(u));
    // Walk whichever is smaller: the changes since the token, or the users this one can see
    // (a token from before a crowd came online would otherwise scan the whole crowd per sync).
    let audience = 1;
    for (const r of rooms) audience += r.interested.size;
    const changed = new Set<UserId>();
    const newer = (u: UserId) => { const s = this.users.get(u); return !!s && (since === null ? s.presence !== "offline" : s.serial > since); };
    const fromLog = since !== null ? this.changesAfter(since, audience) : null;
    if (fromLog) {
      for (const u of fromLog) if (visible(u)) changed.add(u);
    } else {
      if (newer(userId)) changed.add(userId);
      for (const r of rooms) for (const u of r.interested) if (newer(u)) changed.add(u);
    }
    for (const u of fresh) changed.add(u);
    return [...changed].map((u) => ({ type: "m.presence", sender: u, content: this.content(u) }));
  }

  /** Which of `users` changed their presence after `since` (a peek into a room: its members). */
  changedAmong(users: Iterable<UserId>, since: number): UserId[] {
    if (!this.enabled) return [];
    const out: UserId[] = [];
    for (const u of users) { const s = this.users.get(u); if (s && s.serial > since) out.push(u); }
    return out;
  }

  /** Users whose presence changed after `since`, or null when there are more than `max` changes. */
  private changesAfter(since: number, max: number): Set<UserId> | null {
    const out = new Set<UserId>();
    for (let i = this.changes.length - 1; i >= 0 && this.changes[i]!.serial > since; i--) {
      out.add(this.changes[i]!.userId);
      if (out.size > max) return null;
    }
    return out;
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.flushTimer) clearTimeout(this.flushTimer);
  }

  /** The user's presence as m.presence content. */
  content(userId: UserId): Record<string, unknown> {
    const s = this.users.get(userId);
    if (!s || !this.enabled) return { presence: "offline" };
    const ago = Date.now() - s.lastActive;
    return {
      presence: s.presence,
      last_active_ago: ago,
      currently_active: s.presence === "online" && ago < 60_000,
      ...(s.statusMsg !== null ? { status_msg: s.statusMsg } : {}),
    };
  }

  /** The user's joined rooms through which presence is shared (presence.max_room_members). */
  private async sharingRooms(userId: UserId) {
    const max = this.config.presence.max_room_members;
    return (await joinedMembersOf(this.members, this.cache, userId)).filter((r) => r.joined <= max);
  }

  /** Who hears of the user's presence: room-mates in the rooms that share it. */
  private async audience(userId: UserId): Promise<Set<UserId>> {
    const out = new Set<UserId>();
    for (const room of await this.sharingRooms(userId)) for (const u of room.interested) out.add(u);
    return out;
  }

  /** Users in a joined or invited membership with `userId` in any room. */
  private roomMates(userId: UserId): Promise<Set<UserId>> {
    return roomMatesOf(this.members, this.cache, userId);
  }

  private readonly listeners: ((userId: UserId, content: Record<string, unknown>, mates: Set<UserId>) => void)[] = [];

  /** Called on every presence change, with who shares a room with the user (application services). */
  onChange(fn: (userId: UserId, content: Record<string, unknown>, mates: Set<UserId>) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Changes are announced in batches: every change since the last batch wakes each room-mate
   * once. A batch that wakes many users delays the next one in proportion (WAKE_SPACING_MS per
   * woken user), so presence costs a bounded share of the CPU however large the rooms are:
   * 10,000 users coming online in a room of 10,000 cost a few wake-ups of each, not 10,000.
   * Presence then reaches big rooms within seconds rather than at once, which the spec allows.
   */
  private pending = new Map<UserId, number>();
  private flushTimer: NodeJS.Timeout | null = null;
  private nextFlush = 0;

  /** The lowest serial not yet announced: of the batch gathering, and of the one being announced. */
  private pendingMin = Infinity;
  private flushingMin = Infinity;

  /** Every change at or below this serial has been announced (woken its audience). */
  get settled(): number {
    const m = Math.min(this.pendingMin, this.flushingMin);
    return m === Infinity ? this.serialNow : m - 1;
  }

  private async announce(userId: UserId, serial: number): Promise<void> {
    this.pending.set(userId, serial);
    if (serial < this.pendingMin) this.pendingMin = serial;
    if (this.flushTimer) return;
    const wait = Math.max(BATCH_MS, this.nextFlush - Date.now());
    this.flushTimer = setTimeout(() => void this.flush().catch(() => undefined), wait);
    this.flushTimer.unref();
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    this.flushingMin = this.pendingMin;
    this.pendingMin = Infinity;
    const woken = new Set<UserId>();
    let serial = 0;
    for (const [userId, s] of batch) {
      const mates = await this.audience(userId);
      mates.add(userId);
      for (const u of mates) woken.add(u);
      if (s > serial) serial = s;
      for (const l of this.listeners) l(userId, this.content(userId), mates);
    }
    this.notifier.presence(woken, serial);
    this.flushingMin = Infinity;
    this.nextFlush = Date.now() + woken.size * WAKE_SPACING_MS;
    this.flushTimer = null;
    if (this.pending.size) void this.announce(...this.pending.entries().next().value!);
  }

  private nextSerial(userId: UserId): number {
    const serial = ++this.serialNow;
    this.changes.push({ serial, userId });
    // Bounded: a token older than the log's start sees the users changed within it only, and
    // an initial sync (no token) sees everyone.
    if (this.changes.length > 100_000) this.changes = this.changes.slice(-50_000);
    return serial;
  }

  private async sweep(): Promise<void> {
    const limit = Date.now() - this.config.presence.offline_after_ms;
    for (const [u, s] of this.users) {
      if (s.presence !== "offline" && s.lastActive < limit) {
        s.presence = "offline";
        s.serial = this.nextSerial(u);
        this.share(u, s);
        await this.announce(u, s.serial).catch(() => undefined);
      }
    }
  }
}
