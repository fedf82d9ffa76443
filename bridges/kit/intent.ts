// Acting on the homeserver as the bridge bot or one of its ghosts (the client-server API with
// the as_token and ?user_id=). https://spec.matrix.org/latest/application-service-api/#identity-assertion

export class MatrixError extends Error {
  constructor(readonly status: number, readonly errcode: string, message: string) {
    super(`${status} ${errcode}: ${message}`);
  }
}

export class Intent {
  /** Rooms this user is known to be joined to (saves a join per send). */
  private readonly joined = new Set<string>();
  private registered = false;

  constructor(private readonly hsUrl: string, private readonly asToken: string, readonly userId: string, private readonly isBot = false) {}

  /** Calls the client-server API as this user. */
  async call<T = any>(method: string, path: string, body?: unknown, query: Record<string, string> = {}): Promise<T> {
    const q = new URLSearchParams({ ...query, ...(this.isBot ? {} : { user_id: this.userId }) });
    const qs = q.toString();
    const res = await fetch(`${this.hsUrl.replace(/\/$/, "")}${path}${qs ? `?${qs}` : ""}`, {
      method,
      headers: { Authorization: `Bearer ${this.asToken}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const json = text ? JSON.parse(text) : {};
    if (!res.ok) throw new MatrixError(res.status, json.errcode ?? "M_UNKNOWN", json.error ?? text);
    return json as T;
  }

  /** Registers the ghost (m.login.application_service); an existing one is fine. */
  async ensureRegistered(): Promise<void> {
    if (this.registered || this.isBot) return;
    const localpart = this.userId.slice(1, this.userId.indexOf(":"));
    try {
      await new Intent(this.hsUrl, this.asToken, this.userId, true).call("POST", "/_matrix/client/v3/register", { type: "m.login.application_service", username: localpart, inhibit_login: true });
    } catch (e) {
      if (!(e instanceof MatrixError && e.errcode === "M_USER_IN_USE")) throw e;
    }
    this.registered = true;
  }

  async setDisplayName(name: string): Promise<void> {
    await this.ensureRegistered();
    await this.call("PUT", `/_matrix/client/v3/profile/${encodeURIComponent(this.userId)}/displayname`, { displayname: name });
  }

  async ensureJoined(roomId: string): Promise<void> {
    if (this.joined.has(roomId)) return;
    await this.ensureRegistered();
    await this.call("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
    this.joined.add(roomId);
  }

  async createRoom(body: Record<string, unknown>): Promise<string> {
    await this.ensureRegistered();
    const r = await this.call<{ room_id: string }>("POST", "/_matrix/client/v3/createRoom", body);
    this.joined.add(r.room_id);
    return r.room_id;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: userId });
  }

  /** Sends an event; `txnId` makes it idempotent (the same ID is the same event), `ts` sets its time. */
  async send(roomId: string, type: string, content: Record<string, unknown>, txnId: string, ts?: number): Promise<string> {
    await this.ensureJoined(roomId);
    const r = await this.call<{ event_id: string }>("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${encodeURIComponent(type)}/${encodeURIComponent(txnId)}`,
      content, ts !== undefined ? { ts: String(ts) } : {});
    return r.event_id;
  }

  async redact(roomId: string, eventId: string, txnId: string, reason?: string): Promise<string> {
    await this.ensureJoined(roomId);
    const r = await this.call<{ event_id: string }>("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(eventId)}/${encodeURIComponent(txnId)}`,
      reason ? { reason } : {});
    return r.event_id;
  }

  async readReceipt(roomId: string, eventId: string): Promise<void> {
    await this.receipt(roomId, eventId, "m.read");
  }

  /**
   * The homeserver's delivered receipt (org.ganglion.delivered): the remote side has the
   * message. Other homeservers refuse the type; that is not an error for the bridge.
   */
  async deliveredReceipt(roomId: string, eventId: string): Promise<void> {
    try {
      await this.receipt(roomId, eventId, "org.ganglion.delivered");
    } catch (e) {
      if ((e as { errcode?: string }).errcode !== "M_INVALID_PARAM") throw e;
    }
  }

  private async receipt(roomId: string, eventId: string, type: string): Promise<void> {
    await this.ensureJoined(roomId);
    await this.call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/${type}/${encodeURIComponent(eventId)}`, {});
  }

  async typing(roomId: string, typing: boolean, timeoutMs = 30_000): Promise<void> {
    await this.ensureJoined(roomId);
    await this.call("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(this.userId)}`, { typing, timeout: timeoutMs });
  }

  /** Uploads media; returns its mxc:// URI. */
  async upload(bytes: Buffer, contentType: string, filename?: string): Promise<string> {
    await this.ensureRegistered();
    const q = new URLSearchParams({ ...(filename ? { filename } : {}), ...(this.isBot ? {} : { user_id: this.userId }) });
    const res = await fetch(`${this.hsUrl.replace(/\/$/, "")}/_matrix/media/v3/upload?${q}`, {
      method: "POST", headers: { Authorization: `Bearer ${this.asToken}`, "Content-Type": contentType }, body: bytes,
    });
    const json = await res.json() as { content_uri?: string; errcode?: string; error?: string };
    if (!res.ok || !json.content_uri) throw new MatrixError(res.status, json.errcode ?? "M_UNKNOWN", json.error ?? "upload failed");
    return json.content_uri;
  }

  /** Downloads media by its mxc:// URI (authenticated media). */
  async download(mxc: string): Promise<{ bytes: Buffer; contentType: string }> {
    const m = /^mxc:\/\/([^/]+)\/([^/]+)$/.exec(mxc);
    if (!m) throw new MatrixError(400, "M_INVALID_PARAM", `not an mxc URI: ${mxc}`);
    const res = await fetch(`${this.hsUrl.replace(/\/$/, "")}/_matrix/client/v1/media/download/${m[1]}/${m[2]}`, { headers: { Authorization: `Bearer ${this.asToken}` } });
    if (!res.ok) throw new MatrixError(res.status, "M_NOT_FOUND", "download failed");
    return { bytes: Buffer.from(await res.arrayBuffer()), contentType: res.headers.get("content-type") ?? "application/octet-stream" };
  }
}

/** Intents by user ID, made once. */
export class Intents {
  private readonly byUser = new Map<string, Intent>();
  readonly bot: Intent;

  constructor(private readonly hsUrl: string, private readonly asToken: string, botUserId: string) {
    this.bot = new Intent(hsUrl, asToken, botUserId, true);
  }

  for(userId: string): Intent {
    let i = this.byUser.get(userId);
    if (!i) this.byUser.set(userId, (i = new Intent(this.hsUrl, this.asToken, userId)));
    return i;
  }
}
