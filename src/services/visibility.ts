// History visibility: which events a user may see.
// https://spec.matrix.org/latest/client-server-api/#history-visibility (server behaviour)
// The state "at an event" is the state before it; history is linear, so one user's membership
// history and the room's visibility history (two small lists) decide every event.
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import { erasedForm, isErased } from "./erasure.js";

interface Change { pos: number; value: string }

function valueBefore(list: Change[], pos: number, dflt: string): string {
  let v = dflt;
  for (const c of list) {
    if (c.pos >= pos) break;
    v = c.value;
  }
  return v;
}

export class Visibility {
  private constructor(
    private readonly userId: UserId,
    private readonly memberships: Change[],
    private readonly visibilities: Change[],
  ) {}

  static async load(db: Db, roomId: RoomId, userId: UserId): Promise<Visibility> {
    const [m, v] = await Promise.all([
      events.selectStateHistory(db, roomId, "m.room.member", userId),
      events.selectStateHistory(db, roomId, "m.room.history_visibility", ""),
    ]);
    return new Visibility(
      userId,
      m.map((x) => ({ pos: x.pos, value: String(x.content.membership ?? "leave") })),
      v.map((x) => ({ pos: x.pos, value: typeof x.content.history_visibility === "string" ? x.content.history_visibility : "shared" })),
    );
  }

  /** Visibility for several rooms at once (initial sync): one query, not two per room. */
  static async loadMany(db: Db, roomIds: RoomId[], userId: UserId): Promise<Map<RoomId, Visibility>> {
    const rows = await events.selectVisibilityHistories(db, roomIds, userId);
    const byRoom = new Map<RoomId, { m: Change[]; v: Change[] }>(roomIds.map((r) => [r, { m: [], v: [] }]));
    for (const r of rows) {
      const e = byRoom.get(r.roomId)!;
      if (r.type === "m.room.member") e.m.push({ pos: r.pos, value: String(r.content.membership ?? "leave") });
      else e.v.push({ pos: r.pos, value: typeof r.content.history_visibility === "string" ? r.content.history_visibility : "shared" });
    }
    return new Map([...byRoom].map(([roomId, e]) => [roomId, new Visibility(userId, e.m, e.v)]));
  }

  private lastJoinPos(): number {
    let p = -1;
    for (const c of this.memberships) if (c.value === "join") p = c.pos;
    return p;
  }

  private allowed(vis: string, membership: string, pos: number): boolean {
    if (vis === "world_readable") return true;
    if (membership === "join") return true;
    if (vis !== "joined" && vis !== "invited" && this.lastJoinPos() > pos) return true; // shared (and unknown values)
    if (membership === "invite" && vis === "invited") return true;
    return false;
  }

  /**
   * Rows (already found visible) as this user is shown them: an erased user's events are
   * redacted for whoever was not joined when they were sent (erasure.ts).
   */
  present(rows: events.EventRow[], version: string): events.EventRow[] {
    let out: events.EventRow[] | null = null;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (!isErased(r.event.sender) || r.event.sender === this.userId || valueBefore(this.memberships, r.pos, "leave") === "join") continue;
      (out ??= rows.slice())[i] = erasedForm(r, version);
    }
    return out ?? rows;
  }

  canSee(ev: ClientEvent, pos: number): boolean {
    const vis = valueBefore(this.visibilities, pos, "shared");
    const membership = valueBefore(this.memberships, pos, "leave");
    if (this.allowed(vis, membership, pos)) return true;
    // A visibility change is visible if the setting before or after it allows it; so is a
    // user's own membership change (spec).
    if (ev.type === "m.room.history_visibility" && ev.state_key === "") {
      const after = typeof ev.content.history_visibility === "string" ? ev.content.history_visibility : "shared";
      return this.allowed(after, membership, pos);
    }
    if (ev.type === "m.room.member" && ev.state_key === this.userId) {
      return this.allowed(vis, String(ev.content.membership ?? "leave"), pos);
    }
    return false;
  }

  /**
   * The stretches of the stream whose ordinary events (not the user's own membership or a
   * visibility change, which have rules of their own) the user may see, as [lo, hi]: lo < pos
   * <= hi. Visibility only changes at a membership or visibility change, and (shared history)
   * just before the user's last join.
   */
  ranges(): [number, number][] {
    const join = this.lastJoinPos();
    const cuts = new Set<number>([-1, Number.MAX_SAFE_INTEGER]);
    for (const c of this.memberships) cuts.add(c.pos);
    for (const c of this.visibilities) cuts.add(c.pos);
    if (join > 0) cuts.add(join - 1);
    const sorted = [...cuts].sort((a, b) => a - b);
    const out: [number, number][] = [];
    for (let i = 1; i < sorted.length; i++) {
      const lo = sorted[i - 1]!, hi = sorted[i]!;
      // Constant over (lo, hi]: decide at hi.
      if (!this.allowed(valueBefore(this.visibilities, hi, "shared"), valueBefore(this.memberships, hi, "leave"), hi)) continue;
      const last = out[out.length - 1];
      if (last && last[1] === lo) last[1] = hi;
      else out.push([lo, hi]);
    }
    return out;
  }

  /**
   * Every event after this position is visible to the user: they are joined since it, or the
   * room is world-readable since it. Past the end of the stream if neither holds.
   */
  openSince(): number {
    let open = Number.MAX_SAFE_INTEGER;
    const m = this.memberships[this.memberships.length - 1];
    if (m?.value === "join") open = m.pos;
    const v = this.visibilities[this.visibilities.length - 1];
    if (v?.value === "world_readable") open = Math.min(open, v.pos);
    return open;
  }

  /**
   * Below this position nothing can be visible, so pagination can stop there. A user who ever
   * joined may see old history (shared visibility, the default before any setting).
   */
  floor(): number {
    if (this.visibilities.some((v) => v.value === "world_readable")) return 0;
    if (this.memberships.some((m) => m.value === "join")) return 0;
    const invite = this.memberships.find((m) => m.value === "invite");
    return invite ? Math.max(0, invite.pos - 1) : Number.MAX_SAFE_INTEGER;
  }
}
