// The WhatsApp bridge: one business number, a portal room per customer (wa_id), a ghost per
// customer, the team invited to every portal (relay model).
// This first slice bridges text both ways, read statuses, and the webhook's security and
// delivery semantics; media, reactions, replies and templates come next (docs/bridges.md).
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Server } from "node:http";
import express from "express";
import { mountAppservice, type MatrixEvent } from "../kit/appservice.js";
import { Intents } from "../kit/intent.js";
import { KitStore } from "../kit/store.js";
import { GraphError, WhatsAppClient } from "./client.js";
import type { WhatsAppConfig } from "./config.js";

const NETWORK = "whatsapp";

interface WaMessage { from: string; id: string; timestamp: string; type: string; text?: { body: string } }
interface WaStatus { id: string; status: string; recipient_id: string; errors?: { code: number; title?: string; message?: string }[] }
interface WaValue { metadata?: { phone_number_id?: string }; contacts?: { profile?: { name?: string }; wa_id: string }[]; messages?: WaMessage[]; statuses?: WaStatus[] }

/** Verifies X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret), in constant time. */
export function signatureValid(raw: Buffer, header: string | undefined, appSecret: string): boolean {
  if (!header?.startsWith("sha256=")) return false;
  const expected = Buffer.from(createHmac("sha256", appSecret).update(raw).digest("hex"), "utf8");
  const given = Buffer.from(header.slice("sha256=".length).toLowerCase(), "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export class WhatsAppBridge {
  readonly store: KitStore;
  private readonly intents: Intents;
  private readonly wa: WhatsAppClient;
  private server: Server | null = null;
  /** Work is done in order, one item at a time (a webhook batch, a transaction). */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly c: WhatsAppConfig, dbUrl: string) {
    this.store = new KitStore(dbUrl, c.database.schema);
    this.intents = new Intents(c.homeserver.url, c.appservice.as_token, `@${c.appservice.bot_localpart}:${c.homeserver.domain}`);
    this.wa = new WhatsAppClient(c.whatsapp.graph_base_url, c.whatsapp.graph_version, c.whatsapp.phone_number_id, c.whatsapp.access_token);
  }

  ghostId(waId: string): string {
    return `@${this.c.appservice.user_prefix}${waId}:${this.c.homeserver.domain}`;
  }

  async start(): Promise<{ port: number }> {
    await this.store.migrate();
    const app = express();
    app.disable("x-powered-by");
    mountAppservice(app, this.c.appservice.hs_token, this.store, {
      onTransaction: (events) => this.serial(() => this.fromMatrix(events)),
      onUserQuery: async (userId) => userId.startsWith(`@${this.c.appservice.user_prefix}`),
    });
    const path = this.c.whatsapp.webhook_path;
    // The verification handshake Meta makes when the callback URL is configured.
    app.get(path, (req, res) => {
      const q = req.query as Record<string, string | undefined>;
      if (q["hub.mode"] === "subscribe" && q["hub.verify_token"] === this.c.whatsapp.verify_token && typeof q["hub.challenge"] === "string") {
        res.status(200).type("text/plain").send(q["hub.challenge"]);
      } else res.status(403).end();
    });
    // Events: the signature is checked on the raw bytes before anything is parsed.
    app.post(path, express.raw({ type: "*/*", limit: "5mb" }), async (req, res) => {
      const raw = req.body as Buffer;
      const sig = req.headers["x-hub-signature-256"];
      if (typeof sig !== "string") { res.status(401).end(); return; }
      if (!signatureValid(raw, sig, this.c.whatsapp.app_secret)) { res.status(403).end(); return; }
      let body: { entry?: { changes?: { field?: string; value?: WaValue }[] }[] };
      try { body = JSON.parse(raw.toString("utf8")); } catch { res.status(400).end(); return; }
      try {
        // Handled before answering: Meta retries anything not acknowledged, and every
        // message and status is processed once (ids recorded in the store).
        await this.serial(() => this.fromWhatsApp(body));
        res.status(200).end();
      } catch {
        res.status(500).end();
      }
    });
    await new Promise<void>((resolve) => { this.server = app.listen(this.c.appservice.listen.port, this.c.appservice.listen.host, () => resolve()); });
    return { port: (this.server!.address() as { port: number }).port };
  }

  async stop(): Promise<void> {
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
    await this.queue.catch(() => undefined);
    await this.store.close();
  }

  private serial(f: () => Promise<void>): Promise<void> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async fromWhatsApp(body: { entry?: { changes?: { field?: string; value?: WaValue }[] }[] }): Promise<void> {
    for (const entry of body.entry ?? []) {
      for (const change of entry.changes ?? []) {
        const v = change.value;
        if (change.field !== "messages" || !v) continue;
        if (v.metadata?.phone_number_id && v.metadata.phone_number_id !== this.c.whatsapp.phone_number_id) continue;
        const names = new Map((v.contacts ?? []).map((c) => [c.wa_id, c.profile?.name]));
        for (const m of v.messages ?? []) {
          if (!(await this.store.firstDelivery(`msg:${m.id}`))) continue;
          await this.inbound(m, names.get(m.from));
        }
        for (const s of v.statuses ?? []) {
          if (!(await this.store.firstDelivery(`status:${s.id}:${s.status}`))) continue;
          await this.status(s);
        }
      }
    }
  }

  /** The customer's portal, made on first contact: the ghost creates it and the team is invited. */
  private async portal(waId: string, name: string | undefined): Promise<string> {
    const existing = await this.store.portalByRemote(NETWORK, waId);
    if (existing) return existing.roomId;
    const ghost = this.intents.for(this.ghostId(waId));
    await ghost.ensureRegistered();
    if (name) await ghost.setDisplayName(`${name} (WhatsApp)`);
    const roomId = await ghost.createRoom({
      preset: "private_chat", name: name ? `${name} (WhatsApp)` : `+${waId} (WhatsApp)`, invite: [this.intents.bot.userId, ...this.c.team],
      initial_state: [{ type: "m.bridge", state_key: `whatsapp/${waId}`, content: { bridgebot: this.intents.bot.userId, protocol: { id: "whatsapp", displayname: "WhatsApp" }, channel: { id: waId } } }],
      power_level_content_override: { users: { [this.ghostId(waId)]: 100, [this.intents.bot.userId]: 100 } },
    });
    await this.intents.bot.ensureJoined(roomId);
    await this.store.savePortal({ network: NETWORK, remoteId: waId, roomId, name: name ?? null });
    return roomId;
  }

  private async inbound(m: WaMessage, name: string | undefined): Promise<void> {
    const roomId = await this.portal(m.from, name);
    const ghost = this.intents.for(this.ghostId(m.from));
    const content = m.type === "text" && m.text
      ? { msgtype: "m.text", body: m.text.body }
      : { msgtype: "m.notice", body: `(a WhatsApp ${m.type} message that this bridge cannot show yet)` };
    // The wamid is the transaction ID: a retried webhook can never post twice.
    const eventId = await ghost.send(roomId, "m.room.message", content, `wa-${m.id}`, Number(m.timestamp) * 1000 || undefined);
    await this.store.saveMessage({ network: NETWORK, remoteId: m.id, roomId, eventId, sendTxnId: null });
  }

  private async status(s: WaStatus): Promise<void> {
    const msg = await this.store.messageByRemote(NETWORK, s.id);
    if (!msg) return;
    if (s.status === "read" || s.status === "delivered") {
      if (s.status === "read") await this.intents.for(this.ghostId(s.recipient_id)).readReceipt(msg.roomId, msg.eventId);
    } else if (s.status === "failed") {
      const e = s.errors?.[0];
      const why = e?.code === 131047
        ? "the customer has not written in the last 24 hours, so WhatsApp only allows a template message (use !wa template)"
        : `${e?.title ?? "unknown error"}${e?.code ? ` (${e.code})` : ""}`;
      await this.intents.bot.send(msg.roomId, "m.room.message", { msgtype: "m.notice", body: `Not delivered to WhatsApp: ${why}` }, `failed-${s.id}`);
    }
  }

  private async fromMatrix(events: MatrixEvent[]): Promise<void> {
    for (const ev of events) {
      if (ev.type !== "m.room.message") continue;
      if (ev.sender === this.intents.bot.userId || ev.sender.startsWith(`@${this.c.appservice.user_prefix}`)) continue;
      const portal = await this.store.portalByRoom(ev.room_id);
      if (!portal) continue;
      if (await this.store.messageByEvent(ev.event_id)) continue; // already sent (a retried transaction)
      const text = typeof ev.content.body === "string" ? ev.content.body : "";
      if (!text) continue;
      const display = await this.displayName(ev.room_id, ev.sender);
      const body = this.c.relay.format.replaceAll("{displayname}", display).replaceAll("{mxid}", ev.sender).replaceAll("{message}", text);
      try {
        const wamid = await this.wa.sendText(portal.remoteId, body, { callbackData: ev.event_id });
        await this.store.saveMessage({ network: NETWORK, remoteId: wamid, roomId: ev.room_id, eventId: ev.event_id, sendTxnId: ev.event_id });
      } catch (e) {
        const why = e instanceof GraphError ? e.message : "WhatsApp could not be reached";
        await this.intents.bot.send(ev.room_id, "m.room.message", { msgtype: "m.notice", body: `Not sent to WhatsApp: ${why}` }, `err-${ev.event_id}`);
      }
    }
  }

  private async displayName(roomId: string, userId: string): Promise<string> {
    try {
      const m = await this.intents.bot.call<{ displayname?: string }>("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(userId)}`);
      return m.displayname ?? userId;
    } catch {
      return userId;
    }
  }
}
