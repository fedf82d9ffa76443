// The WhatsApp bridge: one business number, a portal room per customer (wa_id), a ghost per
// customer, the team invited to every portal (relay model).
// Text (with formatting), media, locations, contacts, button replies, reactions and replies
// both ways; statuses as read receipts or notices; the 24-hour window with `!wa template`.
import { createHmac, timingSafeEqual } from "node:crypto";
import express from "express";
import { mountAppservice, type MatrixEvent } from "../kit/appservice.js";
import { BridgeBase } from "../kit/bridge-base.js";
import { GraphError, WhatsAppClient } from "./client.js";
import type { WhatsAppConfig } from "./config.js";
import { htmlToWa, waToHtml } from "./format.js";

const WINDOW_MS = 24 * 3600 * 1000;
const MEDIA_KINDS = { image: "m.image", video: "m.video", audio: "m.audio", document: "m.file", sticker: "m.image" } as const;
const HELP = [
  "WhatsApp bridge commands (in a customer's room):",
  "!wa help — this text",
  "!wa template <name> <language> [parameters…] — send an approved template (the only message",
  "  WhatsApp allows when the customer has not written in the last 24 hours)",
  "!wa resume — send again after the access token was refused and has been fixed",
].join("\n");

const NETWORK = "whatsapp";

interface WaMedia { id: string; mime_type?: string; caption?: string; filename?: string; voice?: boolean }
interface WaMessage {
  from: string; id: string; timestamp: string; type: string;
  text?: { body: string };
  image?: WaMedia; video?: WaMedia; audio?: WaMedia; document?: WaMedia; sticker?: WaMedia;
  location?: { latitude: number; longitude: number; name?: string; address?: string };
  reaction?: { message_id: string; emoji?: string };
  contacts?: { name?: { formatted_name?: string }; phones?: { phone?: string }[] }[];
  interactive?: { type: string; button_reply?: { title: string }; list_reply?: { title: string; description?: string } };
  button?: { text: string };
  context?: { id?: string };
  unsupported?: { type?: string };
}
interface WaStatus { id: string; status: string; recipient_id: string; errors?: { code: number; title?: string; message?: string }[] }
interface WaValue { metadata?: { phone_number_id?: string }; contacts?: { profile?: { name?: string }; wa_id: string }[]; messages?: WaMessage[]; statuses?: WaStatus[] }

/** Verifies X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret), in constant time. */
export function signatureValid(raw: Buffer, header: string | undefined, appSecret: string): boolean {
  if (!header?.startsWith("sha256=")) return false;
  const expected = Buffer.from(createHmac("sha256", appSecret).update(raw).digest("hex"), "utf8");
  const given = Buffer.from(header.slice("sha256=".length).toLowerCase(), "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export class WhatsAppBridge extends BridgeBase<WhatsAppConfig> {
  private readonly wa: WhatsAppClient;
  /** Set when WhatsApp refused the access token (190): nothing is sent until `!wa resume`. */
  private paused = false;

  constructor(c: WhatsAppConfig, dbUrl: string) {
    super(c, dbUrl);
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
      onTransaction: (events, ephemeral) => this.serial(async () => { await this.fromMatrix(events); await this.receipts(ephemeral); }),
      // The homeserver asks about a ghost nobody has made yet: make it (a WhatsApp number).
      onUserQuery: async (userId) => {
        const m = new RegExp(`^@${this.c.appservice.user_prefix}(\\d{5,20}):`).exec(userId);
        if (!m) return false;
        await this.intents.for(userId).ensureRegistered();
        return true;
      },
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
    return this.listen(app);
  }



  private async fromWhatsApp(body: { entry?: { changes?: { field?: string; value?: WaValue }[] }[] }): Promise<void> {
    for (const entry of body.entry ?? []) {
      for (const change of entry.changes ?? []) {
        const v = change.value;
        if (change.field !== "messages" || !v) continue;
        if (v.metadata?.phone_number_id && v.metadata.phone_number_id !== this.c.whatsapp.phone_number_id) continue;
        const names = new Map((v.contacts ?? []).map((c) => [c.wa_id, c.profile?.name]));
        // Recorded after handling: a crash in between means Meta's retry handles it again,
        // and every step is idempotent (the wamid is the Matrix transaction ID).
        for (const m of v.messages ?? []) {
          if (await this.store.seenDelivery(`msg:${m.id}`)) continue;
          await this.inbound(m, names.get(m.from));
          await this.store.firstDelivery(`msg:${m.id}`);
        }
        for (const s of v.statuses ?? []) {
          if (await this.store.seenDelivery(`status:${s.id}:${s.status}`)) continue;
          await this.status(s);
          await this.store.firstDelivery(`status:${s.id}:${s.status}`);
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
    const ts = Number(m.timestamp) * 1000 || undefined;
    await this.store.setKv(`last_inbound:${m.from}`, Date.now());
    if (m.type === "reaction" && m.reaction) {
      const target = await this.store.messageByRemote(NETWORK, m.reaction.message_id);
      // No emoji: the customer took the reaction back.
      if (!m.reaction.emoji) {
        const old = await this.store.takeReaction(NETWORK, m.reaction.message_id, m.from);
        if (old) await ghost.redact(roomId, old, `wa-unreact-${m.id}`);
        return;
      }
      if (!target) return;
      const old = await this.store.takeReaction(NETWORK, m.reaction.message_id, m.from);
      if (old) await ghost.redact(roomId, old, `wa-unreact-${m.id}`);
      const ev = await ghost.send(roomId, "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: target.eventId, key: m.reaction.emoji } }, `wa-${m.id}`, ts);
      await this.store.saveReaction(NETWORK, m.reaction.message_id, m.from, m.reaction.emoji, ev);
      return;
    }
    let content: Record<string, unknown>;
    let type = "m.room.message";
    const media = (["image", "video", "audio", "document", "sticker"] as const).find((k) => m.type === k && m[k]);
    if (m.type === "text" && m.text) {
      const html = waToHtml(m.text.body);
      content = { msgtype: "m.text", body: m.text.body, ...(html ? { format: "org.matrix.custom.html", formatted_body: html } : {}) };
    } else if (media) {
      const wm = m[media]!;
      try {
        const { bytes, mimeType } = await this.wa.downloadMedia(wm.id);
        const filename = wm.filename ?? `${media}.${(wm.mime_type ?? mimeType).split("/")[1]?.split(";")[0] ?? "bin"}`;
        const url = await ghost.upload(bytes, mimeType, filename);
        const info = { mimetype: mimeType, size: bytes.length };
        if (media === "sticker") {
          type = "m.sticker";
          content = { body: "sticker", url, info };
        } else {
          content = { msgtype: MEDIA_KINDS[media], body: wm.caption ?? filename, filename, url, info, ...(wm.voice ? { "org.matrix.msc3245.voice": {} } : {}) };
        }
      } catch {
        content = { msgtype: "m.notice", body: `(a WhatsApp ${media} that could not be fetched)` };
      }
    } else if (m.type === "location" && m.location) {
      const l = m.location;
      const label = [l.name, l.address].filter(Boolean).join(", ") || "Location";
      content = { msgtype: "m.location", body: `${label} (${l.latitude}, ${l.longitude})`, geo_uri: `geo:${l.latitude},${l.longitude}` };
    } else if (m.type === "contacts" && m.contacts) {
      content = { msgtype: "m.text", body: m.contacts.map((c) => `Contact: ${c.name?.formatted_name ?? "?"}${c.phones?.length ? ` ${c.phones.map((p) => p.phone).join(", ")}` : ""}`).join("\n") };
    } else if (m.type === "interactive" && m.interactive) {
      const r = m.interactive.button_reply ?? m.interactive.list_reply;
      content = { msgtype: "m.text", body: r?.title ?? "(a reply)" };
    } else if (m.type === "button" && m.button) {
      content = { msgtype: "m.text", body: m.button.text };
    } else {
      const what = m.type === "unsupported" ? `${m.unsupported?.type ?? "unknown"} ` : `${m.type} `;
      content = { msgtype: "m.notice", body: `(a WhatsApp ${what}message that cannot be shown here${m.unsupported?.type === "edit" ? ": the customer edited a message" : ""})` };
    }
    // A quoted message becomes a Matrix reply.
    if (m.context?.id && type === "m.room.message") {
      const quoted = await this.store.messageByRemote(NETWORK, m.context.id);
      if (quoted) content["m.relates_to"] = { "m.in_reply_to": { event_id: quoted.eventId } };
    }
    // The wamid is the transaction ID: a retried webhook can never post twice.
    const eventId = await ghost.send(roomId, type, content, `wa-${m.id}`, ts);
    await this.store.saveMessage({ network: NETWORK, remoteId: m.id, roomId, eventId, sendTxnId: null });
  }

  private async status(s: WaStatus): Promise<void> {
    const msg = await this.store.messageByRemote(NETWORK, s.id);
    if (!msg) return;
    if (s.status === "read" || s.status === "delivered") {
      // WhatsApp's ticks onto the customer's ghost: delivered, then read.
      const ghost = this.intents.for(this.ghostId(s.recipient_id));
      if (s.status === "read") await ghost.readReceipt(msg.roomId, msg.eventId);
      else await ghost.deliveredReceipt(msg.roomId, msg.eventId);
    } else if (s.status === "failed") {
      const e = s.errors?.[0];
      const why = e?.code === 131047
        ? "the customer has not written in the last 24 hours, so WhatsApp only allows a template message (use !wa template)"
        : `${e?.title ?? "unknown error"}${e?.code ? ` (${e.code})` : ""}`;
      await this.notice(msg.roomId, `Not delivered to WhatsApp: ${why}`, `failed-${s.id}`);
    }
  }

  /**
   * Events of a transaction, a queue per room (per customer): in order within a room, rooms
   * side by side, so one customer's rate-limit retries do not hold up the others.
   */
  private async fromMatrix(events: MatrixEvent[]): Promise<void> {
    const byRoom = new Map<string, MatrixEvent[]>();
    for (const ev of events) {
      let l = byRoom.get(ev.room_id);
      if (!l) byRoom.set(ev.room_id, (l = []));
      l.push(ev);
    }
    await Promise.all([...byRoom.values()].map((list) => this.fromMatrixRoom(list)));
  }

  private async fromMatrixRoom(events: MatrixEvent[]): Promise<void> {
    for (const ev of events) {
      if (this.isBridged(ev.sender)) continue;
      const portal = await this.store.portalByRoom(ev.room_id);
      if (!portal) continue;
      if (!["m.room.message", "m.reaction", "m.room.redaction"].includes(ev.type)) continue;
      if (await this.store.messageByEvent(ev.event_id)) continue; // already sent (a retried transaction)
      // At most once: a send that may have happened before a crash is not repeated (WhatsApp
      // has no idempotency key); the room is told instead.
      if (await this.store.getKv(`outbound:${ev.event_id}`)) {
        await this.notice(ev.room_id, "A message may not have reached WhatsApp (the bridge restarted while sending it).", `unsure-${ev.event_id}`);
        continue;
      }
      const body = typeof ev.content.body === "string" ? ev.content.body : "";
      if (this.paused && !body.startsWith("!wa")) {
        await this.notice(ev.room_id, "Not sent: sending to WhatsApp is paused because its access token was refused. Fix the token, then `!wa resume`.", `paused-${ev.event_id}`);
        continue;
      }
      await this.store.setKv(`outbound:${ev.event_id}`, "pending");
      try {
        await this.toWhatsApp(ev, portal.remoteId);
      } catch (e) {
        if (e instanceof GraphError && e.code === 190) {
          // The token is dead: every send would fail. Stop, and tell whoever can fix it.
          this.paused = true;
          const alert = "WhatsApp refused the bridge's access token (error 190): sending is paused. Put a valid token in the config and restart, or `!wa resume` once it is fixed.";
          await this.notice(this.c.admin_room ?? ev.room_id, alert, `alert-${ev.event_id}`).catch(() => undefined);
          if (this.c.admin_room) await this.notice(ev.room_id, "Not sent to WhatsApp: the bridge's access token was refused (the administrator has been told).", `err-${ev.event_id}`);
          continue;
        }
        const why = e instanceof GraphError ? e.message : "WhatsApp could not be reached";
        await this.notice(ev.room_id, `Not sent to WhatsApp: ${why}`, `err-${ev.event_id}`);
      }
    }
  }

  /** Read receipts of the team: WhatsApp's "read" for the customer's latest message. */
  async receipts(ephemeral: Record<string, unknown>[]): Promise<void> {
    for (const e of ephemeral) {
      if (e.type !== "m.receipt" || typeof e.room_id !== "string") continue;
      const portal = await this.store.portalByRoom(e.room_id);
      if (!portal) continue;
      for (const [eventId, byType] of Object.entries(e.content as Record<string, Record<string, Record<string, unknown>>>)) {
        const readers = Object.keys(byType["m.read"] ?? {});
        if (!readers.some((u) => this.c.team.includes(u))) continue;
        const msg = await this.store.messageByEvent(eventId);
        if (msg && msg.sendTxnId === null && (await this.store.firstDelivery(`read:${msg.remoteId}`))) await this.wa.markRead(msg.remoteId).catch(() => undefined);
      }
    }
  }

  private async toWhatsApp(ev: MatrixEvent, waId: string): Promise<void> {
    const rel = ev.content["m.relates_to"] as { rel_type?: string; event_id?: string; key?: string; "m.in_reply_to"?: { event_id?: string } } | undefined;
    if (ev.type === "m.room.redaction") {
      const target = ev.redacts ?? (ev.content.redacts as string | undefined);
      const reaction = target ? await this.store.getKv<{ wamid: string }>(`reaction:${target}`) : null;
      if (reaction) {
        await this.wa.send(waId, { type: "reaction", reaction: { message_id: reaction.wamid, emoji: "" } });
        await this.store.setKv(`reaction:${target}`, null);
      } else if (target && (await this.store.messageByEvent(target))) {
        await this.notice(ev.room_id, "WhatsApp cannot delete a message that was already sent: the customer still sees it.", `redact-${ev.event_id}`);
      }
      return;
    }
    if (ev.type === "m.reaction" && rel?.rel_type === "m.annotation" && rel.event_id && rel.key) {
      const target = await this.store.messageByEvent(rel.event_id);
      if (!target) return;
      const wamid = await this.wa.send(waId, { type: "reaction", reaction: { message_id: target.remoteId, emoji: rel.key } });
      await this.store.setKv(`reaction:${ev.event_id}`, { wamid: target.remoteId });
      await this.store.saveMessage({ network: NETWORK, remoteId: wamid, roomId: ev.room_id, eventId: ev.event_id, sendTxnId: ev.event_id });
      return;
    }
    if (ev.type !== "m.room.message") return;
    if (rel?.rel_type === "m.replace") {
      await this.notice(ev.room_id, "WhatsApp cannot edit a message that was already sent: send a new one.", `edit-${ev.event_id}`);
      return;
    }
    const body = typeof ev.content.body === "string" ? ev.content.body : "";
    if (body.startsWith("!wa")) return this.command(ev, waId, body);
    const replyTo = rel?.["m.in_reply_to"]?.event_id ? (await this.store.messageByEvent(rel["m.in_reply_to"].event_id))?.remoteId : undefined;
    const display = await this.displayName(ev.room_id, ev.sender);
    const relay = (text: string) => this.c.relay.format.replaceAll("{displayname}", display).replaceAll("{mxid}", ev.sender).replaceAll("{message}", text);
    const msgtype = String(ev.content.msgtype ?? "m.text");
    let message: Record<string, unknown>;
    if (["m.image", "m.video", "m.audio", "m.file"].includes(msgtype) && typeof ev.content.url === "string") {
      const { bytes, contentType } = await this.intents.bot.download(ev.content.url);
      const filename = typeof ev.content.filename === "string" ? ev.content.filename : body || "file";
      const id = await this.wa.uploadMedia(bytes, contentType, filename);
      const kind = { "m.image": "image", "m.video": "video", "m.audio": "audio", "m.file": "document" }[msgtype]!;
      const caption = relay(body && body !== filename ? body : filename);
      message = { type: kind, [kind]: { id, ...(kind !== "audio" ? { caption } : {}), ...(kind === "document" ? { filename } : {}) } };
    } else if (msgtype === "m.location" && typeof ev.content.geo_uri === "string") {
      const m = /^geo:(-?[\d.]+),(-?[\d.]+)/.exec(ev.content.geo_uri);
      if (!m) return;
      message = { type: "location", location: { latitude: Number(m[1]), longitude: Number(m[2]), name: relay(body) } };
    } else {
      const formatted = ev.content.format === "org.matrix.custom.html" && typeof ev.content.formatted_body === "string" ? htmlToWa(ev.content.formatted_body) : stripReplyFallback(body);
      const text = msgtype === "m.emote" ? `* ${display} ${formatted}` : relay(formatted);
      message = { type: "text", text: { preview_url: false, body: text.slice(0, 4096) } };
    }
    const wamid = await this.wa.send(waId, message, { replyTo, callbackData: ev.event_id });
    await this.store.saveMessage({ network: NETWORK, remoteId: wamid, roomId: ev.room_id, eventId: ev.event_id, sendTxnId: ev.event_id });
    const last = await this.store.getKv<number>(`last_inbound:${waId}`);
    if (last === null || Date.now() - last > WINDOW_MS) {
      await this.notice(ev.room_id, "Note: the customer has not written in the last 24 hours; WhatsApp may refuse anything but a template (!wa help).", `window-${ev.event_id}`);
    }
  }

  /** `!wa help`, `!wa template <name> <language> [params…]`. */
  private async command(ev: MatrixEvent, waId: string, body: string): Promise<void> {
    const [, cmd, ...args] = body.trim().split(/\s+/);
    if (cmd === "resume") {
      this.paused = false;
      await this.notice(ev.room_id, "Sending to WhatsApp resumed.", `cmd-${ev.event_id}`);
      return;
    }
    if (cmd === "template" && args.length >= 2) {
      const [name, lang, ...params] = args;
      const wamid = await this.wa.send(waId, {
        type: "template",
        template: { name, language: { code: lang }, ...(params.length ? { components: [{ type: "body", parameters: params.map((p) => ({ type: "text", text: p })) }] } : {}) },
      });
      await this.store.saveMessage({ network: NETWORK, remoteId: wamid, roomId: ev.room_id, eventId: ev.event_id, sendTxnId: ev.event_id });
      await this.notice(ev.room_id, `Template ${name} sent.`, `cmd-${ev.event_id}`);
      return;
    }
    await this.notice(ev.room_id, HELP, `cmd-${ev.event_id}`);
  }


}

/** A reply's plain body starts with the quoted lines ("> …"); WhatsApp shows the quote itself. */
function stripReplyFallback(body: string): string {
  const lines = body.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith("> ")) i++;
  if (i > 0 && lines[i] === "") i++;
  return lines.slice(i).join("\n");
}
