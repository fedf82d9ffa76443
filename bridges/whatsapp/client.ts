// The only file that calls the WhatsApp Business Cloud API (Graph API).
// https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages

export class GraphError extends Error {
  constructor(readonly status: number, readonly code: number, message: string) {
    super(`Graph API error ${code}: ${message}`);
  }
}

export class WhatsAppClient {
  constructor(private readonly base: string, private readonly version: string, private readonly phoneNumberId: string, private readonly token: string) {}

  private async post(body: Record<string, unknown>): Promise<any> {
    const res = await fetch(`${this.base.replace(/\/$/, "")}/${this.version}/${this.phoneNumberId}/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ messaging_product: "whatsapp", ...body }),
    });
    const json = await res.json().catch(() => ({})) as { error?: { code?: number; message?: string } };
    if (!res.ok) throw new GraphError(res.status, json.error?.code ?? 0, json.error?.message ?? `HTTP ${res.status}`);
    return json;
  }

  /** Sends a text; returns the new message's wamid. */
  async sendText(to: string, body: string, opts: { replyTo?: string; callbackData?: string } = {}): Promise<string> {
    const r = await this.post({
      recipient_type: "individual", to, type: "text", text: { preview_url: false, body: body.slice(0, 4096) },
      ...(opts.replyTo ? { context: { message_id: opts.replyTo } } : {}),
      ...(opts.callbackData ? { biz_opaque_callback_data: opts.callbackData } : {}),
    });
    return r.messages[0].id as string;
  }

  /** Marks an inbound message (and every earlier one) as read. */
  async markRead(messageId: string): Promise<void> {
    await this.post({ status: "read", message_id: messageId });
  }
}
