// A fake Google for the Google Chat bridge, following the real contracts: the OAuth token
// endpoint (verifies the service account's signed assertion), the x509 certs of
// chat@system.gserviceaccount.com, the Chat REST subset (requestId idempotency, client- IDs,
// threads, update, delete, media), and an event emitter that signs like Chat does (with
// tampering options).
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { SignJWT, importSPKI, jwtVerify } from "jose";

interface SigningKey { kid: string; privateKey: KeyObject; certPem: string }

function makeKey(): SigningKey {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const dir = mkdtempSync(path.join(tmpdir(), "fake-google-"));
  const keyFile = path.join(dir, "key.pem");
  writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
  const certFile = path.join(dir, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-new", "-key", keyFile, "-subj", "/CN=chat@system.gserviceaccount.com", "-days", "2", "-out", certFile], { stdio: "ignore" });
  return { kid: randomUUID().replace(/-/g, ""), privateKey, certPem: readFileSync(certFile, "utf8") };
}

export class FakeGoogle {
  url = "";
  readonly requests: { method: string; path: string; body: any }[] = [];
  readonly messages = new Map<string, { name: string; text: string; thread: { name: string } }>();
  readonly attachments = new Map<string, { bytes: Buffer; type: string }>();
  private readonly byRequestId = new Map<string, string>();
  private chatKey = makeKey();
  private readonly oldKeys: SigningKey[] = [];
  private readonly tokens = new Set<string>();
  /** Token requests answered (to see the bridge caching its access token). */
  tokenRequests = 0;
  /** The next message creations fail with this status; `afterCreate`: the message is made first (a lost answer). */
  readonly failNext: { status: number; afterCreate?: boolean }[] = [];
  /** Google's OIDC key (ID tokens for the endpoint-URL audience), served as a JWKS. */
  private readonly oidc = generateKeyPairSync("rsa", { modulusLength: 2048 });
  private readonly oidcKid = "oidc-1";
  /** The service account the bridge is configured with (its private key signs token requests). */
  readonly serviceAccount: { client_email: string; private_key: string; private_key_id: string; token_uri: string };
  private readonly saPublic: string;
  private server!: Server;

  constructor(readonly projectNumber: string) {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.saPublic = publicKey.export({ type: "spki", format: "pem" }).toString();
    this.serviceAccount = { client_email: "bridge@project.iam.gserviceaccount.com", private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), private_key_id: "sa-key-1", token_uri: "" };
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => void this.handle(req.method ?? "GET", req.url ?? "/", req.headers.authorization, Buffer.concat(chunks), res));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    this.serviceAccount.token_uri = `${this.url}/token`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** Chat starts signing with a new key (the bridge sees an unknown kid and refetches). */
  rotateKey(): void {
    this.oldKeys.push(this.chatKey);
    this.chatKey = makeKey();
  }

  private async handle(method: string, url: string, auth: string | undefined, raw: Buffer, res: import("node:http").ServerResponse): Promise<void> {
    const json = (status: number, b: unknown) => { res.writeHead(status, { "Content-Type": "application/json" }); res.end(JSON.stringify(b)); };
    const u = new URL(url, this.url);
    if (method === "GET" && u.pathname === "/certs") return json(200, Object.fromEntries([this.chatKey, ...this.oldKeys].map((k) => [k.kid, k.certPem])));
    if (method === "GET" && u.pathname === "/oauth2/v3/certs") {
      const jwk = this.oidc.publicKey.export({ format: "jwk" });
      return json(200, { keys: [{ ...jwk, kid: this.oidcKid, alg: "RS256", use: "sig" }] });
    }
    if (method === "POST" && u.pathname === "/token") {
      const form = new URLSearchParams(raw.toString("utf8"));
      if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") return json(400, { error: "unsupported_grant_type" });
      try {
        const { payload } = await jwtVerify(form.get("assertion") ?? "", await importSPKI(this.saPublic, "RS256"), { issuer: this.serviceAccount.client_email, audience: this.serviceAccount.token_uri });
        if (payload.scope !== "https://www.googleapis.com/auth/chat.bot") return json(400, { error: "invalid_scope" });
      } catch {
        return json(400, { error: "invalid_grant" });
      }
      const token = `ya29.${randomUUID()}`;
      this.tokens.add(token);
      this.tokenRequests++;
      return json(200, { access_token: token, expires_in: 3599, token_type: "Bearer" });
    }
    const bearer = auth?.startsWith("Bearer ") ? auth.slice(7) : "";
    if (!this.tokens.has(bearer)) return json(401, { error: { code: 401, message: "Request had invalid authentication credentials.", status: "UNAUTHENTICATED" } });
    const body = raw.length ? JSON.parse(raw.toString("utf8")) : undefined;
    this.requests.push({ method, path: `${u.pathname}${u.search}`, body });
    let m: RegExpExecArray | null;
    if (method === "GET" && (m = /^\/v1\/media\/(.+)$/.exec(u.pathname)) && u.searchParams.get("alt") === "media") {
      const a = this.attachments.get(decodeURIComponent(m[1]!));
      if (!a) return json(404, { error: { code: 404, message: "Not found" } });
      res.writeHead(200, { "Content-Type": a.type });
      res.end(a.bytes);
      return;
    }
    if (method === "POST" && (m = /^\/v1\/(spaces\/[^/]+)\/messages$/.exec(u.pathname))) {
      const requestId = u.searchParams.get("requestId");
      if (requestId && this.byRequestId.has(requestId)) return json(200, this.messages.get(this.byRequestId.get(requestId)!));
      const messageId = u.searchParams.get("messageId");
      if (messageId && !/^client-[a-z0-9-]{1,56}$/.test(messageId)) return json(400, { error: { code: 400, message: "messageId must start with client-" } });
      if (typeof body?.text !== "string") return json(400, { error: { code: 400, message: "text is required" } });
      const fail = this.failNext.shift();
      if (fail && !fail.afterCreate) return json(fail.status, { error: { code: fail.status, message: "Injected" } });
      const threadName = body.thread?.name && u.searchParams.get("messageReplyOption") ? body.thread.name : `${m[1]}/threads/${randomUUID().slice(0, 8)}`;
      const msg = { name: `${m[1]}/messages/${messageId ?? randomUUID().slice(0, 12)}`, text: body.text, thread: { name: threadName } };
      this.messages.set(msg.name, msg);
      if (requestId) this.byRequestId.set(requestId, msg.name);
      if (fail) return json(fail.status, { error: { code: fail.status, message: "Injected after the message was made" } });
      return json(200, msg);
    }
    if ((m = /^\/v1\/(spaces\/[^/]+\/messages\/[^/]+)$/.exec(u.pathname))) {
      const msg = this.messages.get(m[1]!);
      if (!msg) return json(404, { error: { code: 404, message: "Message not found" } });
      if (method === "PATCH") {
        if (u.searchParams.get("updateMask") !== "text") return json(400, { error: { code: 400, message: "updateMask" } });
        msg.text = body.text;
        return json(200, msg);
      }
      if (method === "DELETE") { this.messages.delete(m[1]!); return json(200, {}); }
    }
    json(404, { error: { code: 404, message: "Not found" } });
  }

  /** Every access token handed out stops working (the bridge must get a new one). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  /** A Google ID token as Chat sends with the endpoint-URL audience. */
  async idToken(audience: string, opts: { email?: string; verified?: boolean } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ email: opts.email ?? "chat@system.gserviceaccount.com", email_verified: opts.verified ?? true })
      .setProtectedHeader({ alg: "RS256", kid: this.oidcKid, typ: "JWT" })
      .setIssuer("https://accounts.google.com").setAudience(audience).setIssuedAt(now).setExpirationTime(now + 3600)
      .sign(this.oidc.privateKey);
  }

  /** Signs an event as Chat does and POSTs it to the bridge; tampering options for the tests. */
  async emit(eventsUrl: string, event: unknown, tamper: "none" | "aud" | "iss" | "expired" | "signature" | "unknownKid" = "none"): Promise<number> {
    const now = Math.floor(Date.now() / 1000);
    const key = tamper === "signature" ? makeKey() : this.chatKey;
    const kid = tamper === "unknownKid" ? "no-such-kid" : this.chatKey.kid;
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
      .setIssuer(tamper === "iss" ? "someone@else.iam.gserviceaccount.com" : "chat@system.gserviceaccount.com")
      .setAudience(tamper === "aud" ? "999" : this.projectNumber)
      .setIssuedAt(tamper === "expired" ? now - 7200 : now).setExpirationTime(tamper === "expired" ? now - 3600 : now + 3600)
      .sign(key.privateKey);
    const res = await fetch(eventsUrl, { method: "POST", headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json", "User-Agent": "Google-Dynamite" }, body: JSON.stringify(event) });
    return res.status;
  }
}
