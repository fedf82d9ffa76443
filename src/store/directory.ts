// room_aliases, rooms.is_public, forgotten_rooms.
import type { RoomId, UserId } from "../matrix/ids.js";
import type { Queryable } from "./db.js";

export async function insertAlias(q: Queryable, alias: string, roomId: RoomId, creator: UserId): Promise<boolean> {
  const r = await q.raw(`INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    [alias, roomId, creator, Date.now()]);
  return (r.rowCount ?? 0) === 1;
}

export async function selectAlias(q: Queryable, alias: string): Promise<{ roomId: RoomId; creator: UserId } | null> {
  const r = await q("room_aliases").where({ alias }).first();
  return r ? { roomId: r.room_id, creator: r.creator } : null;
}

export async function deleteAlias(q: Queryable, alias: string): Promise<void> {
  await q("room_aliases").where({ alias }).delete();
}

export async function selectRoomAliases(q: Queryable, roomId: RoomId): Promise<string[]> {
  const rows = await q("room_aliases").where({ room_id: roomId }).orderBy("created_ts").select("alias");
  return rows.map((r: { alias: string }) => r.alias);
}

/** A room upgrade: the room's aliases now name its replacement. */
export async function moveAliases(q: Queryable, from: RoomId, to: RoomId): Promise<void> {
  await q("room_aliases").where({ room_id: from }).update({ room_id: to });
}

export async function selectRoomPublic(q: Queryable, roomId: RoomId): Promise<boolean> {
  const r = await q("rooms").where({ room_id: roomId }).first("is_public");
  return r?.is_public === true;
}

export async function setRoomPublic(q: Queryable, roomId: RoomId, isPublic: boolean): Promise<void> {
  await q("rooms").where({ room_id: roomId }).update({ is_public: isPublic });
}

/** An application service's own list for one of its networks (PUT/DELETE /directory/list/appservice/…). */
export async function setAppserviceListed(q: Queryable, appserviceId: string, networkId: string, roomId: RoomId, listed: boolean): Promise<void> {
  if (listed) await q.raw(`INSERT INTO appservice_room_lists (appservice_id, network_id, room_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, [appserviceId, networkId, roomId]);
  else await q("appservice_room_lists").where({ appservice_id: appserviceId, network_id: networkId, room_id: roomId }).delete();
}

/** Rooms of one application service network's list, or of every such list (null). */
export async function selectAppserviceListed(q: Queryable, instance: { appserviceId: string; networkId: string } | null): Promise<RoomId[]> {
  const rows = instance
    ? await q("appservice_room_lists").where({ appservice_id: instance.appserviceId, network_id: instance.networkId }).select("room_id")
    : await q("appservice_room_lists").distinct("room_id");
  return rows.map((r: { room_id: RoomId }) => r.room_id);
}

export async function selectPublicRoomIds(q: Queryable): Promise<RoomId[]> {
  const rows = await q("rooms").where({ is_public: true }).select("room_id");
  return rows.map((r: { room_id: RoomId }) => r.room_id);
}

export async function insertForgotten(q: Queryable, userId: UserId, roomId: RoomId): Promise<void> {
  await q.raw(`INSERT INTO forgotten_rooms (user_id, room_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, [userId, roomId]);
}

export async function deleteForgotten(q: Queryable, userId: UserId, roomId: RoomId): Promise<void> {
  await q("forgotten_rooms").where({ user_id: userId, room_id: roomId }).delete();
}

export async function selectForgotten(q: Queryable, userId: UserId): Promise<Set<RoomId>> {
  const rows = await q("forgotten_rooms").where({ user_id: userId }).select("room_id");
  return new Set(rows.map((r: { room_id: RoomId }) => r.room_id));
}
