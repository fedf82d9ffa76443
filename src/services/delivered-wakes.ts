// Delivered receipts (delivery-receipts.ts) wake a room once per batch, not once per receipt:
// every member's device acknowledges a message within moments, and a wake per receipt would be
// members² sync computations per message. Used where they are written and where another
// process's are followed (replicator.ts), so both wake alike.
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Notifier } from "./notifier.js";
import type { RoomState } from "./room-state.js";

/** How long delivered receipts of a room gather before they wake its members. */
const BATCH_MS = 50;

export class DeliveredWakes {
  private readonly pending = new Map<RoomId, { room: RoomState; owners: Set<UserId>; pos: number }>();

  constructor(private readonly notifier: Notifier) {}

  /**
   * A delivered receipt of `owner` at stream position `pos`. The batch wakes every member but
   * a lone owner (their own mark is no news to them, and is not sent to them).
   */
  add(room: RoomState, owner: UserId, pos: number): void {
    // Marked at once, woken later: a sync in between must not read past it unaware.
    this.notifier.receiptMarked(room.roomId, pos);
    const b = this.pending.get(room.roomId);
    if (b) {
      b.owners.add(owner);
      b.pos = Math.max(b.pos, pos);
      return;
    }
    this.pending.set(room.roomId, { room, owners: new Set([owner]), pos });
    setTimeout(() => {
      const done = this.pending.get(room.roomId)!;
      this.pending.delete(room.roomId);
      const only = done.owners.size === 1 ? [...done.owners][0] : undefined;
      this.notifier.receipt(room.roomId, [...done.room.interested].filter((u) => u !== only), done.pos);
    }, BATCH_MS).unref();
  }
}
