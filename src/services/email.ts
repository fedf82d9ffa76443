// Email: SMTP through nodemailer, and the validation sessions that prove an address (spec:
// adding third-party identifiers, registration and password reset with m.login.email.identity).
// requestToken sends a link; opening it (or posting its token to submit_url) validates the
// session; the UIA stage or /account/3pid/add then uses the validated session.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import nodemailer, { type Transporter } from "nodemailer";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import { MatrixError } from "../http/errors.js";
import type { Db } from "../store/db.js";

export type Purpose = "add" | "register" | "reset";

const EMAIL_RE = /^[^\s@<>()[\]\\,;:"]{1,64}@[^\s@<>()[\]\\,;:"]{1,255}$/;
const SECRET_RE = /^[0-9a-zA-Z.=_-]{1,255}$/;
const hash = (t: string) => createHash("sha256").update(t).digest();

export function normaliseEmail(address: string): string {
  const a = address.trim();
  if (!EMAIL_RE.test(a)) throw new MatrixError(400, "M_INVALID_PARAM", "Not an email address");
  return a.toLowerCase();
}

export function checkClientSecret(s: unknown): string {
  if (typeof s !== "string" || !SECRET_RE.test(s)) throw new MatrixError(400, "M_INVALID_PARAM", "client_secret must be 1-255 characters of [0-9a-zA-Z.=_-]");
  return s;
}

export class EmailService {
  private readonly transport: Transporter | null;

  constructor(private readonly db: Db, private readonly config: Config, private readonly log: Logger) {
    const e = config.email;
    this.transport = e.smtp_host ? nodemailer.createTransport({
      host: e.smtp_host, port: e.smtp_port, secure: e.tls === "tls", requireTLS: e.tls === "starttls", ignoreTLS: e.tls === "none",
      ...(e.smtp_user ? { auth: { user: e.smtp_user, pass: e.smtp_password ?? "" } } : {}),
      tls: { rejectUnauthorized: e.tls_reject_unauthorized },
      connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000,
    }) : null;
  }

  get enabled(): boolean {
    return this.transport !== null;
  }

  /** Where links in emails point: the public base URL (or the listen address). */
  get baseUrl(): string {
    const c = this.config;
    const host = c.listen.host === "0.0.0.0" || c.listen.host === "::" ? "127.0.0.1" : c.listen.host;
    return (c.public_baseurl ?? `http://${host.includes(":") ? `[${host}]` : host}:${c.listen.port}`).replace(/\/$/, "");
  }

  async send(to: string, subject: string, text: string, html?: string): Promise<void> {
    if (!this.transport) throw new MatrixError(400, "M_THREEPID_MEDIUM_NOT_SUPPORTED", "This server does not send email");
    try {
      await this.transport.sendMail({ from: this.config.email.from, to, subject, text, ...(html ? { html } : {}) });
    } catch (e) {
      // The address and the reason, never the body (it may carry a token).
      this.log.warn({ err: (e as Error).message }, "sending email failed");
      throw new MatrixError(500, "M_UNKNOWN", "The email could not be sent; try again later");
    }
  }

  /**
   * POST .../email/requestToken: a session for (client_secret, address, purpose); a new
   * send_attempt sends the email again, the same one does not (spec).
   */
  async requestToken(purpose: Purpose, address: string, clientSecret: string, sendAttempt: number, nextLink: string | undefined): Promise<{ sid: string; submit_url: string }> {
    const email = normaliseEmail(address);
    checkClientSecret(clientSecret);
    if (nextLink !== undefined && !/^https?:\/\//i.test(nextLink)) throw new MatrixError(400, "M_INVALID_PARAM", "next_link must be an http(s) URL");
    const existing = await this.db("threepid_validations").where({ client_secret: clientSecret, address: email, purpose, medium: "email" }).orderBy("created_ts", "desc").first();
    const submitUrl = `${this.baseUrl}/_ganglion/client/email/submit_token`;
    if (existing && existing.send_attempt >= sendAttempt && Number(existing.created_ts) > Date.now() - this.config.email.token_lifetime_ms) {
      return { sid: existing.sid, submit_url: submitUrl };
    }
    const sid = existing?.sid ?? randomBytes(16).toString("base64url");
    const token = randomBytes(24).toString("base64url");
    const row = { sid, client_secret: clientSecret, medium: "email", address: email, purpose, token_hash: hash(token), send_attempt: sendAttempt, next_link: nextLink ?? null, validated_at: null, created_ts: Date.now() };
    await this.db("threepid_validations").insert(row).onConflict("sid").merge();
    const link = `${this.baseUrl}/_ganglion/client/email/validate?sid=${encodeURIComponent(sid)}&client_secret=${encodeURIComponent(clientSecret)}&token=${encodeURIComponent(token)}`;
    const app = this.config.email.app_name;
    const what = purpose === "reset" ? `reset your ${app} password` : purpose === "register" ? `create your ${app} account` : `add this address to your ${app} account`;
    await this.send(email, purpose === "reset" ? `Reset your ${app} password` : `Confirm your email address for ${app}`,
      `Open this link to ${what}:\n\n${link}\n\nIf you did not ask for this, ignore this email.\n`);
    return { sid, submit_url: submitUrl };
  }

  /** The link, or submit_url: the token proves the address. Returns the session's next_link. */
  async validate(sid: string, clientSecret: string, token: string): Promise<string | null> {
    const row = sid.length <= 255 ? await this.db("threepid_validations").where({ sid }).first() : null;
    const ok = row && row.client_secret === clientSecret && Number(row.created_ts) > Date.now() - this.config.email.token_lifetime_ms
      && timingSafeEqual(Buffer.from(row.token_hash), hash(token));
    if (!ok) throw new MatrixError(400, "M_UNKNOWN", "This link is not valid or has expired");
    if (!row.validated_at) await this.db("threepid_validations").where({ sid }).update({ validated_at: Date.now() });
    return row.next_link ?? null;
  }

  /** The address a validated session proved, for `purpose`; a 401 M_THREEPID_AUTH_FAILED otherwise. */
  async validatedAddress(creds: unknown, purpose: Purpose): Promise<{ sid: string; address: string; validatedAt: number }> {
    const c = (creds ?? {}) as { sid?: unknown; client_secret?: unknown };
    if (typeof c.sid !== "string" || typeof c.client_secret !== "string") throw new MatrixError(400, "M_MISSING_PARAM", "threepid_creds needs sid and client_secret");
    if (c.sid.length > 255 || c.client_secret.length > 255) throw new MatrixError(400, "M_INVALID_PARAM", "sid and client_secret are at most 255 characters");
    const row = await this.db("threepid_validations").where({ sid: c.sid, client_secret: c.client_secret, purpose }).first();
    if (!row || !row.validated_at) throw new MatrixError(401, "M_THREEPID_AUTH_FAILED", "This email address has not been validated yet");
    return { sid: row.sid, address: row.address, validatedAt: Number(row.validated_at) };
  }

  /** A session used up (the address was bound or the password changed). */
  async consume(sid: string): Promise<void> {
    await this.db("threepid_validations").where({ sid }).delete();
  }
}
