// Typing notifications. https://spec.matrix.org/latest/client-server-api/#typing-notifications
// In memory only (never Postgres): who types where, until when. With Redis, each change goes
// to the other processes on the bus and into a key with a TTL (for processes that start later);
// every process expires typing itself. Each change takes a serial
// that sync tokens carry after the stream position ("s<pos>_<typing>"). The serial starts from
// the clock, so it only moves forward across restarts and old tokens stay comparable.
import { forbidden } from "../http/errors.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Bus } from "./bus.js";
import type { Notifier } from "./notifier.js";
import type { RoomStateCache } from "./room-state.js";

/** Longest a typing notification lasts without being renewed. */
export const MAX_TYPING_MS = 120_000;
const DEFAULT_TYPING_MS = 30_000;

interface RoomTyping { users: Map<UserId, NodeJS.Timeout>; serial: number }

export class TypingService {
  private readonly rooms = new Map<RoomId, RoomTyping>();
  private serialNow = Date.now();

  constructor(private readonly cache: RoomStateCache, private readonly notifier: Notifier, private readonly bus: Bus) {
    bus.onMessage((m) => { if (m.k === "typing") void this.apply(m.room, m.user, m.typing, m.ms); });
  }

  /** Loads who is typing from Redis (a process that starts while others run). */
  async load(): Promise<void> {
    for (const { key, ttlMs } of await this.bus.scanEphemeral("typing:")) {
      const [, roomId, userId] = key.split("\u0000") as [string, RoomId, UserId];
      if (roomId && userId) await this.apply(roomId, userId, true, ttlMs);
    }
  }

  /** A token from another process: changes from now on must sort after it. */
  observe(serial: number): void {
    if (serial > this.serialNow && serial < Date.now() + 86_400_000) this.serialNow = serial;
  }

  get serial(): number {
    return this.serialNow;
  }

  /** PUT /rooms/{roomId}/typing/{userId} */
  async set(userId: UserId, roomId: RoomId, typing: boolean, timeoutMs?: number): Promise<void> {
    const room = await this.cache.get(roomId);
    if (!room || room.membership(userId) !== "join") throw forbidden("You are not in this room");
    const ms = Math.min(Math.max(timeoutMs ?? DEFAULT_TYPING_MS, 0), MAX_TYPING_MS);
    if (await this.apply(roomId, userId, typing, ms)) {
      this.bus.publish({ k: "typing", room: roomId, user: userId, typing, ms });
      this.bus.setEphemeral(`typing:\u0000${roomId}\u0000${userId}`, typing ? "1" : null, ms);
    }
  }

  /** Applies a typing change made here or on another process; true if it changed anything. */
  private async apply(roomId: RoomId, userId: UserId, typing: boolean, ms: number): Promise<boolean> {
    let rt = this.rooms.get(roomId);
    if (!rt) this.rooms.set(roomId, (rt = { users: new Map(), serial: 0 }));
    const existing = rt.users.get(userId);
    if (existing) clearTimeout(existing);
    if (typing) {
      // The server ends typing itself, so a client that vanishes leaves no stuck indicator.
      const timer = setTimeout(() => this.stop(roomId, userId), ms);
      timer.unref();
      rt.users.set(userId, timer);
      if (existing) return true; // still typing: nobody here needs waking, but the others renew their timers
    } else {
      if (!existing) return false;
      rt.users.delete(userId);
    }
    await this.changed(roomId, rt);
    return true;
  }

  private stop(roomId: RoomId, userId: UserId): void {
    const rt = this.rooms.get(roomId);
    if (!rt || !rt.users.delete(userId)) return;
    void this.changed(roomId, rt);
  }

  private readonly listeners: ((roomId: RoomId, userIds: UserId[]) => void)[] = [];

  /** Called on every typing change in a room, with who is typing now (application services). */
  onChange(fn: (roomId: RoomId, userIds: UserId[]) => void): void {
    this.listeners.push(fn);
  }

  private async changed(roomId: RoomId, rt: RoomTyping): Promise<void> {
    rt.serial = ++this.serialNow;
    for (const l of this.listeners) l(roomId, [...rt.users.keys()]);
    const room = this.cache.peek(roomId) ?? (await this.cache.get(roomId).catch(() => null));
    this.notifier.typing(room ? [...room.interested] : [], rt.serial);
    if (rt.users.size === 0) {
      // Keep the empty entry a while so syncs learn the typing stopped; then forget the room.
      setTimeout(() => { if (this.rooms.get(roomId) === rt && rt.users.size === 0) this.rooms.delete(roomId); }, MAX_TYPING_MS).unref();
    }
  }

  /** m.typing for each of `roomIds` whose typing changed after `since` (all non-empty ones when since is null). */
  forSync(roomIds: RoomId[], since: number | null): Map<RoomId, UserId[]> {
    const out = new Map<RoomId, UserId[]>();
    for (const roomId of roomIds) {
      const rt = this.rooms.get(roomId);
      if (!rt) continue;
      if (since === null ? rt.users.size > 0 : rt.serial > since) out.set(roomId, [...rt.users.keys()]);
    }
    return out;
  }

  /** Stops every timer (shutdown). */
  close(): void {
    for (const rt of this.rooms.values()) for (const t of rt.users.values()) clearTimeout(t);
    this.rooms.clear();
  }
}
