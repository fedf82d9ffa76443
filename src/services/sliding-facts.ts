// What a sliding sync room list needs of each room without loading its state: its last event
// (the list's order), its last bumping event (bump_stamp), encryption and type (filters).
// Kept per room for every user and connection; an account in 10,000 rooms reads state only
// for the rooms in its windows.
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import { selectRoomFacts } from "../store/room-facts.js";
import type { Membership } from "./memberships.js";
import type { Notifier } from "./notifier.js";
import type { RoomStateCache } from "./room-state.js";
import { BUMP_TYPES, bumpFromMemory } from "./sliding-rooms.js";

/** Undefined fields are not known yet: read when a list's filters (or a window) need them. */
export interface Facts { lastPos: number; bump?: number | null; encrypted?: boolean; type?: string | null }

/** Rooms whose facts are kept; beyond it the memory starts over. */
const MAX_FACTS = 200_000;

export class RoomFactsCache {
  private readonly facts = new Map<RoomId, Facts>();
  /** The sender of a membership event, by its position (fixed once written). */
  private readonly senders = new Map<number, string | null>();

  constructor(private readonly db: Db, private readonly cache: RoomStateCache, private readonly notifier: Notifier) {}

  /**
   * Each room's facts, and the sender of the user's own membership event where they are not
   * joined (kicked or left by themselves; who invited). Facts are kept per room and reused
   * while the room has had no event since (the room type for good: it never changes); else
   * derived from its state when the cache holds it; else read, for all such rooms, in one
   * statement of the parts needed. A wake-up for one message touches one room's facts.
   */
  async of(userId: UserId, memberships: Membership[], need: { encrypted: boolean; type: boolean }): Promise<{ facts: Map<RoomId, Facts>; senders: Map<RoomId, string | null> }> {
    const facts = new Map<RoomId, Facts>();
    const senders = new Map<RoomId, string | null>();
    const missing: Membership[] = [];
    const parts = { encrypted: false, type: false, sender: false };
    for (const m of memberships) {
      const kept = this.facts.get(m.roomId);
      const room = this.cache.peek(m.roomId);
      const last = room ? room.lastPos : this.notifier.roomLastPos(m.roomId);
      let f = kept && (last === null || last <= kept.lastPos) ? kept : undefined;
      if (room && (!f || f.encrypted === undefined || f.type === undefined)) {
        const mem = bumpFromMemory(room);
        // No bumping event in memory: the kept bump holds if memory reaches back to it.
        const bump = mem ?? (kept && room.recentFloor <= kept.lastPos ? kept.bump : undefined);
        const typ = room.get("m.room.create", "")?.content.type;
        f = { lastPos: room.lastPos, bump, encrypted: room.get("m.room.encryption", "") !== undefined, type: typeof typ === "string" ? typ : null };
        this.keep(m.roomId, f);
      }
      let sender: string | null | undefined = userId;
      if (m.membership !== "join") {
        sender = room ? room.get("m.room.member", userId)?.sender ?? null : this.senders.get(m.pos);
        if (sender !== undefined) senders.set(m.roomId, sender);
      }
      const lacks = { encrypted: need.encrypted && f?.encrypted === undefined, type: need.type && (f ?? kept)?.type === undefined, sender: sender === undefined };
      if (f && !lacks.encrypted && !lacks.type && !lacks.sender) { facts.set(m.roomId, f); continue; }
      missing.push(m);
      parts.encrypted ||= lacks.encrypted || (!f && need.encrypted);
      parts.type ||= lacks.type;
      parts.sender ||= lacks.sender;
    }
    const byId = new Map(missing.map((m) => [m.roomId, m]));
    for (const r of await selectRoomFacts(this.db, missing.map((m) => m.roomId), userId, parts)) {
      const kept = this.facts.get(r.roomId);
      const fresh = kept && kept.lastPos === r.lastPos;
      const f: Facts = {
        lastPos: r.lastPos,
        bump: fresh ? kept.bump : undefined,
        encrypted: r.encrypted ?? (fresh ? kept.encrypted : undefined),
        type: r.roomType !== undefined ? r.roomType : kept?.type,
      };
      this.keep(r.roomId, f);
      facts.set(r.roomId, f);
      const m = byId.get(r.roomId)!;
      if (r.ownSender !== undefined && m.membership !== "join") {
        if (this.senders.size >= MAX_FACTS) this.senders.clear();
        this.senders.set(m.pos, r.ownSender);
        senders.set(r.roomId, r.ownSender);
      }
    }
    return { facts, senders };
  }

  /** bump_stamp of the window's joined rooms whose facts lack it: one query for them all. */
  async fillBumps(cands: { m: Membership; facts: Facts }[]): Promise<void> {
    const lacking = cands.filter((x) => x.m.membership === "join" && x.facts.bump === undefined);
    if (lacking.length === 0) return;
    const found = await events.selectLastPosOfTypes(this.db, lacking.map((x) => x.m.roomId), [...BUMP_TYPES]);
    for (const x of lacking) {
      const f: Facts = { ...x.facts, bump: found.get(x.m.roomId) ?? null };
      x.facts = f;
      if (this.facts.get(x.m.roomId)?.lastPos === f.lastPos) this.keep(x.m.roomId, f);
    }
  }

  private keep(roomId: RoomId, f: Facts): void {
    if (this.facts.size >= MAX_FACTS && !this.facts.has(roomId)) this.facts.clear();
    this.facts.set(roomId, f);
  }
}
