// The app's model of the account: rooms, their timelines, members, receipts, typing and
// presence, folded from the socket's sync frames and the SDK's local echoes. Views read it and
// re-render when `version` moves (one subscription, no framework store).
import type { GanglionClient, Json, LocalMessage, MatrixEvent, MessageState, SyncResponse } from "@ganglion/client";

export interface Member { userId: string; membership: string; displayname: string | null; avatarUrl: string | null }
export interface Presence { presence: string; lastActiveAgo: number | null; currentlyActive: boolean; statusMsg: string | null }

export interface Room {
  id: string;
  membership: "join" | "invite" | "leave";
  /** The main timeline, oldest first (thread replies, edits and reactions are folded in elsewhere). */
  events: MatrixEvent[];
  byId: Map<string, MatrixEvent>;
  /** The position of every event seen, main timeline or not (receipts compare positions). */
  pos: Map<string, number>;
  state: Map<string, MatrixEvent>;
  members: Map<string, Member>;
  /** The newest edit of an event (m.replace), by the edited event's ID. */
  edits: Map<string, MatrixEvent>;
  /** Reactions: target → key → sender → the reaction's event ID. */
  reactions: Map<string, Map<string, Map<string, string>>>;
  /** Thread replies by root, oldest first. */
  threads: Map<string, MatrixEvent[]>;
  redacted: Set<string>;
  /** The newest receipt of each user, per receipt type. */
  receipts: Map<string, Map<string, string>>;
  typing: string[];
  unread: number;
  highlights: number;
  /** Where /messages continues backwards; null at the room's start. */
  prevBatch: string | null;
  lastTs: number;
  inviter: string | null;
}

const DELIVERED = "org.ganglion.delivered";
const HIDDEN = new Set(["m.reaction", "m.room.redaction"]);

export class Store {
  readonly rooms = new Map<string, Room>();
  readonly presence = new Map<string, Presence>();
  /** Local echoes and sent messages of this session, by transaction ID. */
  readonly local = new Map<string, LocalMessage>();
  version = 0;
  private seq = 0;
  private listeners = new Set<() => void>();
  private scheduled = false;

  constructor(readonly userId: string) {}

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Views re-render once per task, however many frames arrived. */
  changed(): void {
    this.version++;
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => { this.scheduled = false; for (const fn of this.listeners) fn(); });
  }

  attach(client: GanglionClient): void {
    client.on("sync", (res) => { this.applySync(res); this.changed(); });
    client.on("message", (m) => { this.local.set(m.txnId, m); this.changed(); });
    for (const m of client.pending) this.local.set(m.txnId, m);
  }

  room(id: string): Room {
    let r = this.rooms.get(id);
    if (!r) {
      r = {
        id, membership: "join", events: [], byId: new Map(), pos: new Map(), state: new Map(), members: new Map(), edits: new Map(),
        reactions: new Map(), threads: new Map(), redacted: new Set(), receipts: new Map(), typing: [], unread: 0, highlights: 0,
        prevBatch: null, lastTs: 0, inviter: null,
      };
      this.rooms.set(id, r);
    }
    return r;
  }

  applySync(res: SyncResponse): void {
    for (const [id, j] of Object.entries(res.rooms?.join ?? {})) {
      const r = this.room(id);
      r.membership = "join";
      for (const ev of j.state?.events ?? []) this.setState(r, ev);
      const tl = j.timeline;
      if (tl?.limited) {
        // A gap: what was shown is no longer contiguous with the new events; start again from them.
        r.events = []; r.byId.clear();
      }
      // Nothing before the room's creation: no "load older" for a room whose window starts there.
      if (tl && (tl.limited || r.prevBatch === null && r.events.length === 0)) r.prevBatch = tl.events.some((e) => e.type === "m.room.create") ? null : tl.prev_batch ?? null;
      for (const ev of tl?.events ?? []) this.addEvent(r, ev, "end");
      for (const e of j.ephemeral?.events ?? []) this.ephemeral(r, e);
      if (j.unread_notifications) {
        r.unread = j.unread_notifications.notification_count ?? 0;
        r.highlights = j.unread_notifications.highlight_count ?? 0;
      }
    }
    for (const [id, inv] of Object.entries(res.rooms?.invite ?? {})) {
      const r = this.room(id);
      r.membership = "invite";
      for (const ev of (inv.invite_state?.events ?? []) as unknown as MatrixEvent[]) {
        this.setState(r, ev);
        if (ev.type === "m.room.member" && ev.state_key === this.userId) r.inviter = ev.sender;
      }
      r.lastTs = Math.max(r.lastTs, Date.now());
    }
    for (const [id, left] of Object.entries(res.rooms?.leave ?? {})) {
      const r = this.rooms.get(id);
      if (!r) continue;
      for (const ev of left.timeline?.events ?? []) this.addEvent(r, ev, "end");
      r.membership = "leave";
    }
    for (const p of (res.presence?.events ?? []) as { sender?: string; content?: Json }[]) {
      if (!p.sender || !p.content) continue;
      this.presence.set(p.sender, {
        presence: String(p.content.presence ?? "offline"),
        lastActiveAgo: typeof p.content.last_active_ago === "number" ? p.content.last_active_ago : null,
        currentlyActive: p.content.currently_active === true,
        statusMsg: typeof p.content.status_msg === "string" ? p.content.status_msg : null,
      });
    }
  }

  /** A page of history from /messages (newest first, as `dir=b` answers). */
  applyHistory(roomId: string, chunk: MatrixEvent[], state: MatrixEvent[] | undefined, end: string | undefined): void {
    const r = this.room(roomId);
    for (const ev of state ?? []) if (!r.members.has(ev.state_key ?? "")) this.setState(r, ev, false);
    for (const ev of chunk) this.addEvent(r, ev, "start");
    r.prevBatch = end && !chunk.some((e) => e.type === "m.room.create") ? end : null;
    this.changed();
  }

  /** Older events outside the main timeline's pages (a thread's replies from /relations, newest first). */
  applyOlder(roomId: string, chunk: MatrixEvent[]): void {
    const r = this.room(roomId);
    for (const ev of chunk) this.addEvent(r, ev, "start");
    this.changed();
  }

  private setState(r: Room, ev: MatrixEvent, current = true): void {
    if (ev.state_key === undefined) return;
    if (current) r.state.set(`${ev.type}\u0000${ev.state_key}`, ev);
    if (ev.type === "m.room.member") {
      const c = ev.content ?? {};
      r.members.set(ev.state_key, {
        userId: ev.state_key, membership: String(c.membership ?? "leave"),
        displayname: typeof c.displayname === "string" && c.displayname ? c.displayname : null,
        avatarUrl: typeof c.avatar_url === "string" ? c.avatar_url : null,
      });
      if (ev.state_key === this.userId && current && c.membership !== "join" && c.membership !== "invite") r.membership = "leave";
    }
  }

  private addEvent(r: Room, ev: MatrixEvent, at: "start" | "end"): void {
    if (r.pos.has(ev.event_id) && r.byId.has(ev.event_id)) return;
    // Older pages get positions below every live event's, so receipts still compare right.
    r.pos.set(ev.event_id, at === "end" ? ++this.seq : -(++this.seq));
    if (at === "end") {
      if (ev.state_key !== undefined) this.setState(r, ev);
      r.lastTs = Math.max(r.lastTs, ev.origin_server_ts);
    }
    if (ev.unsigned?.redacted_because) r.redacted.add(ev.event_id);
    const rel = (ev.content?.["m.relates_to"] ?? {}) as { rel_type?: string; event_id?: string; key?: string };
    if (ev.type === "m.room.redaction") {
      const target = ev.redacts ?? (ev.content?.redacts as string | undefined);
      if (target) this.redact(r, target);
      return;
    }
    if (ev.type === "m.reaction" && rel.rel_type === "m.annotation" && rel.event_id && typeof rel.key === "string") {
      if (r.redacted.has(ev.event_id)) return;
      let byKey = r.reactions.get(rel.event_id);
      if (!byKey) r.reactions.set(rel.event_id, (byKey = new Map()));
      let senders = byKey.get(rel.key);
      if (!senders) byKey.set(rel.key, (senders = new Map()));
      senders.set(ev.sender, ev.event_id);
      r.byId.set(ev.event_id, ev);
      return;
    }
    if (rel.rel_type === "m.replace" && rel.event_id) {
      const prev = r.edits.get(rel.event_id);
      if (!prev || prev.origin_server_ts <= ev.origin_server_ts) r.edits.set(rel.event_id, ev);
      r.byId.set(ev.event_id, ev);
      return;
    }
    // Bundled edits of events from history.
    const bundledEdit = (ev.unsigned?.["m.relations"] as { "m.replace"?: MatrixEvent } | undefined)?.["m.replace"];
    if (bundledEdit?.content && !r.edits.has(ev.event_id)) r.edits.set(ev.event_id, bundledEdit);
    r.byId.set(ev.event_id, ev);
    if (rel.rel_type === "m.thread" && rel.event_id) {
      const list = r.threads.get(rel.event_id) ?? [];
      if (!list.some((e) => e.event_id === ev.event_id)) {
        if (at === "end") list.push(ev); else list.unshift(ev);
      }
      r.threads.set(rel.event_id, list);
      return;
    }
    if (HIDDEN.has(ev.type)) return;
    if (at === "end") r.events.push(ev); else r.events.unshift(ev);
  }

  private redact(r: Room, target: string): void {
    r.redacted.add(target);
    const ev = r.byId.get(target);
    if (ev?.type === "m.reaction") {
      const rel = ev.content["m.relates_to"] as { event_id?: string; key?: string } | undefined;
      const senders = rel?.event_id && rel.key !== undefined ? r.reactions.get(rel.event_id)?.get(rel.key) : undefined;
      senders?.delete(ev.sender);
      if (senders && senders.size === 0) r.reactions.get(rel!.event_id!)?.delete(rel!.key!);
    }
  }

  private ephemeral(r: Room, e: Json): void {
    if (e.type === "m.typing") {
      const ids = (e.content as { user_ids?: unknown })?.user_ids;
      r.typing = Array.isArray(ids) ? ids.filter((u): u is string => typeof u === "string" && u !== this.userId) : [];
    } else if (e.type === "m.receipt") {
      for (const [eventId, byType] of Object.entries((e.content ?? {}) as Record<string, Record<string, Record<string, unknown>>>)) {
        for (const [type, users] of Object.entries(byType)) {
          for (const user of Object.keys(users)) {
            let mine = r.receipts.get(user);
            if (!mine) r.receipts.set(user, (mine = new Map()));
            const cur = mine.get(type);
            // Receipts only move forward; an older one (or one on an event not loaded) does not undo a newer.
            if (!cur || (r.pos.get(eventId) ?? Infinity) >= (r.pos.get(cur) ?? -Infinity)) mine.set(type, eventId);
          }
        }
      }
    }
  }

  // ---- what views ask

  name(r: Room): string {
    const n = r.state.get("m.room.name\u0000")?.content?.name;
    if (typeof n === "string" && n) return n;
    const alias = r.state.get("m.room.canonical_alias\u0000")?.content?.alias;
    if (typeof alias === "string" && alias) return alias;
    const others = [...r.members.values()].filter((m) => m.userId !== this.userId && (m.membership === "join" || m.membership === "invite"));
    if (others.length) return others.slice(0, 3).map((m) => m.displayname ?? m.userId).join(", ");
    return "Empty room";
  }

  displayName(r: Room | undefined, userId: string): string {
    return r?.members.get(userId)?.displayname ?? userId;
  }

  /** The body shown for an event: its newest edit, or a note when it was deleted. */
  body(r: Room, ev: MatrixEvent): string {
    if (r.redacted.has(ev.event_id)) return "Message deleted";
    if (ev.type === "m.room.encrypted") return "🔒 Encrypted message";
    const edit = r.edits.get(ev.event_id);
    const nc = (edit?.content?.["m.new_content"] ?? null) as Json | null;
    const body = nc?.body ?? ev.content?.body;
    return typeof body === "string" ? body : "";
  }

  lastMessage(r: Room): MatrixEvent | undefined {
    for (let i = r.events.length - 1; i >= 0; i--) if (r.events[i]!.type === "m.room.message" || r.events[i]!.type === "m.room.encrypted") return r.events[i];
    return undefined;
  }

  /** Local echoes of the room not (yet) in its timeline. */
  pendingIn(r: Room): LocalMessage[] {
    return [...this.local.values()].filter((m) => m.roomId === r.id && m.type === "m.room.message" && !(m.eventId && r.byId.has(m.eventId)) && !isThreaded(m.content));
  }

  /**
   * The tick of one of our events: the SDK's state while this session sent it, and in any case
   * what the other members' receipts say (a receipt at or after the event).
   */
  tick(r: Room, ev: MatrixEvent): MessageState {
    const local = ev.unsigned?.transaction_id ? this.local.get(ev.unsigned.transaction_id) : [...this.local.values()].find((m) => m.eventId === ev.event_id);
    const rank: Record<MessageState, number> = { failed: -1, sending: 0, sent: 1, delivered: 2, read: 3 };
    let best: MessageState = local?.state === "delivered" || local?.state === "read" ? local.state : "sent";
    const at = r.pos.get(ev.event_id);
    if (at === undefined) return best;
    for (const [user, byType] of r.receipts) {
      if (user === this.userId) continue;
      for (const [type, id] of byType) {
        const p = r.pos.get(id);
        if (p === undefined || p < at) continue;
        const s: MessageState | null = type === "m.read" ? "read" : type === DELIVERED ? "delivered" : null;
        if (s && rank[s] > rank[best]) best = s;
      }
    }
    return best;
  }

  /** Rooms for the list: invites first, then by newest activity. */
  roomList(): Room[] {
    return [...this.rooms.values()].filter((r) => r.membership !== "leave")
      .sort((a, b) => (a.membership === "invite" ? 0 : 1) - (b.membership === "invite" ? 0 : 1) || b.lastTs - a.lastTs);
  }

  joinedMembers(r: Room): Member[] {
    return [...r.members.values()].filter((m) => m.membership === "join").sort((a, b) => (a.displayname ?? a.userId).localeCompare(b.displayname ?? b.userId));
  }
}

export function isThreaded(content: Json): boolean {
  return (content["m.relates_to"] as { rel_type?: string } | undefined)?.rel_type === "m.thread";
}
