// The notifier: which users care about which change, and the /sync (and later WebSocket)
// requests waiting for them. It keeps, in memory, the latest position that concerns each
// user and each room, so a long-poll for a user with nothing new costs no database query
// (DESIGN §4, §5).
import type { RoomId, UserId } from "../matrix/ids.js";
import type { RoomState } from "./room-state.js";
import type { Written } from "./event-writer.js";

type Waiter = () => void;

export class Notifier {
  /** Highest position known committed (everything at or below it is committed). */
  private pos: number;
  /** Position from which every change is known here (process start, or a reset after a long outage). */
  startPos: number;
  /**
   * Set when several processes write (Redis configured): the position then moves only when the
   * replicator has read every change up to it, whoever made it. A local commit reports its
   * position here instead (so the replicator reads up to it) — see replicator.ts.
   */
  follower: { localCommit(pos: number): void; reach(pos: number): Promise<void> } | null = null;
  private readonly userPos = new Map<UserId, number>();
  private readonly roomPos = new Map<RoomId, number>();
  private readonly accountDataPos = new Map<UserId, number>();
  private readonly receiptPos = new Map<RoomId, number>();
  private readonly deviceListPos = new Map<UserId, number>();
  private readonly toDevicePos = new Map<UserId, number>();
  /** Last typing serial that concerned each user (typing is not on the stream). */
  private readonly userTyping = new Map<UserId, number>();
  private readonly userPresence = new Map<UserId, number>();
  private readonly waiters = new Map<UserId, Set<Waiter>>();

  constructor(startPos: number) {
    this.pos = startPos;
    this.startPos = startPos;
  }

  get currentPos(): number {
    return this.pos;
  }

  /** Events committed to a room: wakes its members and anyone whose membership changed. */
  roomEvents(room: RoomState, written: Written[]): void {
    if (written.length === 0) return;
    const last = written[written.length - 1]!.pos;
    this.advance(last);
    this.roomPos.set(room.roomId, Math.max(last, this.roomPos.get(room.roomId) ?? 0));
    const users = new Set(room.interested);
    for (const w of written) if (w.event.type === "m.room.member" && w.event.state_key) users.add(w.event.state_key as UserId);
    for (const u of users) this.touch(u, last);
  }

  /** A change for specific users only (account data, receipts to self, to-device...). */
  userChange(userIds: Iterable<UserId>, pos: number): void {
    this.advance(pos);
    for (const u of userIds) this.touch(u, pos);
  }

  private readonly accountDataListeners: ((userId: UserId, type: string) => void)[] = [];

  /** Called when a user's account data changes, here or (through the replicator) elsewhere. */
  onAccountData(fn: (userId: UserId, type: string) => void): void {
    this.accountDataListeners.push(fn);
  }

  /** Account data of `type` written for the user. */
  accountData(userId: UserId, pos: number, type: string): void {
    for (const l of this.accountDataListeners) l(userId, type);
    if ((this.accountDataPos.get(userId) ?? 0) < pos) this.accountDataPos.set(userId, pos);
    this.userChange([userId], pos);
  }

  /** Typing changed in a room: wake its members. */
  typing(userIds: Iterable<UserId>, serial: number): void {
    for (const u of userIds) {
      if ((this.userTyping.get(u) ?? 0) < serial) this.userTyping.set(u, serial);
      const set = this.waiters.get(u);
      if (set) for (const w of [...set]) w();
    }
  }

  /** Presence changed for users that `userIds` can see: wake them. */
  presence(userIds: Iterable<UserId>, serial: number): void {
    for (const u of userIds) {
      if ((this.userPresence.get(u) ?? 0) < serial) this.userPresence.set(u, serial);
      const set = this.waiters.get(u);
      if (set) for (const w of [...set]) w();
    }
  }

  presenceNews(userId: UserId, sincePresence: number): boolean {
    return (this.userPresence.get(userId) ?? 0) > sincePresence;
  }

  /** Did typing change for the user after the token's typing serial? */
  typingNews(userId: UserId, sinceTyping: number): boolean {
    return (this.userTyping.get(userId) ?? 0) > sinceTyping;
  }

  /** A receipt in a room, visible to `userIds`. */
  receipt(roomId: RoomId, userIds: Iterable<UserId>, pos: number): void {
    this.receiptMarked(roomId, pos);
    this.userChange(userIds, pos);
  }

  /**
   * A receipt in the room at `pos`, waking nobody yet (delivered-wakes.ts batches the wake):
   * any sync that reads past `pos` in the meantime still sees that the room's receipts moved.
   */
  receiptMarked(roomId: RoomId, pos: number): void {
    if ((this.receiptPos.get(roomId) ?? 0) < pos) this.receiptPos.set(roomId, pos);
  }

  /** To-device messages for these users. */
  toDevice(userIds: Iterable<UserId>, pos: number): void {
    this.userChange(mark(this.toDevicePos, userIds, pos), pos);
  }

  /** Could the user have to-device messages after `since`? From memory when it can answer. */
  toDeviceChanged(userId: UserId, since: number): boolean {
    return this.changedSince(this.toDevicePos, userId, since);
  }

  /** Keys of users that `userIds` share rooms with (or their own) changed. */
  deviceLists(userIds: Iterable<UserId>, pos: number): void {
    this.userChange(mark(this.deviceListPos, userIds, pos), pos);
  }

  /** Did keys the user cares about change after `since`? From memory when it can answer. */
  deviceListsChanged(userId: UserId, since: number): boolean {
    return this.changedSince(this.deviceListPos, userId, since);
  }

  /** A per-key position map's answer: "unknown" (so yes) for tokens older than this process's memory. */
  private changedSince<K>(map: Map<K, number>, key: K, since: number): boolean {
    return since < this.startPos || (map.get(key) ?? 0) > since;
  }

  /** Did receipts in the room change after `since`? From memory when it can answer. */
  receiptsChanged(roomId: RoomId, since: number): boolean {
    return this.changedSince(this.receiptPos, roomId, since);
  }

  /** Did the user's account data change after `since`? From memory when it can answer. */
  accountDataChanged(userId: UserId, since: number): boolean {
    return this.changedSince(this.accountDataPos, userId, since);
  }

  /**
   * Has anything concerning `userId` happened after `since`? Answers from memory when it can.
   * Only changes at or below the current position count: a local commit that the replicator
   * has not yet confirmed waits for it (no busy loop on an invisible change).
   */
  hasNews(userId: UserId, since: number): boolean | "unknown" {
    if (since < this.startPos) return "unknown";
    return Math.min(this.userPos.get(userId) ?? 0, this.pos) > since;
  }

  /** A token from another process may be ahead of this one: catch up to it first. */
  async reach(pos: number): Promise<void> {
    if (pos > this.pos && this.follower) await this.follower.reach(pos);
  }

  /** The replicator read every change up to `pos`. */
  setPosition(pos: number): void {
    if (pos > this.pos) {
      this.pos = pos;
      this.moved();
    }
  }

  /** After an outage too long to replay: forget the per-user marks, answer from the database. */
  reset(pos: number): void {
    this.userPos.clear();
    this.roomPos.clear();
    this.accountDataPos.clear();
    this.receiptPos.clear();
    this.deviceListPos.clear();
    this.toDevicePos.clear();
    this.pos = Math.max(this.pos, pos);
    this.startPos = this.pos;
    this.wakeAll();
  }

  /** The last position of an event in the room, if one happened since start (else null: look it up). */
  roomLastPos(roomId: RoomId): number | null {
    return this.roomPos.get(roomId) ?? null;
  }

  /** Resolves when something concerning the user happens, or after `ms`, or when `signal` aborts. */
  wait(userId: UserId, since: number, ms: number, signal?: AbortSignal, sinceTyping = Number.MAX_SAFE_INTEGER, sincePresence = Number.MAX_SAFE_INTEGER): Promise<void> {
    if (this.hasNews(userId, since) === true || this.typingNews(userId, sinceTyping) || this.presenceNews(userId, sincePresence) || ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(userId);
      if (!set) this.waiters.set(userId, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        const s = this.waiters.get(userId);
        if (s) {
          s.delete(done);
          if (s.size === 0) this.waiters.delete(userId);
        }
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /**
   * Calls `fn` whenever something concerning the user happens, until the returned function is
   * called: a WebSocket that follows a user's sync listens once rather than waiting anew after
   * each frame (no promise, timer or abort listener per wake-up).
   */
  listen(userId: UserId, fn: Waiter): () => void {
    let set = this.waiters.get(userId);
    if (!set) this.waiters.set(userId, (set = new Set()));
    set.add(fn);
    return () => {
      const s = this.waiters.get(userId);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) this.waiters.delete(userId);
    };
  }

  /** Wakes every waiter (shutdown). */
  wakeAll(): void {
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w();
  }

  get waiting(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }

  private readonly streamListeners: (() => void)[] = [];

  /** Called whenever the served position moves (application service delivery wakes on it). */
  onStream(fn: () => void): void {
    this.streamListeners.push(fn);
  }

  private moved(): void {
    for (const l of this.streamListeners) l();
  }

  private advance(pos: number): void {
    if (pos <= this.pos) return;
    if (this.follower) this.follower.localCommit(pos);
    else {
      this.pos = pos;
      this.moved();
    }
  }

  private touch(userId: UserId, pos: number): void {
    if ((this.userPos.get(userId) ?? 0) < pos) this.userPos.set(userId, pos);
    const set = this.waiters.get(userId);
    if (set) for (const w of [...set]) w();
  }
}

/** Raises each user's mark to `pos`; returns the users. */
function mark(map: Map<UserId, number>, userIds: Iterable<UserId>, pos: number): UserId[] {
  const list = [...userIds];
  for (const u of list) if ((map.get(u) ?? 0) < pos) map.set(u, pos);
  return list;
}
