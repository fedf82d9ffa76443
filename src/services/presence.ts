// Presence. https://spec.matrix.org/latest/client-server-api/#presence
// In memory only, never Postgres: presence is what makes large servers fall over, so its cost
// per user is one small record. A sync refreshes last-active without telling anyone; only a
// real change (online ↔ unavailable ↔ offline, a new status message) wakes room-mates, and a
// sweep turns users who stopped syncing offline. It can be switched off (presence.enabled).
import type { Config } from "../config/schema.js";
import { forbidden, notFound } from "../http/errors.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import type { MembershipCache } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import type { RoomStateCache } from "./room-state.js";

export type PresenceValue = "online" | "unavailable" | "offline";

interface State { presence: PresenceValue; statusMsg: string | null; lastActive: number; serial: number }

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
  ) {
    if (config.presence.enabled) {
      const every = Math.max(50, Math.min(10_000, config.presence.offline_after_ms / 2));
      this.sweeper = setInterval(() => void this.sweep(), every);
      this.sweeper.unref();
    }
  }

  get enabled(): boolean { return this.config.presence.enabled; }
  get serial(): number { return this.serialNow; }

  /** PUT /presence/{userId}/status, and set_presence on /sync (fromSync: only refreshes when unchanged). */
  async set(userId: UserId, presence: PresenceValue, statusMsg?: string | null): Promise<void> {
    if (!this.enabled) return;
    const now = Date.now();
    const prev = this.users.get(userId);
    const msg = statusMsg === undefined ? prev?.statusMsg ?? null : statusMsg;
    if (prev && prev.presence === presence && prev.statusMsg === msg) {
      prev.lastActive = now; // coalesced: nobody is told
      return;
    }
    const state: State = { presence, statusMsg: msg, lastActive: now, serial: this.nextSerial(userId) };
    this.users.set(userId, state);
    await this.announce(userId, state.serial);
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
  async forSync(userId: UserId, since: number | null): Promise<Record<string, unknown>[]> {
    if (!this.enabled) return [];
    const changed = new Set<UserId>();
    if (since === null) {
      for (const [u, s] of this.users) if (s.presence !== "offline") changed.add(u);
    } else {
      for (let i = this.changes.length - 1; i >= 0 && this.changes[i]!.serial > since; i--) changed.add(this.changes[i]!.userId);
    }
    if (changed.size === 0) return [];
    const mates = await this.roomMates(userId);
    mates.add(userId);
    return [...changed].filter((u) => mates.has(u)).map((u) => ({ type: "m.presence", sender: u, content: this.content(u) }));
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  private content(userId: UserId): Record<string, unknown> {
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

  /** Users in a joined or invited membership with `userId` in any room. */
  private async roomMates(userId: UserId): Promise<Set<UserId>> {
    const out = new Set<UserId>();
    for (const m of await this.members.get(userId)) {
      if (m.membership !== "join") continue;
      const room = await this.cache.get(m.roomId as RoomId);
      if (room) for (const u of room.interested) out.add(u);
    }
    return out;
  }

  private async announce(userId: UserId, serial: number): Promise<void> {
    const mates = await this.roomMates(userId);
    mates.add(userId);
    this.notifier.presence(mates, serial);
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
        await this.announce(u, s.serial).catch(() => undefined);
      }
    }
  }
}
