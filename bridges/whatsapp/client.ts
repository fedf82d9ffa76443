// The only file that calls the WhatsApp Business Cloud API (Graph API).
// https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages

export class GraphError extends Error {
  constructor(readonly status: number, readonly code: number, message: string) {
    super(`Graph API error ${code}: ${message}`);
  }
}

/** Throughput, pair-rate and API-call limits: worth waiting and trying again (research §1.8-1.9). */
const RETRYABLE = new Set([130429, 131056, 4, 80007]);

export class WhatsAppClient {
  /** Waits between retries of a rate-limited send (ms); tests shorten it. */
  retryDelays = [1000, 2000, 4000, 8000];

  constructor(private readonly base: string, private readonly version: string, private readonly phoneNumberId: string, private readonly token: string) {}

  private get root(): string {
    return `${this.base.replace(/\/$/, "")}/${this.version}`;
  }

  private async post(body: Record<string, unknown>): Promise<any> {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${this.root}/${this.phoneNumberId}/messages`, {
        method: "POST",
        headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ messaging_product: "whatsapp", ...body }),
      });
      const json = await res.json().catch(() => ({})) as { error?: { code?: number; message?: string } };
      if (res.ok) return json;
      const err = new GraphError(res.status, json.error?.code ?? 0, json.error?.message ?? `HTTP ${res.status}`);
      if (!RETRYABLE.has(err.code) || attempt >= this.retryDelays.length) throw err;
      await new Promise((r) => setTimeout(r, this.retryDelays[attempt]));
    }
  }

  /** Sends any message object (`type` and its field); returns the wamid. */
  async send(to: string, message: Record<string, unknown>, opts: { replyTo?: string; callbackData?: string } = {}): Promise<string> {
    const r = await this.post({
      recipient_type: "individual", to, ...message,
      ...(opts.replyTo ? { context: { message_id: opts.replyTo } } : {}),
      ...(opts.callbackData ? { biz_opaque_callback_data: opts.callbackData } : {}),
    });
    return r.messages[0].id as string;
  }

  /** Uploads media (multipart); returns its media ID. */
  async uploadMedia(bytes: Buffer, mimeType: string, filename: string): Promise<string> {
    const form = new FormData();
    form.set("messaging_product", "whatsapp");
    form.set("type", mimeType);
    form.set("file", new Blob([bytes], { type: mimeType }), filename);
    const res = await fetch(`${this.root}/${this.phoneNumberId}/media`, { method: "POST", headers: { Authorization: `Bearer ${this.token}` }, body: form });
    const json = await res.json().catch(() => ({})) as { id?: string; error?: { code?: number; message?: string } };
    if (!res.ok || !json.id) throw new GraphError(res.status, json.error?.code ?? 131053, json.error?.message ?? "media upload failed");
    return json.id;
  }

  /** Fetches media by ID: the URL from the Graph API, then the bytes (both with the token). */
  async downloadMedia(mediaId: string): Promise<{ bytes: Buffer; mimeType: string }> {
    const meta = await fetch(`${this.root}/${encodeURIComponent(mediaId)}`, { headers: { Authorization: `Bearer ${this.token}` } });
    const info = await meta.json().catch(() => ({})) as { url?: string; mime_type?: string; error?: { code?: number; message?: string } };
    if (!meta.ok || !info.url) throw new GraphError(meta.status, info.error?.code ?? 131052, info.error?.message ?? "media lookup failed");
    const res = await fetch(info.url, { headers: { Authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new GraphError(res.status, 131052, "media download failed");
    return { bytes: Buffer.from(await res.arrayBuffer()), mimeType: info.mime_type ?? res.headers.get("content-type") ?? "application/octet-stream" };
  }

  /** Sends a text; returns the new message's wamid. */
  sendText(to: string, body: string, opts: { replyTo?: string; callbackData?: string } = {}): Promise<string> {
    return this.send(to, { type: "text", text: { preview_url: false, body: body.slice(0, 4096) } }, opts);
  }

  /** Marks an inbound message (and every earlier one) as read. */
  async markRead(messageId: string): Promise<void> {
    await this.post({ status: "read", message_id: messageId });
  }
}
