// A fake WhatsApp Business Cloud API (Graph API) that follows the real contract for what the
// bridge uses: bearer auth (401, Graph error 190), the messages endpoint (text, mark-as-read),
// and signed webhooks sent to the bridge (X-Hub-Signature-256 over the raw body).
import { createHmac, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";

export class FakeWhatsApp {
  readonly sent: any[] = [];
  /** Uploaded or inbound media by ID. */
  readonly media = new Map<string, { bytes: Buffer; mime: string }>();
  /** Errors the next sends answer with (a Graph error code and HTTP status each). */
  readonly failNext: { code: number; status: number }[] = [];
  /** Where status webhooks go (the bridge's webhook URL), for the 24-hour window failures. */
  webhookUrl = "";
  /** Simulated time: lets a test close a customer's 24-hour window. */
  private clockOffset = 0;
  private readonly lastInbound = new Map<string, number>();

  now(): number {
    return Date.now() + this.clockOffset;
  }

  advance(ms: number): void {
    this.clockOffset += ms;
  }
  url = "";
  private server!: Server;

  constructor(readonly token: string, readonly appSecret: string, readonly phoneNumberId: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => void this.handle(req.method ?? "GET", req.url ?? "", req.headers, Buffer.concat(chunks), res));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  private async handle(method: string, url: string, headers: import("node:http").IncomingHttpHeaders, raw: Buffer, res: import("node:http").ServerResponse): Promise<void> {
    const json = (status: number, b: unknown) => { res.writeHead(status, { "Content-Type": "application/json" }); res.end(JSON.stringify(b)); };
    const graphError = (status: number, code: number, message: string) => json(status, { error: { message, type: code === 190 ? "OAuthException" : "GraphMethodException", code } });
    if (headers.authorization !== `Bearer ${this.token}`) return graphError(401, 190, "Invalid OAuth access token.");
    let m: RegExpExecArray | null;
    // The lookaside URL: bytes, with the same bearer token.
    if (method === "GET" && (m = /^\/__media\/([^/?]+)\?ext=(\d+)/.exec(url))) {
      const f = this.media.get(m[1]!);
      // Lookaside URLs expire after 5 minutes (the Graph API hands out a fresh one each time).
      if (!f || this.now() > Number(m[2])) { res.writeHead(404).end(); return; }
      res.writeHead(200, { "Content-Type": f.mime });
      res.end(f.bytes);
      return;
    }
    if (method === "GET" && (m = /^\/v[\d.]+\/([^/?]+)$/.exec(url))) {
      const f = this.media.get(m[1]!);
      if (!f) return graphError(400, 100, "Unsupported get request");
      return json(200, { messaging_product: "whatsapp", url: `${this.url}/__media/${m[1]}?ext=${this.now() + 5 * 60 * 1000}&hash=x`, mime_type: f.mime, sha256: "x", file_size: String(f.bytes.length), id: m[1] });
    }
    if (method === "POST" && (m = /^\/v[\d.]+\/([^/]+)\/media$/.exec(url))) {
      const form = await new Response(raw, { headers: { "Content-Type": String(headers["content-type"]) } }).formData();
      const file = form.get("file");
      if (form.get("messaging_product") !== "whatsapp" || !(file instanceof Blob)) return graphError(400, 100, "file and messaging_product are required");
      const id = String(Math.floor(Math.random() * 1e15));
      this.media.set(id, { bytes: Buffer.from(await file.arrayBuffer()), mime: String(form.get("type") ?? file.type) });
      return json(200, { id });
    }
    m = /^\/(v[\d.]+)\/([^/]+)\/messages$/.exec(url);
    if (method !== "POST" || !m) return graphError(404, 100, "Unknown path");
    if (m[2] !== this.phoneNumberId) return graphError(400, 100, "Unknown phone number");
    let body: any;
    try { body = JSON.parse(raw.toString("utf8")); } catch { return graphError(400, 100, "Invalid JSON"); }
    if (body.messaging_product !== "whatsapp") return graphError(400, 100, "messaging_product must be whatsapp");
    const fail = this.failNext.shift();
    if (fail) { this.sent.push({ ...body, failedWith: fail.code }); return graphError(fail.status, fail.code, `Injected error ${fail.code}`); }
    this.sent.push(body);
    if (body.status === "read") return json(200, { success: true });
    const t = body.type;
    if (t === "text" && (typeof body.text?.body !== "string" || body.text.body.length > 4096)) return graphError(400, 100, "Invalid text");
    if (["image", "audio", "video", "document", "sticker"].includes(t) && !body[t]?.id === !body[t]?.link) return graphError(400, 100, "Give id or link");
    if (t === "reaction" && (typeof body.reaction?.message_id !== "string" || typeof body.reaction?.emoji !== "string")) return graphError(400, 100, "Invalid reaction");
    if (t === "template" && (typeof body.template?.name !== "string" || typeof body.template?.language?.code !== "string")) return graphError(400, 100, "Invalid template");
    const wamid = `wamid.${randomUUID()}`;
    json(200, { messaging_product: "whatsapp", contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id: wamid }] });
    // Outside the customer's 24-hour window only templates go out: as on WhatsApp, the send is
    // accepted, then a signed `failed` status with 131047 follows.
    const last = this.lastInbound.get(body.to);
    if (t !== "template" && t !== "reaction" && this.webhookUrl && (last === undefined || this.now() - last > 24 * 3600 * 1000)) {
      setTimeout(() => void this.deliver(this.webhookUrl, this.status(wamid, "failed", body.to, [{ code: 131047, title: "Re-engagement message" }])).catch(() => undefined), 20);
    }
  }

  /** Media a customer sent (for inbound media webhooks); returns its media ID. */
  addMedia(bytes: Buffer, mime: string): string {
    const id = String(Math.floor(Math.random() * 1e15));
    this.media.set(id, { bytes, mime });
    return id;
  }

  inbound(from: string, message: Record<string, unknown>, id = `wamid.${randomUUID()}`): Record<string, unknown> {
    return this.envelope({ contacts: [{ profile: { name: "Customer" }, wa_id: from }], messages: [{ from, id, timestamp: String(Math.floor(Date.now() / 1000)), ...message }] });
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
    // A customer's message opens (or refreshes) their 24-hour window.
    for (const e of (payload as { entry?: { changes?: { value?: { messages?: { from: string }[] } }[] }[] }).entry ?? []) {
      for (const c of e.changes ?? []) for (const m of c.value?.messages ?? []) this.lastInbound.set(m.from, this.now());
    }
    const sig = signing === "good" ? createHmac("sha256", this.appSecret).update(raw).digest("hex") : "0".repeat(64);
    const res = await fetch(webhookUrl, { method: "POST", headers: { "Content-Type": "application/json", ...(signing === "none" ? {} : { "X-Hub-Signature-256": `sha256=${sig}` }) }, body: raw });
    return res.status;
  }
}
