// Erased users (deactivated with `erase: true`). Their events stay in the rooms, but anyone who
// was not joined when an event was sent sees it redacted (as the room version redacts), so
// people who join later never read them; those who were there keep what they saw.
// https://spec.matrix.org/latest/client-server-api/#post_matrixclientv3accountdeactivate
// The set is small and kept in memory by every process (loaded at start, kept by the bus).
import type { UserId } from "../matrix/ids.js";
import { redactClientEvent } from "../matrix/events.js";
import type { Db } from "../store/db.js";
import type { EventRow } from "../store/events.js";
import type { Bus } from "./bus.js";

const erased = new Set<string>();

export function isErased(userId: string): boolean {
  return erased.size > 0 && erased.has(userId);
}

/** The row as a viewer who was not joined when it was sent may see it: redacted if its sender is erased. */
export function erasedForm(row: EventRow, version: string): EventRow {
  return { ...row, event: { ...redactClientEvent(row.event, version), unsigned: { ...(row.event.unsigned ?? {}) } } };
}

export class ErasureService {
  constructor(private readonly db: Db, private readonly bus: Bus) {
    bus.onMessage((m) => { if (m.k === "erased") erased.add(m.user); });
  }

  async load(): Promise<void> {
    const rows = await this.db("users").where({ erased: true }).select("user_id");
    for (const r of rows as { user_id: string }[]) erased.add(r.user_id);
  }

  /** Marks the user erased here and in every other process. */
  async erase(userId: UserId): Promise<void> {
    await this.db("users").where({ user_id: userId }).update({ erased: true });
    erased.add(userId);
    this.bus.publish({ k: "erased", user: userId });
  }
}
