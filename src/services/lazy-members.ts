// Lazy-loaded members: which membership events each device has been sent, per room, so an
// incremental sync sends a timeline sender's membership once (spec: lazy-loading room
// members; "the server SHOULD NOT send membership events which it has already sent", unless
// include_redundant_members). Kept in memory only: a device this process does not know (a
// restart, another process, the record dropped for room) is sent them again, which is
// redundant but never wrong.
import type { RoomId } from "../matrix/ids.js";
import type { Requester } from "./tokens.js";

/** The device a sync speaks for (an application service's user without a device: the user). */
export const lazyKey = (who: Requester): string => `${who.userId}|${who.deviceId ?? ""}`;

const MAX_DEVICES = 20_000;
/** Beyond this many members recorded for one device in one room, the record is dropped (resent). */
const MAX_PER_ROOM = 5_000;

export class LazyMembers {
  private readonly devices = new Map<string, Map<RoomId, Set<string>>>();

  /** An initial sync: the device starts again from nothing. */
  reset(device: string): void {
    this.devices.delete(device);
  }

  /** The device was sent these members' membership in the room. */
  sent(device: string, roomId: RoomId, userIds: Iterable<string>): void {
    let rooms = this.devices.get(device);
    if (!rooms) {
      if (this.devices.size >= MAX_DEVICES) this.devices.delete(this.devices.keys().next().value!);
      this.devices.set(device, (rooms = new Map()));
    }
    let set = rooms.get(roomId);
    if (!set) rooms.set(roomId, (set = new Set()));
    for (const u of userIds) set.add(u);
    if (set.size > MAX_PER_ROOM) rooms.delete(roomId);
  }

  /** Has the device been sent this member's membership in the room (as far as this process knows)? */
  has(device: string, roomId: RoomId, userId: string): boolean {
    return this.devices.get(device)?.get(roomId)?.has(userId) === true;
  }
}
