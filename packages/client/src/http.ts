// What goes over HTTP with the same token: history, search, media, redactions.
import type { Json, MatrixEvent } from "./types.js";

/** A Matrix error answer: `errcode` and `error` from the server, and the HTTP status. */
export class MatrixError extends Error {
  constructor(readonly errcode: string, readonly error: string, readonly status = 0, readonly body: Json = {}) {
    super(`${errcode}: ${error}`);
    this.name = "MatrixError";
  }

  static from(body: unknown, status = 0): MatrixError {
    const b = (body && typeof body === "object" ? body : {}) as Json;
    return new MatrixError(typeof b.errcode === "string" ? b.errcode : "M_UNKNOWN", typeof b.error === "string" ? b.error : `HTTP ${status}`, status, b);
  }
}

const enc = encodeURIComponent;

export class Http {
  constructor(private readonly baseUrl: string, private readonly token: () => string, private readonly fetchFn: typeof fetch = globalThis.fetch.bind(globalThis)) {}

  async json<T = Json>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetchFn(this.baseUrl + path, {
      method,
      headers: { Authorization: `Bearer ${this.token()}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = {};
    try { parsed = text ? JSON.parse(text) : {}; } catch { parsed = { errcode: "M_NOT_JSON", error: text.slice(0, 200) }; }
    if (!res.ok) throw MatrixError.from(parsed, res.status);
    return parsed as T;
  }

  /** GET /rooms/{roomId}/messages: a page of history. */
  messages(roomId: string, opts: { from?: string; dir?: "b" | "f"; limit?: number; filter?: Json } = {}): Promise<{ chunk: MatrixEvent[]; start: string; end?: string; state?: MatrixEvent[] }> {
    const q = new URLSearchParams({ dir: opts.dir ?? "b", limit: String(opts.limit ?? 20) });
    if (opts.from) q.set("from", opts.from);
    if (opts.filter) q.set("filter", JSON.stringify(opts.filter));
    return this.json("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/messages?${q}`);
  }

  /** POST /search over room events. */
  search(term: string, opts: { rooms?: string[]; orderBy?: "rank" | "recent"; nextBatch?: string } = {}): Promise<Json> {
    const q = opts.nextBatch ? `?next_batch=${enc(opts.nextBatch)}` : "";
    return this.json("POST", `/_matrix/client/v3/search${q}`, {
      search_categories: { room_events: { search_term: term, order_by: opts.orderBy ?? "rank", ...(opts.rooms ? { filter: { rooms: opts.rooms } } : {}) } },
    });
  }

  /** PUT /rooms/{roomId}/redact/{eventId}/{txnId} */
  redact(roomId: string, eventId: string, txnId: string, reason?: string): Promise<{ event_id: string }> {
    return this.json("PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(eventId)}/${enc(txnId)}`, reason ? { reason } : {});
  }

  /** POST /createRoom; `invite` are user IDs. */
  createRoom(opts: { name?: string; topic?: string; invite?: string[]; preset?: "private_chat" | "public_chat" | "trusted_private_chat"; isDirect?: boolean } = {}): Promise<{ room_id: string }> {
    return this.json("POST", "/_matrix/client/v3/createRoom", {
      preset: opts.preset ?? "private_chat",
      ...(opts.name ? { name: opts.name } : {}), ...(opts.topic ? { topic: opts.topic } : {}),
      ...(opts.invite?.length ? { invite: opts.invite } : {}), ...(opts.isDirect ? { is_direct: true } : {}),
    });
  }

  join(roomIdOrAlias: string): Promise<{ room_id: string }> {
    return this.json("POST", `/_matrix/client/v3/join/${enc(roomIdOrAlias)}`, {});
  }

  leave(roomId: string): Promise<Json> {
    return this.json("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {});
  }

  invite(roomId: string, userId: string): Promise<Json> {
    return this.json("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: userId });
  }

  /** POST /logout: the token stops working. */
  logout(): Promise<Json> {
    return this.json("POST", "/_matrix/client/v3/logout", {});
  }

  /** POST /_matrix/media/v3/upload: the content URI of the upload. */
  async upload(data: Blob | Uint8Array | ArrayBuffer, contentType: string, filename?: string): Promise<string> {
    const res = await this.fetchFn(`${this.baseUrl}/_matrix/media/v3/upload${filename ? `?filename=${enc(filename)}` : ""}`, {
      method: "POST", headers: { Authorization: `Bearer ${this.token()}`, "Content-Type": contentType }, body: data as never,
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw MatrixError.from(body, res.status);
    return (body as { content_uri: string }).content_uri;
  }

  /** GET /_matrix/client/v1/media/download/{server}/{mediaId} (authenticated media). */
  download(mxc: string): Promise<{ data: ArrayBuffer; contentType: string | null }> {
    return this.media(mxc, "download", "");
  }

  /** GET /_matrix/client/v1/media/thumbnail/{server}/{mediaId}: scaled to fit `width`×`height`. */
  thumbnail(mxc: string, width: number, height: number, method: "scale" | "crop" = "scale"): Promise<{ data: ArrayBuffer; contentType: string | null }> {
    return this.media(mxc, "thumbnail", `?width=${width}&height=${height}&method=${method}`);
  }

  private async media(mxc: string, kind: "download" | "thumbnail", query: string): Promise<{ data: ArrayBuffer; contentType: string | null }> {
    const m = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(mxc);
    if (!m) throw new MatrixError("M_INVALID_PARAM", "Not a content URI");
    // A stalled transfer fails after a minute instead of leaving the caller waiting for ever.
    const res = await this.fetchFn(`${this.baseUrl}/_matrix/client/v1/media/${kind}/${enc(m[1]!)}/${enc(m[2]!)}${query}`, { headers: { Authorization: `Bearer ${this.token()}` }, signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw MatrixError.from(await res.json().catch(() => ({})), res.status);
    return { data: await res.arrayBuffer(), contentType: res.headers.get("content-type") };
  }
}
