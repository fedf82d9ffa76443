// Server-side key backup. https://spec.matrix.org/latest/client-server-api/#server-side-key-backups
// The client encrypts its room keys; the server stores the blobs per backup version and hands
// them back. A newer key replaces a stored one only if it is better (verified, then an
// earlier first message index, then fewer forwards), as the spec says.
import { MatrixError, notFound } from "../http/errors.js";
import type { UserId } from "../matrix/ids.js";
import type { Db, Queryable } from "../store/db.js";

type Json = Record<string, unknown>;
export interface KeyData { first_message_index: number; forwarded_count: number; is_verified: boolean; session_data: Json }

const noVersion = () => notFound("Unknown backup version");

export class KeyBackupService {
  constructor(private readonly db: Db) {}

  async create(userId: UserId, algorithm: string, authData: Json): Promise<string> {
    // One creation at a time per user (a transaction-scoped lock), so concurrent creations
    // each get the next version instead of colliding on it.
    return this.db.transaction(async (trx) => {
      await trx.raw(`SELECT pg_advisory_xact_lock(hashtextextended('room_key_backups:' || ?, 0))`, [userId]);
      const r = await trx.raw(
        `INSERT INTO room_key_backups (user_id, version, algorithm, auth_data)
         SELECT ?, coalesce(max(version), 0) + 1, ?, ?::jsonb FROM room_key_backups WHERE user_id = ? RETURNING version`,
        [userId, algorithm, JSON.stringify(authData), userId]);
      return String(r.rows[0].version);
    });
  }

  /** The version's description; the current (latest) one when `version` is null. */
  async info(userId: UserId, version: string | null): Promise<Json> {
    const v = await this.row(this.db, userId, version);
    if (!v) throw version === null ? notFound("No current backup version") : noVersion();
    const c = await this.db.raw(`SELECT count(*)::int AS n FROM room_keys WHERE user_id = ? AND version = ?`, [userId, v.version]);
    return { algorithm: v.algorithm, auth_data: v.auth_data, version: String(v.version), etag: String(v.etag), count: Number(c.rows[0].n) };
  }

  async update(userId: UserId, version: string, algorithm: string, authData: Json, bodyVersion?: string): Promise<void> {
    if (bodyVersion !== undefined && bodyVersion !== version) throw new MatrixError(400, "M_INVALID_PARAM", "version in the body does not match the path");
    const r = await this.db.raw(`UPDATE room_key_backups SET algorithm = ?, auth_data = ?::jsonb WHERE user_id = ? AND version = ? AND NOT deleted RETURNING 1`,
      [algorithm, JSON.stringify(authData), userId, toNum(version)]);
    if (r.rows.length === 0) throw noVersion();
  }

  async delete(userId: UserId, version: string): Promise<void> {
    await this.db.transaction(async (trx) => {
      const r = await trx.raw(`UPDATE room_key_backups SET deleted = true WHERE user_id = ? AND version = ? AND NOT deleted RETURNING 1`, [userId, toNum(version)]);
      if (r.rows.length === 0) throw noVersion();
      await trx.raw(`DELETE FROM room_keys WHERE user_id = ? AND version = ?`, [userId, toNum(version)]);
    });
  }

  /** PUT /room_keys/keys...: only into the current version (else 403 M_WRONG_ROOM_KEYS_VERSION). */
  async put(userId: UserId, version: string, rooms: Record<string, Record<string, KeyData>>): Promise<{ count: number; etag: string }> {
    return this.db.transaction(async (trx) => {
      const cur = await this.row(trx, userId, null, true);
      if (!cur || String(cur.version) !== version) {
        if (!(await this.row(trx, userId, version))) throw noVersion();
        throw new MatrixError(403, "M_WRONG_ROOM_KEYS_VERSION", "Not the current backup version", { current_version: cur ? String(cur.version) : null });
      }
      for (const [roomId, sessions] of Object.entries(rooms)) {
        for (const [sessionId, data] of Object.entries(sessions)) {
          const old = await trx.raw(`SELECT data FROM room_keys WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?`, [userId, cur.version, roomId, sessionId]);
          if (old.rows[0] && !better(data, old.rows[0].data as KeyData)) continue;
          await trx.raw(
            `INSERT INTO room_keys (user_id, version, room_id, session_id, data) VALUES (?, ?, ?, ?, ?::jsonb)
             ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET data = EXCLUDED.data`,
            [userId, cur.version, roomId, sessionId, JSON.stringify(data)]);
        }
      }
      return this.bump(trx, userId, cur.version);
    });
  }

  async get(userId: UserId, version: string, roomId?: string, sessionId?: string): Promise<Json> {
    const v = await this.row(this.db, userId, version);
    if (!v) throw noVersion();
    const r = await this.db.raw(
      `SELECT room_id, session_id, data FROM room_keys WHERE user_id = ? AND version = ? AND (?::text IS NULL OR room_id = ?) AND (?::text IS NULL OR session_id = ?)`,
      [userId, v.version, roomId ?? null, roomId ?? null, sessionId ?? null, sessionId ?? null]);
    if (sessionId !== undefined) {
      if (!r.rows[0]) throw notFound("No such key");
      return r.rows[0].data;
    }
    const rooms: Record<string, { sessions: Json }> = {};
    for (const x of r.rows as { room_id: string; session_id: string; data: Json }[]) (rooms[x.room_id] ??= { sessions: {} }).sessions[x.session_id] = x.data;
    return roomId !== undefined ? (rooms[roomId] ?? { sessions: {} }) : { rooms };
  }

  async remove(userId: UserId, version: string, roomId?: string, sessionId?: string): Promise<{ count: number; etag: string }> {
    return this.db.transaction(async (trx) => {
      const v = await this.row(trx, userId, version);
      if (!v) throw noVersion();
      await trx.raw(`DELETE FROM room_keys WHERE user_id = ? AND version = ? AND (?::text IS NULL OR room_id = ?) AND (?::text IS NULL OR session_id = ?)`,
        [userId, v.version, roomId ?? null, roomId ?? null, sessionId ?? null, sessionId ?? null]);
      return this.bump(trx, userId, v.version);
    });
  }

  private async bump(q: Queryable, userId: UserId, version: number): Promise<{ count: number; etag: string }> {
    const e = await q.raw(`UPDATE room_key_backups SET etag = etag + 1 WHERE user_id = ? AND version = ? RETURNING etag`, [userId, version]);
    const c = await q.raw(`SELECT count(*)::int AS n FROM room_keys WHERE user_id = ? AND version = ?`, [userId, version]);
    return { count: Number(c.rows[0].n), etag: String(e.rows[0].etag) };
  }

  private async row(q: Queryable, userId: UserId, version: string | null, lock = false): Promise<{ version: number; algorithm: string; auth_data: Json; etag: number } | null> {
    if (version !== null && !/^\d{1,15}$/.test(version)) return null;
    const r = version === null
      ? await q.raw(`SELECT version, algorithm, auth_data, etag FROM room_key_backups WHERE user_id = ? AND NOT deleted ORDER BY version DESC LIMIT 1${lock ? " FOR UPDATE" : ""}`, [userId])
      : await q.raw(`SELECT version, algorithm, auth_data, etag FROM room_key_backups WHERE user_id = ? AND version = ? AND NOT deleted`, [userId, Number(version)]);
    return r.rows[0] ? { ...r.rows[0], version: Number(r.rows[0].version), etag: Number(r.rows[0].etag) } : null;
  }
}

function toNum(v: string): number {
  if (!/^\d{1,15}$/.test(v)) throw noVersion();
  return Number(v);
}

/** Is `a` a better copy of a session key than `b`? (spec: the rules for replacing a backed-up key) */
function better(a: KeyData, b: KeyData): boolean {
  if (a.is_verified !== b.is_verified) return a.is_verified;
  if (a.first_message_index !== b.first_message_index) return a.first_message_index < b.first_message_index;
  return a.forwarded_count < b.forwarded_count;
}
