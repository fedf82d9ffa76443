// The room write path. Sends to one room queue behind each other; the writer persists every
// send waiting in the queue in one transaction (group commit) and acknowledges them after
// commit. Auth runs against the in-memory room state (DESIGN §4, §5).
import type { Logger } from "pino";
import { MatrixError, tooLarge } from "../http/errors.js";
import { checkEventAuth, type StateLookup } from "../matrix/auth-rules.js";
import { canonicalJson } from "../matrix/canonical-json.js";
import { eventIdOf, redactedForm, signAndIdentify, type ClientEvent, type Pdu } from "../matrix/events.js";
import { roomVersion } from "../matrix/room-versions.js";
import { buildPdu } from "./pdu.js";
import { relationOf } from "../matrix/relations.js";
import { searchDoc } from "../matrix/search-text.js";
import type { EventId, RoomId, UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as events from "../store/events.js";
import type { Notifier } from "./notifier.js";
import { RoomState, StateOverlay, type RoomStateCache } from "./room-state.js";
import type { SigningKey } from "./signing.js";

/** The spec's limit on a whole event in federation format (client-server: size limits). */
export const MAX_EVENT_BYTES = 65536;
const MAX_BATCH = 100;

export interface EventDraft {
  type: string;
  stateKey?: string;
  content: Record<string, unknown>;
  sender: UserId;
  /** Idempotency key of the client send: (sender, device, txnId). */
  txn?: { deviceId: string; txnId: string };
  /** origin_server_ts override (application services' `ts`). */
  ts?: number;
  redacts?: EventId;
  /** A redaction: the event it redacts (checked by the caller), redacted in the same write. */
  redactTarget?: ClientEvent;
  /** An m.replace the caller has checked (same sender, room, type): search follows the new text. */
  validatedEdit?: boolean;
}

export interface Written { eventId: EventId; pos: number; event: ClientEvent }

interface Pending {
  drafts: EventDraft[];
  create?: { version: string; creator: UserId };
  resolve(w: Written[]): void;
  reject(e: unknown): void;
}

interface Queue { items: Pending[]; running: boolean }

/** A room's built batch, waiting for the next commit. */
interface CommitItem {
  batch: events.RoomBatch;
  creating?: { version: string; creator: UserId };
  resolve(firstPos: number | null): void;
  reject(e: unknown): void;
}

export type CommitListener = (room: RoomState, written: Written[]) => void;

export interface WriterStats { commits: number; events: number; commitSeconds: number; conflicts: number }

export class EventWriter {
  private readonly queues = new Map<RoomId, Queue>();
  private readonly listeners: CommitListener[] = [];
  /** Totals since start, for /metrics. */
  readonly stats: WriterStats = { commits: 0, events: 0, commitSeconds: 0, conflicts: 0 };
  /** Room batches waiting for the next commit, and whether one is running. */
  private commitQueue: CommitItem[] = [];
  private committing = false;

  constructor(
    private readonly db: Db,
    private readonly cache: RoomStateCache,
    private readonly serverName: string,
    private readonly signing: SigningKey,
    private readonly notifier: Notifier,
    private readonly log: Logger,
    private readonly search: { enabled: boolean; language: string } = { enabled: true, language: "english" },
  ) {}

  onCommit(l: CommitListener): void {
    this.listeners.push(l);
  }

  /** Appends one event; resolves once it is committed. */
  async send(roomId: RoomId, draft: EventDraft): Promise<Written> {
    const [w] = await this.enqueue(roomId, { drafts: [draft] });
    return w!;
  }

  /** Appends several events atomically (all or none), in order. */
  async sendAll(roomId: RoomId, drafts: EventDraft[]): Promise<Written[]> {
    return this.enqueue(roomId, { drafts });
  }

  /** Creates a room with its initial events, atomically. */
  /** A room version 12 room's ID: `!` + the reference hash of its create event (MSC4291). */
  roomIdOfCreate(version: string, create: EventDraft): RoomId {
    const pdu = buildPdu(roomVersion(version), "" as RoomId, null, { get: () => undefined }, create, this.serverName);
    return `!${eventIdOf(pdu, version).slice(1)}` as RoomId;
  }

  async createRoom(roomId: RoomId, version: string, creator: UserId, drafts: EventDraft[]): Promise<Written[]> {
    return this.enqueue(roomId, { drafts, create: { version, creator } });
  }

  private enqueue(roomId: RoomId, p: Omit<Pending, "resolve" | "reject">): Promise<Written[]> {
    return new Promise<Written[]>((resolve, reject) => {
      let q = this.queues.get(roomId);
      if (!q) this.queues.set(roomId, (q = { items: [], running: false }));
      q.items.push({ ...p, resolve, reject });
      if (!q.running) void this.drain(roomId, q);
    });
  }

  private async drain(roomId: RoomId, q: Queue): Promise<void> {
    q.running = true;
    try {
      while (q.items.length) {
        const batch = q.items.splice(0, MAX_BATCH);
        await this.commitBatch(roomId, batch);
      }
    } finally {
      q.running = false;
      if (q.items.length === 0) this.queues.delete(roomId);
      else void this.drain(roomId, q);
    }
  }

  private async commitBatch(roomId: RoomId, batch: Pending[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const done = await this.tryCommit(roomId, batch, attempt > 0);
        if (done) return;
      } catch (e) {
        // A duplicate send txn committed by another process at the same moment: retry, and
        // the retry finds it and answers with its event.
        if (!((e as { code?: string }).code === "23505" && String((e as { constraint?: string }).constraint).startsWith("event_txns"))) {
          // One send the database refused must not fail the others it was batched with: each
          // goes again on its own (the batch was not committed, the statement is atomic).
          if (batch.length === 1) batch[0]!.reject(e);
          else for (const p of batch) await this.commitBatch(roomId, [p]);
          return;
        }
      }
      // The head moved under us (another process wrote to the room): reload and check again.
      this.cache.invalidate(roomId);
      if (attempt >= 5) {
        const e = new MatrixError(503, "M_UNKNOWN", "The room is too busy; try again");
        for (const p of batch) p.reject(e);
        return;
      }
    }
  }

  /**
   * One attempt. Returns false on a head conflict. Settles every pending it can.
   * The first attempt does not look up earlier sends with the same transaction IDs: a retried
   * send fails the unique key of event_txns instead, and the retry (checkTxns) answers it
   * with the event it made the first time. This keeps a query off every send.
   */
  private async tryCommit(roomId: RoomId, batch: Pending[], checkTxns: boolean): Promise<boolean> {
    const creating = batch[0]!.create;
    let room: RoomState | null;
    if (creating) {
      room = new RoomState(roomId, creating.version, new Map(), null, 0);
    } else {
      room = await this.cache.get(roomId);
      if (!room) {
        const e = new MatrixError(404, "M_NOT_FOUND", "Unknown room");
        for (const p of batch) p.reject(e);
        return true;
      }
    }
    const existingTxns = checkTxns ? await this.lookupTxns(batch) : new Map<string, EventId>();
    const overlay = new StateOverlay(room);
    let head = room.head;
    const rows: events.NewEventRow[] = [];
    const plan: { p: Pending; from: number; to: number; dup?: EventId[] }[] = [];
    const seenTxn = new Map<string, EventId>();
    for (const p of batch) {
      // A retried send returns the event it made the first time.
      const dups = p.drafts.map((d) => (d.txn ? existingTxns.get(txnKey(d)) ?? seenTxn.get(txnKey(d)) : undefined));
      if (dups.every((d) => d !== undefined)) {
        plan.push({ p, from: 0, to: 0, dup: dups as EventId[] });
        continue;
      }
      const cp = overlay.checkpoint();
      const savedHead = head;
      const from = rows.length;
      try {
        for (const d of p.drafts) {
          const row = this.build(room, overlay, head, d);
          rows.push(row);
          overlay.set(row.json);
          head = { eventId: row.eventId, depth: row.depth };
          if (d.txn) seenTxn.set(txnKey(d), row.eventId);
        }
        plan.push({ p, from, to: rows.length });
      } catch (e) {
        rows.length = from;
        overlay.restore(cp);
        head = savedHead;
        p.reject(e);
      }
    }
    let firstPos: number | null = null;
    if (rows.length) {
      firstPos = await this.commit({ roomId, expectedHead: creating ? null : room.head?.eventId ?? null, rows }, creating);
      if (firstPos === null) {
        this.stats.conflicts++;
        return false;
      }
    }
    // Committed. Update memory, tell listeners, then answer the clients.
    const written: Written[] = rows.map((r, i) => ({ eventId: r.eventId, pos: firstPos! + i, event: r.json }));
    for (let i = 0; i < written.length; i++) {
      const w = written[i]!;
      room.apply(w.event, w.pos);
      const t = rows[i]!.txn;
      room.remember({ pos: w.pos, event: w.event, txn: t ? { device: t.deviceId, id: t.txnId } : null });
    }
    if (rows.length) {
      room.head = head;
      if (creating) this.cache.put(room);
      else this.cache.committed(room);
      this.notifier.roomEvents(room, written);
      for (const l of this.listeners) {
        try { l(room, written); } catch (e) { this.log.error({ err: e }, "commit listener failed"); }
      }
    }
    // With several processes, answer once this process serves the new position, so that a
    // client reading right after its send (here) sees what it sent.
    const served = written.length ? this.notifier.reach(written[written.length - 1]!.pos) : Promise.resolve();
    for (const { p, from, to, dup } of plan) {
      if (dup) p.resolve(await this.resolveDuplicates(dup));
      else void served.then(() => p.resolve(written.slice(from, to)));
    }
    return true;
  }

  /**
   * Group commit across rooms: batches that become ready while a commit runs wait and go
   * together in the next one, a single statement. The stream counter row serialises commits
   * (so positions follow commit order); sending every ready room in one commit keeps rooms from
   * queueing one by one on that row. Resolves with the batch's first position, or null if
   * the room's head moved.
   */
  private commit(batch: events.RoomBatch, creating?: { version: string; creator: UserId }): Promise<number | null> {
    return new Promise((resolve, reject) => {
      this.commitQueue.push({ batch, creating, resolve, reject });
      if (!this.committing) void this.runCommits();
    });
  }

  private async runCommits(): Promise<void> {
    this.committing = true;
    try {
      while (this.commitQueue.length) {
        const items = this.commitQueue;
        this.commitQueue = [];
        try {
          const result = await this.appendAll(items);
          for (const it of items) it.resolve(result.get(it.batch.roomId) ?? null);
        } catch (e) {
          if (items.length === 1) {
            items[0]!.reject(e);
            continue;
          }
          // One batch failed the statement (a duplicate send, say): commit them one by one,
          // so only that batch sees the error.
          for (const it of items) {
            try {
              it.resolve((await this.appendAll([it])).get(it.batch.roomId) ?? null);
            } catch (e2) {
              it.reject(e2);
            }
          }
        }
      }
    } finally {
      this.committing = false;
    }
  }

  private async appendAll(items: CommitItem[]): Promise<Map<RoomId, number>> {
    const started = process.hrtime.bigint();
    const creates = items.filter((i) => i.creating);
    // A plain append is one statement, atomic on its own: one round trip. New rooms need their
    // row first, in the same transaction.
    const result = creates.length
      ? await this.db.transaction(async (trx) => {
        for (const c of creates) await events.insertRoom(trx, c.batch.roomId, c.creating!.version, c.creating!.creator);
        return events.appendEvents(trx, items.map((i) => i.batch), this.search.language);
      })
      : await events.appendEvents(this.db, items.map((i) => i.batch), this.search.language);
    this.stats.commitSeconds += Number(process.hrtime.bigint() - started) / 1e9;
    this.stats.commits++;
    for (const it of items) if (result.has(it.batch.roomId)) this.stats.events += it.batch.rows.length;
    return result;
  }

  private async resolveDuplicates(ids: EventId[]): Promise<Written[]> {
    const found = await events.selectEventsByIds(this.db, ids);
    return ids.map((id) => {
      const r = found.get(id);
      return { eventId: id, pos: r?.pos ?? 0, event: r?.event ?? ({ event_id: id } as ClientEvent) };
    });
  }

  private async lookupTxns(batch: Pending[]): Promise<Map<string, EventId>> {
    const byDevice = new Map<string, { userId: UserId; deviceId: string; txnIds: string[] }>();
    for (const p of batch) for (const d of p.drafts) {
      if (!d.txn) continue;
      const k = `${d.sender}\u0000${d.txn.deviceId}`;
      let e = byDevice.get(k);
      if (!e) byDevice.set(k, (e = { userId: d.sender, deviceId: d.txn.deviceId, txnIds: [] }));
      e.txnIds.push(d.txn.txnId);
    }
    const out = new Map<string, EventId>();
    for (const e of byDevice.values()) {
      const found = await events.selectTxnEvents(this.db, e.userId, e.deviceId, e.txnIds);
      for (const [txnId, eventId] of found) out.set(`${e.userId}\u0000${e.deviceId}\u0000${txnId}`, eventId);
    }
    return out;
  }

  /** Checks auth and builds the signed event that follows `head`. */
  private build(room: RoomState, state: StateLookup, head: { eventId: EventId; depth: number } | null, d: EventDraft): events.NewEventRow {
    const newEv = { type: d.type, state_key: d.stateKey, sender: d.sender, room_id: room.roomId, content: d.content };
    const createEntry = room.get("m.room.create", "") ?? state.get("m.room.create", "");
    const isFirstAfterCreate = head !== null && head.depth === 1 && createEntry !== undefined;
    checkEventAuth(newEv, state, room.version, isFirstAfterCreate);
    const pdu = buildPdu(roomVersion(room.version), room.roomId, head, state, d, this.serverName);
    const eventId = signAndIdentify(pdu, room.version, this.serverName, this.signing.keyId, this.signing.key);
    const content = pdu.content;
    if (Buffer.byteLength(canonicalJson(pdu), "utf8") > MAX_EVENT_BYTES) throw tooLarge(`Event exceeds ${MAX_EVENT_BYTES} bytes`);
    const json: ClientEvent = {
      content,
      event_id: eventId,
      origin_server_ts: pdu.origin_server_ts,
      room_id: room.roomId,
      sender: d.sender,
      type: d.type,
      ...(d.stateKey !== undefined ? { state_key: d.stateKey } : {}),
      ...(d.redacts ? { redacts: d.redacts } : {}),
    };
    if (d.stateKey !== undefined) {
      const prev = state.get(d.type, d.stateKey) as ClientEvent | undefined;
      if (prev) json.unsigned = { prev_content: prev.content, prev_sender: prev.sender, replaces_state: prev.event_id };
    }
    const relation = relationOf(content);
    const isEdit = relation?.relType === "m.replace";
    let edit: events.NewEventRow["edit"] = null;
    if (isEdit && d.validatedEdit && this.search.enabled) {
      const nc = content["m.new_content"];
      edit = { target: relation.relatesTo as EventId, search: nc && typeof nc === "object" ? searchDoc(d.type, nc as Record<string, unknown>) : null };
    }
    return {
      eventId, type: d.type, stateKey: d.stateKey ?? null, sender: d.sender, depth: pdu.depth, ts: pdu.origin_server_ts,
      membership: d.type === "m.room.member" && typeof content.membership === "string" ? content.membership : null,
      json, pdu, txn: d.txn ? { userId: d.sender, deviceId: d.txn.deviceId, txnId: d.txn.txnId } : null,
      // An edit's own text is not indexed: search finds the original, with its latest text.
      search: this.search.enabled && !isEdit ? searchDoc(d.type, content) : null,
      relation,
      redaction: d.redactTarget ? { target: d.redactTarget.event_id, json: redactedForm(d.redactTarget, room.version, json) } : null,
      edit,
    };
  }
}

const txnKey = (d: EventDraft) => `${d.sender}\u0000${d.txn!.deviceId}\u0000${d.txn!.txnId}`;
