// Which rooms each user is in, in memory: loaded once per user, then kept current from the
// writer's commits (DESIGN §5: membership is cached and updated by membership events).
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import type { Written } from "./event-writer.js";
import type { RoomState } from "./room-state.js";
import * as memberStore from "../store/memberships.js";

export interface Membership { roomId: RoomId; membership: string; pos: number }

export class MembershipCache {
  private readonly users = new Map<UserId, Map<RoomId, Membership>>();
  /**
   * The load in flight per user, shared by every caller: a commit for the user meanwhile makes
   * its result stale (then it is read again). One load per user, so no load can escape that
   * mark by being overtaken by another.
   */
  private readonly loading = new Map<UserId, { stale: boolean; done: Promise<void> }>();

  constructor(readonly db: Db, private readonly capacity = 100_000) {}

  async get(userId: UserId): Promise<Membership[]> {
    for (;;) {
      const hit = this.users.get(userId);
      if (hit) return [...hit.values()];
      await (this.loading.get(userId) ?? this.load(userId)).done;
    }
  }

  private load(userId: UserId): { stale: boolean; done: Promise<void> } {
    const l = { stale: false, done: Promise.resolve() };
    l.done = (async () => {
      try {
        const rows = await memberStore.selectUserMemberships(this.db, userId);
        if (l.stale) return;
        if (this.users.size >= this.capacity) {
          const first = this.users.keys().next().value;
          if (first !== undefined) this.users.delete(first);
        }
        this.users.set(userId, new Map(rows.map((r) => [r.roomId, r])));
      } finally {
        if (this.loading.get(userId) === l) this.loading.delete(userId);
      }
    })();
    this.loading.set(userId, l);
    return l;
  }

  /** The user's memberships if loaded, without copying (not to be modified). */
  peek(userId: UserId): ReadonlyMap<RoomId, Membership> | undefined {
    return this.users.get(userId);
  }

  clear(): void {
    this.users.clear();
    for (const l of this.loading.values()) l.stale = true;
  }

  onCommit(room: RoomState, written: Written[]): void {
    for (const w of written) {
      if (w.event.type !== "m.room.member" || w.event.state_key === undefined) continue;
      const u = w.event.state_key as UserId;
      const l = this.loading.get(u);
      if (l) l.stale = true;
      const m = this.users.get(u);
      // Changes may arrive twice and out of order (a local commit, then the stream replay).
      if (m && (m.get(room.roomId)?.pos ?? 0) < w.pos) m.set(room.roomId, { roomId: room.roomId, membership: String(w.event.content.membership), pos: w.pos });
    }
  }
}

/**
 * Users who share a joined room with `userId` (joined or invited there). This walks every
 * member of every room: to ask about a few users, test `interested` of joinedMembersOf.
 */
export async function roomMatesOf(members: MembershipCache, cache: import("./room-state.js").RoomStateCache, userId: UserId): Promise<Set<UserId>> {
  const out = new Set<UserId>();
  for (const room of await joinedMembersOf(members, cache, userId)) for (const u of room.interested) out.add(u);
  return out;
}

/** Who is in a room (joined or invited) and how many are joined. */
export interface RoomMembers { roomId: RoomId; interested: ReadonlySet<UserId>; joined: number }

/**
 * The members of each room `userId` is joined to: from the state cache for the rooms it
 * holds, and one query for the others, which are not loaded (an account in more rooms than
 * the cache holds would otherwise reload its rooms' whole state each time).
 */
export async function joinedMembersOf(members: MembershipCache, cache: import("./room-state.js").RoomStateCache, userId: UserId): Promise<RoomMembers[]> {
  const out: RoomMembers[] = [];
  const missing: RoomId[] = [];
  for (const m of await members.get(userId)) {
    if (m.membership !== "join") continue;
    const room = cache.peek(m.roomId);
    if (room) out.push({ roomId: room.roomId, interested: room.interested, joined: room.joined.size });
    else missing.push(m.roomId);
  }
  const byRoom = new Map<RoomId, { interested: Set<UserId>; joined: number }>(missing.map((r) => [r, { interested: new Set(), joined: 0 }]));
  for (const r of await memberStore.selectInterestedMembers(members.db, missing)) {
    const e = byRoom.get(r.roomId)!;
    e.interested.add(r.userId);
    if (r.membership === "join") e.joined++;
  }
  for (const [roomId, e] of byRoom) out.push({ roomId, ...e });
  return out;
}
