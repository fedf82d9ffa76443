// Access and refresh tokens, and the sessions (device + token) they belong to.
// https://spec.matrix.org/latest/client-server-api/#client-authentication
import { createHash, randomBytes } from "node:crypto";
import type { Config } from "../config/schema.js";
import { unknownToken } from "../http/errors.js";
import type { DeviceId, UserId } from "../matrix/ids.js";
import type { Db, Queryable } from "../store/db.js";
import * as devices from "../store/devices.js";
import * as users from "../store/users.js";
import { LocalBus, type Bus } from "./bus.js";

/** Who is making a request. */
export interface Requester {
  userId: UserId;
  deviceId: DeviceId | null;
  tokenId: number | null;
  isGuest: boolean;
  isAdmin: boolean;
  appserviceId: string | null;
  /** Shadow-banned (admin API): sends and invites answer success and do nothing. */
  shadowBanned?: boolean;
  /** Locked by an admin (spec: account locking): every request but logout is refused. */
  locked?: boolean;
}

export interface IssuedTokens {
  access_token: string;
  refresh_token?: string;
  expires_in_ms?: number;
}

// 256 random bits; the prefix makes a leaked token easy to recognise in secret scanners.
const newToken = (prefix: string) => `${prefix}_${randomBytes(32).toString("base64url")}`;
export const hashToken = (t: string): Buffer => createHash("sha256").update(t, "utf8").digest();

// Devices' last-seen time is written at most this often per token: not a write per request.
const LAST_SEEN_INTERVAL_MS = 5 * 60 * 1000;
// Resolved tokens are kept this long, so a request costs no query to authenticate. Every
// revocation drops the user's entries at once, in every process (on the Redis bus); the TTL
// bounds how long another process may still accept a revoked token while Redis is away (the
// first use after it checks the token in the background, so the next use is refused).
const CACHE_TTL_MS = 60_000;
/** An entry older than this is checked before it is used again (the soft TTL checks in the background). */
const CACHE_HARD_TTL_MS = 10 * 60_000;
/** Soft-expired tokens are checked again in batches this often. */
const REVALIDATE_EVERY_MS = 1000;
/** Last-seen times gathered this long before one write. */
const LAST_SEEN_FLUSH_MS = 2000;
const CACHE_MAX = 100_000;

interface Cached { requester: Requester; expiresTs: number | null; cachedAt: number }

export class TokenService {
  private readonly lastSeenWritten = new Map<number, number>();
  private readonly cache = new Map<string, Cached>();
  private readonly byUser = new Map<string, Set<string>>();

  constructor(private readonly db: Db, private readonly config: Config, private readonly bus: Bus = new LocalBus()) {
    bus.onMessage((m) => { if (m.k === "tokens") this.forgetLocally(m.user); });
  }

  /** Issues a token pair for a device (created if new). With a refresh token, the access token expires. */
  async issue(q: Queryable, userId: UserId, deviceId: DeviceId, withRefresh: boolean, refreshedFrom: number | null = null): Promise<IssuedTokens> {
    const access = newToken("gat");
    const refresh = withRefresh && this.config.auth.refresh_tokens ? newToken("grt") : null;
    const lifetime = this.config.auth.access_token_lifetime_ms;
    await devices.insertToken(q, {
      tokenHash: hashToken(access),
      refreshTokenHash: refresh ? hashToken(refresh) : null,
      userId, deviceId,
      expiresTs: refresh ? Date.now() + lifetime : null,
      refreshedFrom,
    });
    return refresh ? { access_token: access, refresh_token: refresh, expires_in_ms: lifetime } : { access_token: access };
  }

  /** Resolves an access token to its requester, or throws 401 M_UNKNOWN_TOKEN. */
  /** Application services' tokens (and identity assertion), checked before users' tokens. */
  appservices: { requester(token: string, userId?: string, deviceId?: string): Promise<Requester | null> } | null = null;

  /** `userAgent`: the client's User-Agent, kept as the device's last seen (whois). */
  async authenticate(token: string, ip: string | null, assert: { userId?: string; deviceId?: string } = {}, userAgent: string | null = null): Promise<Requester> {
    if (this.appservices) {
      const as = await this.appservices.requester(token, assert.userId, assert.deviceId);
      if (as) return as;
    }
    const hash = hashToken(token);
    const key = hash.toString("base64");
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.cachedAt < CACHE_HARD_TTL_MS) {
      if (hit.expiresTs !== null && hit.expiresTs <= now) throw unknownToken("Access token has expired.", true);
      // Past the soft TTL the answer is checked again in the background: a request (a sync
      // wake-up above all) never waits for that check.
      if (now - hit.cachedAt >= CACHE_TTL_MS) this.revalidate(key, hash);
      this.noteSeen(hit.requester.tokenId!, hit.requester.userId, hit.requester.deviceId!, ip, userAgent);
      return hit.requester;
    }
    return this.lookup(key, hash, ip, userAgent);
  }

  /** Cached tokens past the soft TTL, checked together in one query every second. */
  private revalidating = new Map<string, Buffer>();
  private revalidateTimer: NodeJS.Timeout | null = null;

  private revalidate(key: string, hash: Buffer): void {
    if (this.revalidating.has(key)) return;
    this.revalidating.set(key, hash);
    if (this.revalidateTimer) return;
    this.revalidateTimer = setTimeout(() => void this.revalidateNow(), REVALIDATE_EVERY_MS);
    this.revalidateTimer.unref();
  }

  private async revalidateNow(): Promise<void> {
    this.revalidateTimer = null;
    const batch = this.revalidating;
    this.revalidating = new Map();
    const checkedAt = Date.now();
    const keys = [...batch.keys()];
    for (let i = 0; i < keys.length; i += 1000) {
      const part = keys.slice(i, i + 1000);
      let live: Set<string>;
      const forgets = this.forgets;
      try {
        live = await devices.selectLiveTokenHashes(this.db, part.map((k) => batch.get(k)!));
      } catch {
        continue; // the database is away: the entries stay until the hard TTL
      }
      for (const k of part) {
        const c = this.cache.get(k);
        if (!c) continue;
        // Gone (revoked elsewhere while the bus was down, or the account deactivated): forget it.
        if (!live.has(k)) this.cache.delete(k);
        else if (c.cachedAt < checkedAt && forgets === this.forgets) c.cachedAt = checkedAt;
      }
    }
  }

  private async lookup(key: string, hash: Buffer, ip: string | null, userAgent: string | null = null): Promise<Requester> {
    const now = Date.now();
    const forgets = this.forgets;
    const row = await devices.selectTokenByHash(this.db, hash);
    if (!row) throw unknownToken();
    if (row.expiresTs !== null && row.expiresTs <= Date.now()) {
      // An expired token means "refresh", not "log in again": soft_logout (spec: soft logout).
      throw unknownToken("Access token has expired.", true);
    }
    if (row.refreshedFrom !== null) {
      await devices.retirePreviousToken(this.db, row.id, row.refreshedFrom);
      this.forgetUser(row.userId); // the previous token may be cached
    }
    const user = await users.selectUser(this.db, row.userId);
    if (!user || user.deactivated) throw unknownToken();
    if (ip !== null) this.noteSeen(row.id, row.userId, row.deviceId, ip, userAgent);
    const requester: Requester = { userId: row.userId, deviceId: row.deviceId, tokenId: row.id, isGuest: user.isGuest, isAdmin: user.isAdmin, appserviceId: null, ...(user.shadowBanned ? { shadowBanned: true } : {}), ...(user.locked ? { locked: true } : {}) };
    // A revocation while this was read may have come after the read: then the answer is not
    // kept, or the revoked token would live on in memory until the next check.
    if (forgets === this.forgets) this.remember(key, { requester, expiresTs: row.expiresTs, cachedAt: now });
    return requester;
  }

  /** Drops every cached token of the user: call after any revocation has committed. */
  forgetUser(userId: UserId): void {
    this.bus.publish({ k: "tokens", user: userId });
    this.forgetLocally(userId);
  }

  private readonly forgetListeners: ((userId: UserId) => void)[] = [];

  /** Called when a user's tokens may have been revoked (here or on another process). */
  onForget(fn: (userId: UserId) => void): void {
    this.forgetListeners.push(fn);
  }

  /** Counts revocations seen, so a read that overlapped one is not cached. */
  private forgets = 0;

  private forgetLocally(userId: UserId): void {
    this.forgets++;
    const keys = this.byUser.get(userId);
    if (keys) for (const k of keys) this.cache.delete(k);
    this.byUser.delete(userId);
    for (const l of this.forgetListeners) l(userId);
  }

  private remember(key: string, c: Cached): void {
    if (this.cache.size >= CACHE_MAX) {
      this.cache.clear();
      this.byUser.clear();
    }
    this.cache.set(key, c);
    let set = this.byUser.get(c.requester.userId);
    if (!set) this.byUser.set(c.requester.userId, (set = new Set()));
    set.add(key);
  }

  /** POST /refresh: a new pair for the same device. The old pair lives until the new one is used. */
  async refresh(refreshToken: string): Promise<IssuedTokens> {
    return this.db.transaction(async (trx) => {
      const row = await devices.selectTokenByRefreshHash(trx, hashToken(refreshToken));
      if (!row) throw unknownToken("Unknown refresh token.");
      // A chain of unused refreshes keeps one predecessor only.
      if (row.refreshedFrom !== null) {
        await devices.handOverPushers(trx, row.refreshedFrom, row.id);
        await devices.deleteTokenById(trx, row.refreshedFrom);
      }
      const issued = await this.issue(trx, row.userId, row.deviceId, true, row.id);
      return issued;
    });
  }

  async revoke(userId: UserId, tokenId: number): Promise<void> {
    await devices.deleteTokenById(this.db, tokenId);
    this.lastSeenWritten.delete(tokenId);
    this.forgetUser(userId);
  }

  private seen = new Map<number, { userId: UserId; deviceId: DeviceId; ts: number; ip: string | null; ua: string | null }>();
  private seenTimer: NodeJS.Timeout | null = null;

  /**
   * Last-seen is noted at most once per interval per token and written in batches off the
   * request path (one statement for all devices seen meanwhile): a request never waits for it.
   */
  private noteSeen(tokenId: number, userId: UserId, deviceId: DeviceId, ip: string | null, ua: string | null = null): void {
    const now = Date.now();
    const last = this.lastSeenWritten.get(tokenId) ?? 0;
    if (now - last < LAST_SEEN_INTERVAL_MS) return;
    this.lastSeenWritten.set(tokenId, now);
    if (this.lastSeenWritten.size > 100_000) this.lastSeenWritten.clear();
    this.seen.set(tokenId, { userId, deviceId, ts: now, ip, ua: ua === null ? null : ua.slice(0, 512) });
    if (!this.seenTimer) {
      this.seenTimer = setTimeout(() => void this.flushSeen(), LAST_SEEN_FLUSH_MS);
      this.seenTimer.unref();
    }
  }

  /** Writes the gathered last-seen times (also at shutdown). Best effort: a failure is dropped. */
  async flushSeen(): Promise<void> {
    if (this.seenTimer) clearTimeout(this.seenTimer);
    this.seenTimer = null;
    const rows = [...this.seen.values()];
    this.seen = new Map();
    for (let i = 0; i < rows.length; i += 1000) await devices.updateDevicesLastSeen(this.db, rows.slice(i, i + 1000)).catch(() => undefined);
  }
}
