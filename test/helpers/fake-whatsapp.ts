// A fake WhatsApp Business Cloud API (Graph API) that follows the real contract for what the
// bridge uses: bearer auth (401, Graph error 190), the messages endpoint (text, mark-as-read),
// and signed webhooks sent to the bridge (X-Hub-Signature-256 over the raw body).
import { createHmac, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";

export class FakeWhatsApp {
  readonly sent: any[] = [];
  url = "";
  private server!: Server;

  constructor(readonly token: string, readonly appSecret: string, readonly phoneNumberId: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let text = "";
      req.on("data", (c) => (text += c));
      req.on("end", () => {
        const json = (status: number, b: unknown) => { res.writeHead(status, { "Content-Type": "application/json" }); res.end(JSON.stringify(b)); };
        const m = /^\/(v[\d.]+)\/([^/]+)\/messages$/.exec(req.url ?? "");
        if (req.method !== "POST" || !m) return json(404, { error: { message: "Unknown path", type: "GraphMethodException", code: 100 } });
        if (req.headers.authorization !== `Bearer ${this.token}`) return json(401, { error: { message: "Invalid OAuth access token.", type: "OAuthException", code: 190 } });
        if (m[2] !== this.phoneNumberId) return json(400, { error: { message: "Unknown phone number", type: "OAuthException", code: 100 } });
        let body: any;
        try { body = JSON.parse(text); } catch { return json(400, { error: { message: "Invalid JSON", code: 100 } }); }
        if (body.messaging_product !== "whatsapp") return json(400, { error: { message: "messaging_product must be whatsapp", code: 100 } });
        this.sent.push(body);
        if (body.status === "read") return json(200, { success: true });
        if (body.type === "text" && (typeof body.text?.body !== "string" || body.text.body.length > 4096)) return json(400, { error: { message: "Invalid text", code: 100 } });
        json(200, { messaging_product: "whatsapp", contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id: `wamid.${randomUUID()}` }] });
      });
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** The webhook envelope Meta sends (entry → changes → value). */
  envelope(value: Record<string, unknown>): Record<string, unknown> {
    return {
      object: "whatsapp_business_account",
      entry: [{ id: "102290129340398", changes: [{ field: "messages", value: { messaging_product: "whatsapp", metadata: { display_phone_number: "15550783881", phone_number_id: this.phoneNumberId }, ...value } }] }],
    };
  }

  inboundText(from: string, name: string, body: string, id = `wamid.${randomUUID()}`, ts = Math.floor(Date.now() / 1000)): Record<string, unknown> {
    return this.envelope({ contacts: [{ profile: { name }, wa_id: from }], messages: [{ from, id, timestamp: String(ts), type: "text", text: { body } }] });
  }

  status(id: string, status: string, recipient: string, errors?: unknown[]): Record<string, unknown> {
    return this.envelope({ statuses: [{ id, status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: recipient, ...(errors ? { errors } : {}) }] });
  }

  /** POSTs a payload to the bridge's webhook, signed (or not, or badly) as Meta signs. */
  async deliver(webhookUrl: string, payload: unknown, signing: "good" | "bad" | "none" = "good"): Promise<number> {
    const raw = JSON.stringify(payload);
    const sig = signing === "good" ? createHmac("sha256", this.appSecret).update(raw).digest("hex") : "0".repeat(64);
    const res = await fetch(webhookUrl, { method: "POST", headers: { "Content-Type": "application/json", ...(signing === "none" ? {} : { "X-Hub-Signature-256": `sha256=${sig}` }) }, body: raw });
    return res.status;
  }
}
