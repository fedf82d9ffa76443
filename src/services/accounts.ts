// Accounts: registration, login, password change, deactivation.
// https://spec.matrix.org/latest/client-server-api/#account-registration
import type { Config } from "../config/schema.js";
import { MatrixError, forbidden } from "../http/errors.js";
import {
  makeDeviceId, makeUserId, MAX_ID_BYTES, STRICT_LOCALPART_RE, type DeviceId, type UserId,
} from "../matrix/ids.js";
import { randomBytes } from "node:crypto";
import * as authSessions from "../store/auth-sessions.js";
import type { Db } from "../store/db.js";
import * as devices from "../store/devices.js";
import * as profiles from "../store/profiles.js";
import * as users from "../store/users.js";
import { resolveLoginUser, resolveThirdParty, type LoginIdentifierBody } from "./identifiers.js";
import { hashPassword, verifyPassword } from "./passwords.js";
import type { IssuedTokens, Requester, TokenService } from "./tokens.js";

export interface SessionResult extends Partial<IssuedTokens> {
  user_id: UserId;
  device_id?: DeviceId;
}

export interface NewAccount {
  localpart: string | null;
  password: string | null;
  /** The password already hashed (a registration session remembers only the hash). */
  passwordHash?: string | null;
  kind: "user" | "guest";
  isAdmin?: boolean;
  appserviceId?: string | null;
  displayName?: string | null;
  /** Log the new account in (a device and token), unless inhibit_login. */
  login: { deviceId: DeviceId | null; deviceName: string | null; refresh: boolean } | null;
}

/** Sessions whose device was made by them (not reused): announced once committed. */
const newDevices = new WeakSet<object>();

/** Hook for application services' exclusive namespaces (filled in by the appservice module). */
export type ExclusiveUserCheck = (userId: UserId, appserviceId: string | null) => boolean;

export class AccountService {
  isExclusive: ExclusiveUserCheck = () => false;

  constructor(private readonly db: Db, private readonly config: Config, private readonly tokens: TokenService) {}

  get serverName(): string {
    return this.config.server_name;
  }

  /** Checks a requested localpart against the spec's grammar and our reservations; throws M_INVALID_USERNAME. */
  validateLocalpart(localpart: string, appserviceId: string | null = null): UserId {
    const bad = (why: string) => new MatrixError(400, "M_INVALID_USERNAME", why);
    if (localpart.length === 0) throw bad("User ID cannot be empty");
    if (!STRICT_LOCALPART_RE.test(localpart)) {
      throw bad("User ID can only contain characters a-z, 0-9, or '=_-./+'");
    }
    // Numeric IDs are what guests get; an underscore prefix is kept for application services.
    if (/^[0-9]+$/.test(localpart)) throw bad("Numeric user IDs are reserved for guest users");
    const userId = makeUserId(localpart, this.serverName);
    // An application service's namespace says so before the generic reservation does.
    if (this.isExclusive(userId, appserviceId)) {
      throw new MatrixError(400, "M_EXCLUSIVE", "This user ID is reserved by an application service");
    }
    if (localpart.startsWith("_") && !appserviceId) throw bad("User ID may not begin with _");
    // The server notices user speaks for the server: no one may register as it.
    if (this.config.server_notices.enabled && localpart === this.config.server_notices.localpart) {
      throw new MatrixError(400, "M_USER_IN_USE", "User ID already taken.");
    }
    if (Buffer.byteLength(userId) > MAX_ID_BYTES) throw bad(`User ID may not be longer than ${MAX_ID_BYTES} bytes`);
    return userId;
  }

  /** GET /register/available */
  async checkAvailable(localpart: string, appserviceId: string | null = null): Promise<void> {
    const userId = this.validateLocalpart(localpart, appserviceId);
    if (await users.userIdTaken(this.db, userId)) throw new MatrixError(400, "M_USER_IN_USE", "User ID already taken.");
  }

  checkPasswordPolicy(password: string): void {
    if (password.length < this.config.registration.password_min_length) {
      throw new MatrixError(400, "M_WEAK_PASSWORD", `Password must be at least ${this.config.registration.password_min_length} characters`);
    }
  }

  async register(a: NewAccount): Promise<SessionResult> {
    if (a.password !== null) this.checkPasswordPolicy(a.password);
    const passwordHash = a.password !== null ? await hashPassword(a.password) : a.passwordHash ?? null;
    return this.announced(await this.db.transaction(async (trx) => {
      let userId: UserId;
      if (a.kind === "guest") {
        userId = makeUserId(await users.nextGuestLocalpart(trx), this.serverName);
      } else if (a.localpart !== null) {
        userId = this.validateLocalpart(a.localpart, a.appserviceId ?? null);
      } else {
        // No username: pick one the user can rename later by creating another account.
        userId = makeUserId(`user${(await users.nextGuestLocalpart(trx)).padStart(6, "0")}x`, this.serverName);
      }
      const inserted = await users.insertUser(trx, {
        userId, passwordHash, isGuest: a.kind === "guest", isAdmin: a.isAdmin ?? false, appserviceId: a.appserviceId ?? null,
      });
      if (!inserted) throw new MatrixError(400, "M_USER_IN_USE", "User ID already taken.");
      const displayName = a.displayName ?? userId.slice(1, userId.indexOf(":"));
      await profiles.upsertProfileField(trx, userId, "displayname", displayName);
      if (!a.login) return { user_id: userId };
      return this.startSession(trx, userId, a.login.deviceId, a.login.deviceName, a.login.refresh);
    }));
  }

  /** A new session (device and token) for an account that exists (a repeated registration). */
  async newSession(userId: UserId, login: NonNullable<NewAccount["login"]>): Promise<SessionResult> {
    return this.announced(await this.db.transaction((trx) => this.startSession(trx, userId, login.deviceId, login.deviceName, login.refresh)));
  }

  /** A guest becomes a full account, same user ID, with a password (and, unless inhibited, a new session). */
  async upgradeGuest(userId: UserId, password: string, login: NewAccount["login"]): Promise<SessionResult> {
    const passwordHash = await hashPassword(password);
    return this.announced(await this.db.transaction(async (trx) => {
      if (!(await users.upgradeGuest(trx, userId, passwordHash))) throw new MatrixError(400, "M_USER_IN_USE", "This account is not a guest's");
      if (!login) return { user_id: userId };
      return this.startSession(trx, userId, login.deviceId, login.deviceName, login.refresh);
    }).finally(() => this.tokens.forgetUser(userId))); // cached tokens say "guest"
  }

  /** POST /login with m.login.password. */
  async loginWithPassword(
    body: LoginIdentifierBody & { password?: unknown },
    device: { deviceId: DeviceId | null; deviceName: string | null; refresh: boolean },
  ): Promise<SessionResult> {
    if (typeof body.password !== "string") throw new MatrixError(400, "M_MISSING_PARAM", "password is required");
    const userId = resolveLoginUser(await resolveThirdParty(this.db, body), this.serverName);
    const user = await users.selectUserCaseInsensitive(this.db, userId);
    const ok = await verifyPassword(body.password, user?.passwordHash ?? null);
    if (!user || !ok) throw forbidden("Invalid username or password");
    if (user.deactivated) throw new MatrixError(403, "M_USER_DEACTIVATED", "This account has been deactivated");
    if (user.locked) throw new MatrixError(401, "M_USER_LOCKED", "This account has been locked", { soft_logout: true });
    const result = this.announced(await this.db.transaction((trx) => this.startSession(trx, user.userId, device.deviceId, device.deviceName, device.refresh)));
    if (device.deviceId) this.tokens.forgetUser(user.userId); // the reused device's old token is gone
    return result;
  }

  /** m.login.application_service: a session for a user of the service's namespaces, no password. */
  async loginAsAppservice(userId: UserId, device: { deviceId: DeviceId | null; deviceName: string | null; refresh: boolean }): Promise<SessionResult> {
    const user = await users.selectUser(this.db, userId);
    if (!user) throw forbidden("Invalid username");
    if (user.deactivated) throw new MatrixError(403, "M_USER_DEACTIVATED", "This account has been deactivated");
    const result = this.announced(await this.db.transaction((trx) => this.startSession(trx, user.userId, device.deviceId, device.deviceName, device.refresh)));
    if (device.deviceId) this.tokens.forgetUser(user.userId);
    return result;
  }

  /** Creates (or reuses) a device and issues a token for it. A reused device's old tokens are revoked. */
  async startSession(trx: Db | import("knex").Knex.Transaction, userId: UserId, deviceId: DeviceId | null, deviceName: string | null, refresh: boolean): Promise<SessionResult> {
    const id = deviceId ?? makeDeviceId();
    const created = await devices.upsertDevice(trx, userId, id, deviceName);
    await devices.deleteDeviceTokens(trx, userId, id);
    const issued = await this.tokens.issue(trx, userId, id, refresh);
    const result = { user_id: userId, device_id: id, ...issued };
    if (created) newDevices.add(result);
    return result;
  }

  /** A user's device list grew (a new device): set by the services (its room-mates are told). */
  onNewDevice: (userId: UserId) => Promise<void> = async () => undefined;

  /** After the session's transaction committed: a new device is announced. */
  private async announced<T extends SessionResult>(result: T): Promise<T> {
    if (newDevices.has(result)) await this.onNewDevice(result.user_id as UserId);
    return result;
  }

  /** POST /account/password (after UIA). */
  async changePassword(who: Requester, newPassword: string, logoutDevices: boolean): Promise<void> {
    this.checkPasswordPolicy(newPassword);
    const hash = await hashPassword(newPassword);
    await this.db.transaction(async (trx) => {
      await users.updatePasswordHash(trx, who.userId, hash);
      if (logoutDevices) {
        // Every other device is logged out; this one keeps only the token making the request.
        await devices.deleteDevices(trx, who.userId, "all", who.deviceId ?? undefined);
        if (who.deviceId && who.tokenId !== null) await devices.deleteDeviceTokens(trx, who.userId, who.deviceId, who.tokenId);
      }
    });
    if (logoutDevices) this.tokens.forgetUser(who.userId);
  }

  /** The admin API sets a password: every device is logged out unless `logoutDevices` is false. */
  async setPassword(userId: UserId, newPassword: string, logoutDevices: boolean): Promise<void> {
    this.checkPasswordPolicy(newPassword);
    const hash = await hashPassword(newPassword);
    await this.db.transaction(async (trx) => {
      await users.updatePasswordHash(trx, userId, hash);
      if (logoutDevices) await devices.deleteDevices(trx, userId, "all");
    });
    if (logoutDevices) this.tokens.forgetUser(userId);
  }

  /**
   * A token for an admin to act as a user (support): a device of its own named "Admin login",
   * since every token here belongs to a device; `validUntilMs` makes it expire.
   */
  async adminLogin(userId: UserId, validUntilMs: number | null): Promise<string> {
    const r = await this.db.transaction(async (trx) => {
      const s = await this.startSession(trx, userId, null, "Admin login", false);
      if (validUntilMs !== null) await trx("access_tokens").where({ user_id: userId, device_id: s.device_id }).update({ expires_ts: validUntilMs });
      return s;
    });
    return (r as { access_token: string }).access_token;
  }

  /** Marks a user erased (erasure.ts); set by the services. */
  onErase: (userId: UserId) => Promise<void> = async () => undefined;

  /**
   * POST /account/deactivate (after UIA): no more logins, every device and token gone. With
   * `erase`, the profile goes too and the user's messages are hidden from later joiners.
   */
  async deactivate(userId: UserId, erase: boolean): Promise<void> {
    await this.db.transaction(async (trx) => {
      await users.markDeactivated(trx, userId);
      await devices.deleteDevices(trx, userId, "all");
      // Its addresses go, so no one resets the password of a deactivated account.
      await trx("user_threepids").where({ user_id: userId }).delete();
      if (erase) await profiles.deleteProfile(trx, userId);
    });
    this.tokens.forgetUser(userId);
    if (erase) await this.onErase(userId);
  }

  /** Shared-secret registration nonces (single use, stored so any process may take them). */
  async issueRegistrationNonce(): Promise<string> {
    const nonce = randomBytes(16).toString("hex");
    await authSessions.insertNonce(this.db, nonce);
    return nonce;
  }

  takeRegistrationNonce(nonce: string, maxAgeMs: number): Promise<boolean> {
    return authSessions.takeNonce(this.db, nonce, maxAgeMs);
  }

  async userExists(userId: UserId): Promise<boolean> {
    return (await users.selectUser(this.db, userId)) !== null;
  }

  async verifyUserPassword(userId: UserId, password: string): Promise<boolean> {
    const u = await users.selectUser(this.db, userId);
    return verifyPassword(password, u?.passwordHash ?? null);
  }
}
