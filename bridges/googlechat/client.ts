// The only file that calls Google: service-account OAuth and the Chat REST API, and the
// verification of the JWTs Google Chat signs its events with.
// https://developers.google.com/identity/protocols/oauth2/service-account
// https://developers.google.com/workspace/chat/verify-requests-from-chat
import { createHash, randomBytes } from "node:crypto";
import { createRemoteJWKSet, decodeProtectedHeader, importPKCS8, importX509, jwtVerify, SignJWT } from "jose";

type KeyLike = Awaited<ReturnType<typeof importX509>>;

export interface ServiceAccount { client_email: string; private_key: string; private_key_id?: string; token_uri?: string }

export class ChatError extends Error {
  constructor(readonly status: number, message: string) {
    super(`Google Chat API ${status}: ${message}`);
  }
}

export const CHAT_ISSUER = "chat@system.gserviceaccount.com";

/**
 * The other authentication audience a Chat app can choose ("HTTP endpoint URL"): a Google
 * OIDC ID token for the endpoint URL, whose email must be Chat's service account.
 */
export class IdTokenVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(jwksUrl: string, private readonly endpointUrl: string) {
    this.jwks = createRemoteJWKSet(new URL(jwksUrl));
  }

  async verify(token: string): Promise<Record<string, unknown>> {
    const { payload } = await jwtVerify(token, this.jwks, { issuer: ["https://accounts.google.com", "accounts.google.com"], audience: this.endpointUrl, algorithms: ["RS256"] });
    if (payload.email !== CHAT_ISSUER || payload.email_verified !== true) throw new Error("not Google Chat");
    return payload;
  }
}

/** Verifies an event's Bearer JWT (project-number audience); keys by kid, refreshed once for an unknown kid. */
export class EventVerifier {
  private keys = new Map<string, KeyLike>();
  /** Recent refetches: an unknown kid refetches once, and at most 10 times a minute in all. */
  private refetches: number[] = [];
  private readonly triedKids = new Set<string>();

  constructor(private readonly certsUrl: string, private readonly projectNumber: string) {}

  async verify(token: string): Promise<Record<string, unknown>> {
    const { kid, alg } = decodeProtectedHeader(token);
    if (alg !== "RS256" || typeof kid !== "string") throw new Error("unexpected JWT header");
    let key = this.keys.get(kid);
    const now = Date.now();
    this.refetches = this.refetches.filter((t) => now - t < 60_000);
    if (!key && !this.triedKids.has(kid) && this.refetches.length < 10) {
      this.refetches.push(now);
      if (this.triedKids.size > 1000) this.triedKids.clear();
      this.triedKids.add(kid);
      await this.refresh();
      key = this.keys.get(kid);
    }
    if (!key) throw new Error("unknown key id");
    const { payload } = await jwtVerify(token, key, { issuer: CHAT_ISSUER, audience: this.projectNumber, algorithms: ["RS256"] });
    return payload;
  }

  private async refresh(): Promise<void> {
    const res = await fetch(this.certsUrl);
    if (!res.ok) throw new Error(`certs: HTTP ${res.status}`);
    const certs = await res.json() as Record<string, string>;
    const keys = new Map<string, KeyLike>();
    for (const [kid, pem] of Object.entries(certs)) keys.set(kid, await importX509(pem, "RS256"));
    this.keys = keys;
  }
}

/** What may be retried: rate limits and server errors. */
const retryable = (status: number) => status === 429 || status >= 500;

export class ChatClient {
  private token: { value: string; until: number } | null = null;
  retryDelays = [1000, 2000, 4000];

  constructor(private readonly base: string, private readonly sa: ServiceAccount) {}

  /** An access token for the chat.bot scope, cached until a minute before it expires. */
  private async accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.until) return this.token.value;
    const now = Math.floor(Date.now() / 1000);
    const tokenUri = this.sa.token_uri ?? "https://oauth2.googleapis.com/token";
    const assertion = await new SignJWT({ scope: "https://www.googleapis.com/auth/chat.bot" })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", ...(this.sa.private_key_id ? { kid: this.sa.private_key_id } : {}) })
      .setIssuer(this.sa.client_email).setAudience(tokenUri).setIssuedAt(now).setExpirationTime(now + 3600)
      .sign(await importPKCS8(this.sa.private_key, "RS256"));
    const res = await fetch(tokenUri, {
      method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
    });
    const json = await res.json().catch(() => ({})) as { access_token?: string; expires_in?: number; error?: string };
    if (!res.ok || !json.access_token) throw new ChatError(res.status || 401, `token: ${json.error ?? "refused"}`);
    this.token = { value: json.access_token, until: Date.now() + ((json.expires_in ?? 3600) - 60) * 1000 };
    return json.access_token;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${this.base.replace(/\/$/, "")}${path}`, {
        method,
        headers: { Authorization: `Bearer ${await this.accessToken()}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (res.ok) return (text ? JSON.parse(text) : {}) as T;
      // A token Google no longer takes: get a new one and try once more.
      if (res.status === 401 && attempt === 0) {
        this.token = null;
        continue;
      }
      if (!retryable(res.status) || attempt >= this.retryDelays.length) {
        let msg = text;
        try { msg = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text; } catch { /* text */ }
        throw new ChatError(res.status, msg);
      }
      await new Promise((r) => setTimeout(r, this.retryDelays[attempt]));
    }
  }

  /**
   * spaces.messages.create. `requestId` comes from the Matrix event ID, so a retry (or a
   * restart) never posts twice; `messageId` is a `client-` ID of our own.
   */
  createMessage(space: string, text: string, opts: { eventId: string; thread?: string }): Promise<{ name: string; thread?: { name: string } }> {
    const h = createHash("sha256").update(opts.eventId).digest("hex");
    const q = new URLSearchParams({ requestId: h.slice(0, 48), messageId: `client-${h.slice(0, 40)}` });
    if (opts.thread) q.set("messageReplyOption", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD");
    return this.call("POST", `/v1/${space}/messages?${q}`, { text, ...(opts.thread ? { thread: { name: opts.thread } } : {}) });
  }

  updateText(name: string, text: string): Promise<unknown> {
    return this.call("PATCH", `/v1/${name}?updateMask=text`, { text });
  }

  deleteMessage(name: string): Promise<unknown> {
    return this.call("DELETE", `/v1/${name}`);
  }

  /** Downloads an attachment's bytes (media download with its resource name). */
  async download(resourceName: string): Promise<{ bytes: Buffer; contentType: string }> {
    const res = await fetch(`${this.base.replace(/\/$/, "")}/v1/media/${resourceName}?alt=media`, { headers: { Authorization: `Bearer ${await this.accessToken()}` } });
    if (!res.ok) throw new ChatError(res.status, "media download failed");
    return { bytes: Buffer.from(await res.arrayBuffer()), contentType: res.headers.get("content-type") ?? "application/octet-stream" };
  }
}

export const newId = () => randomBytes(8).toString("hex");
