// The shape of a /sync response: room summaries, and whether a response carries anything.
import type { ClientEvent } from "../matrix/events.js";
import type { UserId } from "../matrix/ids.js";

type Json = Record<string, unknown>;

/** Puts each room's unread counts into its section (threaded: main timeline and threads apart). */
export function putUnread(join: Json, counts: Map<string, { total: Json | object; main: Json | object; threads: Record<string, unknown> }>, threaded: boolean): void {
  for (const [roomId, u] of counts) {
    const section = join[roomId] as Json;
    if (threaded) {
      section.unread_notifications = u.main;
      if (Object.keys(u.threads).length) section.unread_thread_notifications = u.threads;
    } else section.unread_notifications = u.total;
  }
}

/** Room summary (spec: m.heroes, counts) from the room's membership events. */
export function summary(members: ClientEvent[], userId: UserId): Json {
  let joined = 0;
  let invited = 0;
  const heroes: string[] = [];
  for (const ev of [...members].sort((a, b) => (a.state_key! < b.state_key! ? -1 : 1))) {
    const m = ev.content.membership;
    if (m === "join") joined++;
    else if (m === "invite") invited++;
    else continue;
    if (ev.state_key !== userId && heroes.length < 5) heroes.push(ev.state_key!);
  }
  return { "m.heroes": heroes, "m.joined_member_count": joined, "m.invited_member_count": invited };
}

export function isEmpty(res: Json): boolean {
  const rooms = res.rooms as Record<string, Json>;
  return Object.keys(rooms.join!).length === 0 && Object.keys(rooms.invite!).length === 0 && Object.keys(rooms.leave!).length === 0
    && Object.keys(rooms.knock!).length === 0
    && ((res.account_data as { events: unknown[] }).events.length === 0)
    && ((res.presence as { events: unknown[] }).events.length === 0)
    && ((res.to_device as { events: unknown[] }).events.length === 0)
    && ((res.device_lists as { changed: unknown[]; left: unknown[] }).changed.length === 0)
    && ((res.device_lists as { changed: unknown[]; left: unknown[] }).left.length === 0);
}
