// The deprecated streams, still in the spec and used by older clients, room previews and
// tests: GET /initialSync, GET /rooms/{roomId}/initialSync, GET /events (with room_id to peek
// into a world-readable room) and GET /events/{eventId}. Each is a reshaping of what the sync
// engine (sync.ts) or the room reader (room-read.ts) already answer, with the same checks.
// https://spec.matrix.org/latest/client-server-api/#get_matrixclientv3initialsync
import { MatrixError, forbidden, notFound } from "../http/errors.js";
import type { ClientEvent } from "../matrix/events.js";
import type { RoomId, UserId } from "../matrix/ids.js";
import { formatToken, parseToken } from "../matrix/tokens.js";
import { stringifyJson } from "../matrix/raw-json.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import * as accountData from "../store/account-data.js";
import type { DirectoryService } from "./directory.js";
import type { PresenceService } from "./presence.js";
import type { RoomReadService } from "./room-read.js";
import { serialize } from "./room-read.js";
import type { SyncService } from "./sync.js";
import type { Requester } from "./tokens.js";
import type { Notifier } from "./notifier.js";
import { Visibility } from "./visibility.js";
import type { TypingService } from "./typing.js";
import type { ReceiptService } from "./receipts.js";
import type { RoomStateCache } from "./room-state.js";

type Json = Record<string, unknown>;

/** A sync response as plain objects (its events are shared, pre-serialised text: raw-json.ts). */
const plain = (res: Json): Json => JSON.parse(stringifyJson(res)) as Json;

/** Events as the old API wrote them: with `user_id`, the sender. */
const old = (e: Json | ClientEvent): Json => ({ ...e, user_id: (e as Json).sender });
type Section = { timeline: { events: Json[]; prev_batch: string }; state: { events: Json[] }; account_data: { events: Json[] }; ephemeral?: { events: Json[] } };

/** How many events /events returns at most per room and call. */
const STREAM_LIMIT = 100;
/** How often /events looks again at a room it peeks into (no wake-up reaches a non-member). */
const PEEK_POLL_MS = 250;

export class LegacyStreams {
  constructor(
    private readonly db: Db,
    private readonly sync: SyncService,
    private readonly reader: RoomReadService,
    private readonly presence: PresenceService,
    private readonly directory: DirectoryService,
    private readonly notifier: Notifier,
    private readonly typing: TypingService,
    private readonly receipts: ReceiptService,
    private readonly cache: RoomStateCache,
  ) {}

  /** Presence as the old API wrote it: user_id in the content, status_msg always there. */
  private presenceEvent(userId: string): Json {
    const c = this.presence.content(userId as UserId);
    return { type: "m.presence", sender: userId, content: { user_id: userId, status_msg: null, last_active_ago: 0, ...c } };
  }

  /** GET /initialSync */
  async initialSync(who: Requester, limit: number, archived: boolean): Promise<Json> {
    const res = plain(await this.sync.sync(who, { since: null, timeoutMs: 0, fullState: false, filter: { room: { timeline: { limit }, include_leave: archived } } }));
    const rooms: Json[] = [];
    const r = res.rooms as Record<string, Record<string, Json>>;
    const end = String(res.next_batch);
    const receipts: Json[] = [];
    for (const [roomId, s] of Object.entries(r.join ?? {}) as [RoomId, Section][]) {
      for (const e of s.ephemeral?.events ?? []) if (e.type === "m.receipt") receipts.push({ ...e, room_id: roomId });
    }
    for (const [roomId, s] of Object.entries(r.join ?? {}) as [RoomId, Section][]) {
      rooms.push({
        room_id: roomId, membership: "join", visibility: await this.directory.visibility(roomId),
        messages: { chunk: s.timeline.events.map(old), start: s.timeline.prev_batch, end },
        state: (await this.reader.state(who, roomId)).map(old), account_data: s.account_data.events,
      });
    }
    for (const [roomId, s] of Object.entries(r.invite ?? {})) {
      const stripped = (s as { invite_state: { events: Json[] } }).invite_state.events;
      rooms.push({ room_id: roomId, membership: "invite", invite: stripped[stripped.length - 1], state: stripped });
    }
    for (const [roomId, s] of Object.entries(r.leave ?? {}) as [RoomId, Section][]) {
      rooms.push({
        room_id: roomId, membership: "leave", visibility: await this.directory.visibility(roomId),
        messages: { chunk: s.timeline.events.map(old), start: s.timeline.prev_batch, end }, state: s.state.events.map(old), account_data: s.account_data.events,
      });
    }
    const users = new Set([who.userId as string, ...((res.presence as { events: Json[] }).events).map((e) => String(e.sender))]);
    const presence = [...users].map((u) => this.presenceEvent(u));
    return { end, rooms, presence, receipts, account_data: (res.account_data as { events: Json[] }).events };
  }

  /** GET /rooms/{roomId}/initialSync: members, and anyone for a world-readable room. */
  async roomInitialSync(who: Requester, roomId: RoomId, limit: number): Promise<Json> {
    const a = await this.reader.access(who.userId, roomId);
    const page = await this.reader.messages(who, roomId, { from: null, to: null, dir: "b", limit });
    const chunk = (page.chunk as Json[]).reverse().map(old);
    const state = (await this.reader.state(who, roomId)).map(old);
    // Presence only to members (a departed user, a peeking one, learns none).
    const members = a.membership !== "join" ? [] : state.filter((e) => e.type === "m.room.member" && (e.content as Json).membership === "join").map((e) => String(e.state_key));
    const ad = (await accountData.selectAccountDataSince(this.db, who.userId, -1, Number.MAX_SAFE_INTEGER)).filter((x) => x.roomId === roomId);
    return {
      room_id: roomId,
      membership: a.membership,
      visibility: await this.directory.visibility(roomId),
      messages: { chunk, start: (page.end as string | undefined) ?? page.start, end: page.start },
      state,
      presence: members.map((u) => this.presenceEvent(u)),
      receipts: [],
      account_data: ad.map((x) => ({ type: x.type, content: x.content })),
    };
  }

  /**
   * GET /events: what happened after `from` in the user's rooms (timeline events, typing,
   * presence), waiting up to `timeoutMs` for something; or, with `roomId`, in that room, which a
   * non-member may follow if it is world-readable.
   */
  async events(who: Requester, from: string | undefined, timeoutMs: number, roomId: RoomId | null, signal?: AbortSignal): Promise<Json> {
    const start = from ?? formatToken(this.notifier.currentPos);
    if (who.isGuest && !roomId) throw new MatrixError(403, "M_GUEST_ACCESS_FORBIDDEN", "Guests must name a room (room_id)");
    if (roomId) {
      const a = await this.reader.access(who.userId, roomId);
      if (a.membership !== "join") {
        if (!a.worldReadable) throw forbidden("You are not in this room");
        return this.peek(who, roomId, start, timeoutMs, signal);
      }
    }
    const t = parseToken(start, "from");
    const res = plain(await this.sync.sync(who, {
      since: t.pos, sinceTyping: t.ephemeral[0] ?? 0, sincePresence: t.ephemeral[1] ?? 0, timeoutMs, fullState: false, setPresence: "offline", signal,
      filter: { room: { timeline: { limit: STREAM_LIMIT }, ...(roomId ? { rooms: [roomId] } : {}) } },
    }));
    const chunk: Json[] = [];
    for (const [id, s] of Object.entries((res.rooms as Record<string, Record<string, Section>>).join ?? {})) {
      for (const e of s.timeline.events) chunk.push(old({ ...e, room_id: id }));
      for (const e of s.ephemeral?.events ?? []) if (e.type === "m.typing" || e.type === "m.receipt") chunk.push({ ...e, room_id: id });
      for (const e of s.account_data.events) chunk.push({ ...e, room_id: id });
    }
    for (const e of (res.account_data as { events: Json[] }).events) chunk.push(e);
    chunk.sort((x, y) => Number(x.origin_server_ts ?? 0) - Number(y.origin_server_ts ?? 0));
    for (const e of (res.presence as { events: Json[] }).events) chunk.push(this.presenceEvent(String(e.sender)));
    return { chunk, start, end: String(res.next_batch) };
  }

  /**
   * /events?room_id= for a world-readable room the user is not in: polls the room for its
   * events, typing, receipts and its members' presence (the token carries the typing and
   * presence serials after the stream position, as /sync's does).
   */
  private async peek(who: Requester, roomId: RoomId, from: string, timeoutMs: number, signal?: AbortSignal): Promise<Json> {
    const t = parseToken(from, "from");
    let after = t.pos;
    const sinceTyping = t.ephemeral[0] ?? this.typing.serial;
    const sincePresence = t.ephemeral[1] ?? this.presence.serial;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const upTo = this.notifier.currentPos;
      const typingSerial = this.typing.serial;
      const presenceSerial = this.presence.serial;
      const rows = upTo > after ? await events.selectRoomEvents(this.db, roomId, after, upTo, "f", STREAM_LIMIT) : [];
      // History visibility still decides (the room may stop being world-readable).
      const vis = rows.length ? await Visibility.load(this.db, roomId, who.userId) : null;
      const shown = rows.filter((r) => vis!.canSee(r.event, r.pos));
      const end = rows.length ? rows[rows.length - 1]!.pos : Math.max(after, upTo);
      const chunk: Json[] = (vis ? vis.present(shown, (await this.cache.get(roomId))?.version ?? "10") : shown).map((r) => old(serialize(r, who)));
      const typing = this.typing.forSync([roomId], sinceTyping).get(roomId);
      if (typing) chunk.push({ type: "m.typing", room_id: roomId, content: { user_ids: typing } });
      const receipts = (await this.receipts.forSync(who.userId, [roomId], after, end)).get(roomId);
      if (receipts) chunk.push({ type: "m.receipt", room_id: roomId, content: receipts });
      const room = await this.cache.get(roomId);
      for (const u of room ? this.presence.changedAmong(room.joined, sincePresence) : []) chunk.push(this.presenceEvent(u));
      if (chunk.length || Date.now() >= deadline || signal?.aborted) {
        return { chunk, start: from, end: formatToken(end, [typingSerial, presenceSerial]) };
      }
      if (rows.length) { after = end; continue; } // only events the user may not see: on from there
      await new Promise((r) => setTimeout(r, Math.min(PEEK_POLL_MS, Math.max(0, deadline - Date.now()))));
    }
  }

  /** GET /events/{eventId}: the event, if the user may see it. */
  async event(who: Requester, eventId: string): Promise<ClientEvent> {
    const row = await events.selectEventById(this.db, eventId);
    if (!row) throw notFound("Event not found");
    try {
      return await this.reader.event(who, row.event.room_id as RoomId, eventId);
    } catch (e) {
      if (e instanceof MatrixError && e.status === 403) throw notFound("Event not found");
      throw e;
    }
  }
}
