// The bridges' own tables, in their own Postgres schema (never the homeserver's tables).
// Portals (a remote chat ↔ a Matrix room), ghosts (a remote user ↔ a Matrix user), the message
// ID map (with the unique send-transaction ID that makes outbound sends idempotent), reactions,
// handled appservice transactions and webhook deliveries.
import knexFactory, { type Knex } from "knex";

export interface Portal { network: string; remoteId: string; roomId: string; name: string | null }
export interface MessageRow { network: string; remoteId: string; roomId: string; eventId: string; sendTxnId: string | null }

export class KitStore {
  readonly db: Knex;

  constructor(url: string, readonly schema: string) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`bad schema name ${schema}`);
    this.db = knexFactory({ client: "pg", connection: url, pool: { min: 0, max: 5 }, searchPath: [schema] });
  }

  /** Creates the schema and tables if missing (forward-only, idempotent). */
  async migrate(): Promise<void> {
    const s = this.schema;
    await this.db.raw(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await this.db.raw(`
      CREATE TABLE IF NOT EXISTS ${s}.as_txn (txn_id text PRIMARY KEY, received_ts bigint NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s}.portal (
        network text NOT NULL, remote_id text NOT NULL, room_id text NOT NULL UNIQUE, name text,
        PRIMARY KEY (network, remote_id));
      CREATE TABLE IF NOT EXISTS ${s}.ghost (
        network text NOT NULL, remote_id text NOT NULL, mxid text NOT NULL UNIQUE, name text, registered boolean NOT NULL DEFAULT false,
        PRIMARY KEY (network, remote_id));
      CREATE TABLE IF NOT EXISTS ${s}.message (
        network text NOT NULL, remote_id text NOT NULL, room_id text NOT NULL, event_id text NOT NULL UNIQUE,
        send_txn_id text UNIQUE, created_ts bigint NOT NULL,
        PRIMARY KEY (network, remote_id));
      CREATE TABLE IF NOT EXISTS ${s}.reaction (
        network text NOT NULL, target_remote_id text NOT NULL, sender_remote_id text NOT NULL, emoji text NOT NULL,
        event_id text NOT NULL UNIQUE, PRIMARY KEY (network, target_remote_id, sender_remote_id));
      CREATE TABLE IF NOT EXISTS ${s}.webhook_seen (id text PRIMARY KEY, received_ts bigint NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s}.kv (key text PRIMARY KEY, value jsonb NOT NULL);
    `);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async txnSeen(txnId: string): Promise<boolean> {
    const r = await this.db.raw(`SELECT 1 FROM ${this.schema}.as_txn WHERE txn_id = ?`, [txnId]);
    return r.rows.length > 0;
  }

  async markTxn(txnId: string): Promise<void> {
    await this.db.raw(`INSERT INTO ${this.schema}.as_txn (txn_id, received_ts) VALUES (?, ?) ON CONFLICT DO NOTHING`, [txnId, Date.now()]);
  }

  async seenDelivery(id: string): Promise<boolean> {
    const r = await this.db.raw(`SELECT 1 FROM ${this.schema}.webhook_seen WHERE id = ?`, [id]);
    return r.rows.length > 0;
  }

  /** Records a webhook delivery ID; false if it was already seen (at-least-once senders retry). */
  async firstDelivery(id: string): Promise<boolean> {
    const r = await this.db.raw(`INSERT INTO ${this.schema}.webhook_seen (id, received_ts) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1`, [id, Date.now()]);
    return r.rows.length > 0;
  }

  async portalByRemote(network: string, remoteId: string): Promise<Portal | null> {
    const r = await this.db.raw(`SELECT * FROM ${this.schema}.portal WHERE network = ? AND remote_id = ?`, [network, remoteId]);
    return r.rows[0] ? { network, remoteId, roomId: r.rows[0].room_id, name: r.rows[0].name } : null;
  }

  async portalByRoom(roomId: string): Promise<Portal | null> {
    const r = await this.db.raw(`SELECT * FROM ${this.schema}.portal WHERE room_id = ?`, [roomId]);
    return r.rows[0] ? { network: r.rows[0].network, remoteId: r.rows[0].remote_id, roomId, name: r.rows[0].name } : null;
  }

  async savePortal(p: Portal): Promise<void> {
    await this.db.raw(`INSERT INTO ${this.schema}.portal (network, remote_id, room_id, name) VALUES (?, ?, ?, ?) ON CONFLICT (network, remote_id) DO UPDATE SET room_id = EXCLUDED.room_id, name = EXCLUDED.name`,
      [p.network, p.remoteId, p.roomId, p.name]);
  }

  async saveMessage(m: MessageRow): Promise<void> {
    await this.db.raw(`INSERT INTO ${this.schema}.message (network, remote_id, room_id, event_id, send_txn_id, created_ts) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [m.network, m.remoteId, m.roomId, m.eventId, m.sendTxnId, Date.now()]);
  }

  async messageByRemote(network: string, remoteId: string): Promise<MessageRow | null> {
    const r = await this.db.raw(`SELECT * FROM ${this.schema}.message WHERE network = ? AND remote_id = ?`, [network, remoteId]);
    return r.rows[0] ? { network, remoteId, roomId: r.rows[0].room_id, eventId: r.rows[0].event_id, sendTxnId: r.rows[0].send_txn_id } : null;
  }

  /** A reaction bridged into Matrix (by sender and target), so its removal can redact it. */
  async saveReaction(network: string, targetRemoteId: string, senderRemoteId: string, emoji: string, eventId: string): Promise<void> {
    await this.db.raw(`INSERT INTO ${this.schema}.reaction (network, target_remote_id, sender_remote_id, emoji, event_id) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (network, target_remote_id, sender_remote_id) DO UPDATE SET emoji = EXCLUDED.emoji, event_id = EXCLUDED.event_id`,
    [network, targetRemoteId, senderRemoteId, emoji, eventId]);
  }

  async takeReaction(network: string, targetRemoteId: string, senderRemoteId: string): Promise<string | null> {
    const r = await this.db.raw(`DELETE FROM ${this.schema}.reaction WHERE network = ? AND target_remote_id = ? AND sender_remote_id = ? RETURNING event_id`,
      [network, targetRemoteId, senderRemoteId]);
    return r.rows[0]?.event_id ?? null;
  }

  async getKv<T>(key: string): Promise<T | null> {
    const r = await this.db.raw(`SELECT value FROM ${this.schema}.kv WHERE key = ?`, [key]);
    return (r.rows[0]?.value as T) ?? null;
  }

  async setKv(key: string, value: unknown): Promise<void> {
    await this.db.raw(`INSERT INTO ${this.schema}.kv (key, value) VALUES (?, ?::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [key, JSON.stringify(value)]);
  }

  async messageByEvent(eventId: string): Promise<MessageRow | null> {
    const r = await this.db.raw(`SELECT * FROM ${this.schema}.message WHERE event_id = ?`, [eventId]);
    return r.rows[0] ? { network: r.rows[0].network, remoteId: r.rows[0].remote_id, roomId: r.rows[0].room_id, eventId, sendTxnId: r.rows[0].send_txn_id } : null;
  }
}
