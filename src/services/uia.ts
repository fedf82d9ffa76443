// User-interactive authentication. https://spec.matrix.org/latest/client-server-api/#user-interactive-authentication-api
// Sessions are rows in Postgres so the 401 round trip may land on another process.
import { randomBytes } from "node:crypto";
import { MatrixError, UiaChallenge } from "../http/errors.js";
import type { UserId } from "../matrix/ids.js";
import * as sessions from "../store/auth-sessions.js";
import * as registrationTokens from "../store/registration-tokens.js";
import type { Db } from "../store/db.js";
import * as users from "../store/users.js";
import { verifyPassword } from "./passwords.js";
import type { Requester } from "./tokens.js";
import { resolveLoginUser, resolveThirdParty, type LoginIdentifierBody } from "./identifiers.js";
import type { EmailService } from "./email.js";

export const DUMMY = "m.login.dummy";
export const PASSWORD = "m.login.password";
export const REGISTRATION_TOKEN = "m.login.registration_token";
export const EMAIL_IDENTITY = "m.login.email.identity";

export interface AuthDict extends LoginIdentifierBody {
  type?: string;
  session?: string;
  password?: string;
  [k: string]: unknown;
}

/** How long after it was opened a completed registration may be repeated (and answered the same). */
const REPEAT_WINDOW_MS = 10 * 60 * 1000;
// A session that is not finished within a day is forgotten.
const SESSION_TTL_MS = 24 * 3600 * 1000;

export interface RequireOptions {
  /** Parameters the session remembers from the first request that gives them. */
  remember?: Record<string, unknown>;
  /** Keep the session once complete (its request may be repeated and answered the same). */
  keep?: boolean;
}

export class UiaService {
  /** Checks m.login.email.identity stages (set when email is configured). */
  email: EmailService | null = null;

  constructor(private readonly db: Db, private readonly serverName: string) {}

  /**
   * Returns when one of `flows` is complete for this request; otherwise throws the 401 that
   * tells the client what to do next. `purpose` ties a session to one endpoint (and user).
   */
  async require(auth: AuthDict | undefined, purpose: string, flows: string[][], requester: Requester | null, o: RequireOptions = {}): Promise<string> {
    const owner = requester?.userId ?? null;
    if (!auth || typeof auth !== "object") {
      const id = await this.open(purpose, owner);
      if (o.remember) await sessions.setUiaData(this.db, id, { params: o.remember });
      throw await this.challenge(id, flows, []);
    }
    let sessionId = typeof auth.session === "string" ? auth.session : null;
    let row = sessionId ? await sessions.selectUiaSession(this.db, sessionId) : null;
    if (sessionId && (!row || row.createdTs < Date.now() - SESSION_TTL_MS)) {
      throw new MatrixError(400, "M_UNKNOWN", "Unknown or expired session ID");
    }
    if (row && (row.purpose !== purpose || row.userId !== owner)) {
      throw new MatrixError(403, "M_FORBIDDEN", "This session was opened for another request");
    }
    // A client may attempt a first stage without asking for a session first (m.login.dummy in
    // one request is what many tools and test suites send); give it one.
    if (!sessionId) {
      sessionId = await this.open(purpose, owner);
      row = { sessionId, purpose, userId: owner, completed: [], createdTs: Date.now() };
    }
    if (o.remember && !row!.params) await sessions.setUiaData(this.db, sessionId, { params: o.remember });
    const completed = [...row!.completed];
    const allowed = new Set(flows.flat());
    if (typeof auth.type === "string" && !completed.includes(auth.type)) {
      if (!allowed.has(auth.type)) {
        throw await this.challenge(sessionId, flows, completed, new MatrixError(400, "M_UNRECOGNIZED", `Unsupported auth type ${auth.type}`));
      }
      const failure = await this.attempt(auth, requester, sessionId, purpose);
      if (failure) throw await this.challenge(sessionId, flows, completed, failure);
      await sessions.addUiaCompleted(this.db, sessionId, auth.type);
      completed.push(auth.type);
    }
    if (flows.some((f) => f.every((stage) => completed.includes(stage)))) {
      // A kept session answers a repeat of its completed request (registration); any other is
      // spent.
      if (!o.keep) await sessions.deleteUiaSession(this.db, sessionId);
      if (Math.random() < 0.01) await this.forgetExpired();
      return sessionId;
    }
    throw await this.challenge(sessionId, flows, completed);
  }

  /** Drops a kept session once its request is done. */
  async forget(sessionId: string): Promise<void> {
    await sessions.deleteUiaSession(this.db, sessionId);
  }

  /** The address an m.login.email.identity stage of the session proved. */
  async threepidOf(sessionId: string): Promise<{ medium: string; address: string; sid: string; validated_at: number } | null> {
    const r = await this.db("uia_sessions").where({ session_id: sessionId }).first("threepid");
    return (r?.threepid as { medium: string; address: string; sid: string; validated_at: number } | null) ?? null;
  }

  /** What a session remembers (registration: the first parameters, and the account it made). */
  async sessionData(sessionId: string | undefined, purpose: string): Promise<{ params: Record<string, unknown>; result: Record<string, unknown> | null } | null> {
    if (typeof sessionId !== "string") return null;
    const row = await sessions.selectUiaSession(this.db, sessionId);
    if (!row || row.purpose !== purpose || row.createdTs < Date.now() - SESSION_TTL_MS) return null;
    // A completed request is answered again only shortly after (a client retrying a request
    // whose answer it lost), not for the session's whole life: the session ID would otherwise
    // be a way into the account.
    const result = row.result && row.createdTs >= Date.now() - REPEAT_WINDOW_MS ? row.result : null;
    if (row.result && !result) throw new MatrixError(400, "M_UNKNOWN", "This session is complete and can no longer be used");
    return { params: row.params ?? {}, result };
  }

  async finish(sessionId: string, result: Record<string, unknown>): Promise<void> {
    await sessions.setUiaData(this.db, sessionId, { result });
  }

  /** The flows for re-authenticating `userId`: a password if it has one, else a dummy stage. */
  async flowsForUser(userId: UserId): Promise<string[][]> {
    const u = await users.selectUser(this.db, userId);
    return u?.passwordHash ? [[PASSWORD]] : [[DUMMY]];
  }

  /** Forgets sessions older than a day; the registration tokens they held become usable again. */
  async forgetExpired(): Promise<void> {
    const before = Date.now() - SESSION_TTL_MS;
    await this.db.transaction(async (trx) => {
      await registrationTokens.releaseExpired(trx, before);
      await sessions.deleteExpiredUiaSessions(trx, before);
    });
  }

  private async open(purpose: string, owner: string | null): Promise<string> {
    const sessionId = randomBytes(18).toString("base64url");
    await sessions.insertUiaSession(this.db, { sessionId, purpose, userId: owner });
    return sessionId;
  }

  private async challenge(session: string, flows: string[][], completed: string[], err?: MatrixError): Promise<MatrixError> {
    const body = { flows: flows.map((stages) => ({ stages })), params: {}, session, completed };
    if (!err) return new UiaChallenge(body);
    return new MatrixError(err.status === 400 ? 400 : 401, err.errcode, err.message, body);
  }

  /** Checks one stage; returns the error to report, or null on success. */
  private async attempt(auth: AuthDict, requester: Requester | null, sessionId: string, purpose: string): Promise<MatrixError | null> {
    if (auth.type === DUMMY) return null;
    if (auth.type === EMAIL_IDENTITY) {
      if (!this.email?.enabled) return new MatrixError(400, "M_UNRECOGNIZED", "This server does not send email");
      try {
        // Registration proves a new address; anything else (a password reset) an address of the account.
        const v = await this.email.validatedAddress(auth.threepid_creds ?? auth.threepidCreds, purpose === "register" ? "register" : "reset");
        await this.db("uia_sessions").where({ session_id: sessionId }).update({ threepid: JSON.stringify({ medium: "email", address: v.address, sid: v.sid, validated_at: v.validatedAt }) });
        return null;
      } catch (e) {
        if (e instanceof MatrixError) return e;
        throw e;
      }
    }
    if (auth.type === REGISTRATION_TOKEN) {
      // A pending use is taken now and becomes a completed one when the registration
      // completes (spec: the token is used up only then).
      if (typeof auth.token !== "string" || auth.token.length > 64) return new MatrixError(400, "M_MISSING_PARAM", "Missing token");
      const ok = await registrationTokens.reserve(this.db, auth.token, sessionId, Date.now());
      return ok ? null : new MatrixError(401, "M_UNAUTHORIZED", "Invalid registration token");
    }
    if (auth.type === PASSWORD) {
      if (typeof auth.password !== "string") return new MatrixError(400, "M_MISSING_PARAM", "Missing password");
      let userId: UserId;
      try {
        userId = resolveLoginUser(await resolveThirdParty(this.db, auth), this.serverName);
      } catch (e) {
        if (e instanceof MatrixError) return e;
        throw e;
      }
      // Re-authentication must be by the user the request is for.
      // Another user's credentials are refused outright (403, no new challenge: retrying
      // cannot help), as the reference does.
      if (requester && userId.toLowerCase() !== requester.userId.toLowerCase()) {
        throw new MatrixError(403, "M_FORBIDDEN", "These credentials are not the requesting user's");
      }
      const u = await users.selectUserCaseInsensitive(this.db, userId);
      const ok = await verifyPassword(auth.password, u && !u.deactivated ? u.passwordHash : null);
      return ok ? null : new MatrixError(403, "M_FORBIDDEN", "Invalid password");
    }
    return new MatrixError(400, "M_UNRECOGNIZED", `Unsupported auth type ${String(auth.type)}`);
  }
}
