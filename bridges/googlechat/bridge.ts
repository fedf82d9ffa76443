// The Google Chat bridge: a Chat app. Each space the app is added to has a portal room (the
// team invited); Chat users are ghosts @googlechat_<id>:domain; Chat threads are Matrix
// threads. What reaches the app over HTTP: every message of a DM with it, and messages that
// @mention it in a space (Google's rule); docs/bridges.md explains the seam for the Workspace
// Events source that would bring every message.
import { readFileSync } from "node:fs";
import express from "express";
import { mountAppservice, type MatrixEvent } from "../kit/appservice.js";
import { BridgeBase } from "../kit/bridge-base.js";
import { ChatClient, ChatError, EventVerifier, IdTokenVerifier, type ServiceAccount } from "./client.js";
import type { GoogleChatConfig } from "./config.js";

const NETWORK = "googlechat";

interface ChatUser { name: string; displayName?: string; avatarUrl?: string; type?: string }
interface ChatMessage {
  name: string; text?: string; argumentText?: string; sender?: ChatUser; createTime?: string;
  thread?: { name: string }; attachment?: { name?: string; contentName?: string; contentType?: string; attachmentDataRef?: { resourceName?: string } }[];
}
interface ChatEvent { type: string; eventTime?: string; space?: { name: string; displayName?: string; spaceType?: string; type?: string }; message?: ChatMessage; user?: ChatUser }

const HELP = ["Google Chat bridge commands:", "!gc help — this text", "!gc spaces — the bridged spaces", "!gc status — is the bridge talking to Google"].join("\n");

export class GoogleChatBridge extends BridgeBase<GoogleChatConfig> {
  private readonly chat: ChatClient;
  private readonly verifier: { verify(token: string): Promise<unknown> };
  private lastError: string | null = null;

  constructor(c: GoogleChatConfig, dbUrl: string, serviceAccount?: ServiceAccount) {
    super(c, dbUrl);
    const sa = serviceAccount ?? (JSON.parse(readFileSync(c.googlechat.service_account_file, "utf8")) as ServiceAccount);
    this.chat = new ChatClient(c.googlechat.chat_base_url, sa);
    this.verifier = c.googlechat.auth_audience === "endpoint_url"
      ? new IdTokenVerifier(c.googlechat.oidc_jwks_url, c.googlechat.endpoint_url!)
      : new EventVerifier(c.googlechat.certs_url, c.googlechat.project_number);
  }

  /** users/12345 → @googlechat_12345:domain */
  ghostId(user: string): string {
    return `@${this.c.appservice.user_prefix}${user.replace(/^users\//, "").replace(/[^a-z0-9._=-]/gi, "_").toLowerCase()}:${this.c.homeserver.domain}`;
  }

  async start(): Promise<{ port: number }> {
    await this.store.migrate();
    const app = express();
    app.disable("x-powered-by");
    mountAppservice(app, this.c.appservice.hs_token, this.store, {
      onTransaction: (events) => this.serial(() => this.fromMatrix(events)),
      onUserQuery: async (userId) => userId.startsWith(`@${this.c.appservice.user_prefix}`),
    });
    app.post(this.c.googlechat.events_path, express.json({ limit: "5mb" }), async (req, res) => {
      const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
      try {
        if (!m) throw new Error("no token");
        await this.verifier.verify(m[1]!);
      } catch {
        res.status(401).json({});
        return;
      }
      try {
        await this.serial(() => this.fromChat(req.body as ChatEvent));
        res.status(200).json({}); // replies go asynchronously through the API
      } catch {
        res.status(500).json({});
      }
    });
    return this.listen(app);
  }



  private async fromChat(ev: ChatEvent): Promise<void> {
    const space = ev.space?.name;
    if (!space) return;
    const key = ev.type === "MESSAGE" && ev.message ? `msg:${ev.message.name}` : `${ev.type}:${space}:${ev.eventTime ?? ""}`;
    if (await this.store.seenDelivery(key)) return; // Google retries; each event once
    if (ev.type === "ADDED_TO_SPACE") {
      await this.portal(ev.space!, ev.user);
      await this.store.setKv(`removed:${space}`, false);
    } else if (ev.type === "REMOVED_FROM_SPACE") {
      const p = await this.store.portalByRemote(NETWORK, space);
      await this.store.setKv(`removed:${space}`, true);
      if (p) await this.notice(p.roomId, "The Google Chat app was removed from this space: messages are no longer bridged.", `removed-${space}-${ev.eventTime ?? ""}`);
    } else if (ev.type === "MESSAGE" && ev.message) {
      await this.inbound(ev.space!, ev.message);
    }
    await this.store.firstDelivery(key);
  }

  private async portal(space: NonNullable<ChatEvent["space"]>, user?: ChatUser): Promise<string> {
    const existing = await this.store.portalByRemote(NETWORK, space.name);
    if (existing) return existing.roomId;
    const dm = space.spaceType === "DIRECT_MESSAGE" || space.type === "DM";
    const name = space.displayName || (dm ? `${user?.displayName ?? "Someone"} (DM)` : space.name);
    const roomId = await this.intents.bot.createRoom({
      preset: "private_chat", name: `${name} (Google Chat)`, invite: this.c.team,
      initial_state: [{ type: "m.bridge", state_key: `googlechat/${space.name}`, content: { bridgebot: this.intents.bot.userId, protocol: { id: "googlechat", displayname: "Google Chat" }, channel: { id: space.name, displayname: name } } }],
    });
    await this.store.savePortal({ network: NETWORK, remoteId: space.name, roomId, name });
    return roomId;
  }

  private async inbound(space: NonNullable<ChatEvent["space"]>, m: ChatMessage): Promise<void> {
    const roomId = await this.portal(space, m.sender);
    const sender = m.sender ?? { name: "users/unknown" };
    const ghost = this.intents.for(this.ghostId(sender.name));
    await ghost.ensureRegistered();
    if (sender.displayName && !(await this.store.getKv<boolean>(`named:${sender.name}:${sender.displayName}`))) {
      await ghost.setDisplayName(sender.displayName);
      await this.store.setKv(`named:${sender.name}:${sender.displayName}`, true);
    }
    await ghost.ensureJoined(roomId).catch(async () => {
      await this.intents.bot.invite(roomId, ghost.userId);
      await ghost.ensureJoined(roomId);
    });
    // In a space the text starts with the app's @mention; argumentText is the rest.
    const text = (m.argumentText ?? m.text ?? "").trim();
    const content: Record<string, unknown> = { msgtype: "m.text", body: text };
    // Threads: the first message seen in a Chat thread is the Matrix thread root.
    const threadRoot = m.thread?.name ? await this.store.getKv<string>(`thread:${m.thread.name}`) : null;
    if (threadRoot) content["m.relates_to"] = { rel_type: "m.thread", event_id: threadRoot, is_falling_back: true, "m.in_reply_to": { event_id: threadRoot } };
    const ts = m.createTime ? Date.parse(m.createTime) : undefined;
    const eventId = await ghost.send(roomId, "m.room.message", content, `gc-${m.name.replace(/[^A-Za-z0-9]/g, "_")}`, Number.isFinite(ts) ? ts : undefined);
    if (m.thread?.name && !threadRoot) {
      await this.store.setKv(`thread:${m.thread.name}`, eventId);
      await this.store.setKv(`threadOf:${eventId}`, m.thread.name);
    }
    await this.store.saveMessage({ network: NETWORK, remoteId: m.name, roomId, eventId, sendTxnId: null });
    for (const a of m.attachment ?? []) {
      const ref = a.attachmentDataRef?.resourceName;
      if (!ref) continue;
      try {
        const { bytes, contentType } = await this.chat.download(ref);
        const url = await ghost.upload(bytes, a.contentType ?? contentType, a.contentName ?? "attachment");
        const kind = (a.contentType ?? contentType).startsWith("image/") ? "m.image" : "m.file";
        await ghost.send(roomId, "m.room.message", { msgtype: kind, body: a.contentName ?? "attachment", url, info: { mimetype: a.contentType ?? contentType, size: bytes.length } }, `gc-att-${(a.name ?? ref).replace(/[^A-Za-z0-9]/g, "_")}`);
      } catch {
        await this.notice(roomId, `(an attachment, ${a.contentName ?? "a file"}, could not be fetched from Google Chat)`, `gc-att-err-${ref.replace(/[^A-Za-z0-9]/g, "_")}`);
      }
    }
  }

  private async fromMatrix(events: MatrixEvent[]): Promise<void> {
    for (const ev of events) {
      if (this.isBridged(ev.sender)) continue;
      if (!["m.room.message", "m.reaction", "m.room.redaction", "m.sticker"].includes(ev.type)) continue;
      const portal = await this.store.portalByRoom(ev.room_id);
      if (!portal) continue;
      if (await this.store.getKv<boolean>(`removed:${portal.remoteId}`)) continue;
      if (await this.store.messageByEvent(ev.event_id)) continue;
      try {
        await this.toChat(ev, portal.remoteId);
        this.lastError = null;
      } catch (e) {
        const why = e instanceof ChatError ? e.message : "Google Chat could not be reached";
        this.lastError = why;
        if (e instanceof ChatError && (e.status === 401 || e.status === 403) && this.c.admin_room) {
          await this.notice(this.c.admin_room, `Google Chat refused the bridge (${e.status}): check the service account and the Chat app's configuration.`, `alert-${ev.event_id}`).catch(() => undefined);
        }
        await this.notice(ev.room_id, `Not sent to Google Chat: ${why}`, `err-${ev.event_id}`);
      }
    }
  }

  private async toChat(ev: MatrixEvent, space: string): Promise<void> {
    const rel = ev.content["m.relates_to"] as { rel_type?: string; event_id?: string } | undefined;
    if (ev.type === "m.room.redaction") {
      const target = ev.redacts ?? (ev.content.redacts as string | undefined);
      const msg = target ? await this.store.messageByEvent(target) : null;
      if (msg && msg.sendTxnId !== null) await this.chat.deleteMessage(msg.remoteId);
      else if (msg) await this.notice(ev.room_id, "Only the bridge's own messages can be deleted in Google Chat: the original stays there.", `redact-${ev.event_id}`);
      return;
    }
    if (ev.type === "m.reaction" || ev.type === "m.sticker") {
      await this.notice(ev.room_id, ev.type === "m.reaction" ? "Google Chat apps cannot react to messages: the reaction was not sent." : "Stickers cannot be sent to Google Chat.", `fallback-${ev.event_id}`);
      return;
    }
    const body = typeof ev.content.body === "string" ? ev.content.body : "";
    if (body.startsWith("!gc")) return this.command(ev, body);
    const display = await this.displayName(ev.room_id, ev.sender);
    const relay = (t: string) => this.c.relay.format.replaceAll("{displayname}", display).replaceAll("{mxid}", ev.sender).replaceAll("{message}", t);
    if (rel?.rel_type === "m.replace" && rel.event_id) {
      const orig = await this.store.messageByEvent(rel.event_id);
      const nc = ev.content["m.new_content"] as { body?: string } | undefined;
      if (orig && orig.sendTxnId !== null && typeof nc?.body === "string") await this.chat.updateText(orig.remoteId, relay(nc.body));
      else await this.notice(ev.room_id, "This edit cannot be shown in Google Chat.", `edit-${ev.event_id}`);
      return;
    }
    const msgtype = String(ev.content.msgtype ?? "m.text");
    let text: string;
    if (["m.image", "m.video", "m.audio", "m.file"].includes(msgtype)) {
      // A Chat app cannot upload attachments: say what was sent, so nothing is dropped silently.
      text = relay(`sent a file: ${body || "attachment"} (see the Matrix room)`);
    } else if (msgtype === "m.emote") {
      text = `* ${display} ${body}`;
    } else {
      const html = ev.content.format === "org.matrix.custom.html" && typeof ev.content.formatted_body === "string" ? htmlToChat(ev.content.formatted_body) : body;
      text = relay(html);
    }
    const thread = rel?.rel_type === "m.thread" && rel.event_id ? (await this.store.getKv<string>(`threadOf:${rel.event_id}`)) ?? undefined : undefined;
    const created = await this.chat.createMessage(space, text, { eventId: ev.event_id, thread });
    await this.store.saveMessage({ network: NETWORK, remoteId: created.name, roomId: ev.room_id, eventId: ev.event_id, sendTxnId: ev.event_id });
    // A Matrix message that starts a thread here: later replies in Matrix go to the same Chat thread.
    if (created.thread?.name) await this.store.setKv(`threadOf:${ev.event_id}`, created.thread.name);
  }

  private async command(ev: MatrixEvent, body: string): Promise<void> {
    const cmd = body.trim().split(/\s+/)[1];
    if (cmd === "spaces") {
      const r = await this.store.db.raw(`SELECT remote_id, name FROM ${this.store.schema}.portal WHERE network = ? ORDER BY name`, [NETWORK]);
      const lines = (r.rows as { remote_id: string; name: string | null }[]).map((p) => `• ${p.name ?? p.remote_id} (${p.remote_id})`);
      await this.notice(ev.room_id, lines.length ? `Bridged spaces:\n${lines.join("\n")}` : "No spaces are bridged yet.", `cmd-${ev.event_id}`);
    } else if (cmd === "status") {
      await this.notice(ev.room_id, this.lastError ? `The last send to Google Chat failed: ${this.lastError}` : "The bridge is talking to Google Chat.", `cmd-${ev.event_id}`);
    } else {
      await this.notice(ev.room_id, HELP, `cmd-${ev.event_id}`);
    }
  }


}

/** Matrix HTML → Google Chat text formatting (*bold*, _italic_, ~strike~, `code`). */
export function htmlToChat(html: string): string {
  return html
    .replace(/<mx-reply>[\s\S]*?<\/mx-reply>/gi, "")
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<(strong|b)>([\s\S]*?)<\/\1>/gi, "*$2*")
    .replace(/<(em|i)>([\s\S]*?)<\/\1>/gi, "_$2_")
    .replace(/<(del|s|strike)>([\s\S]*?)<\/\1>/gi, "~$2~")
    .replace(/<pre><code[^>]*>([\s\S]*?)<\/code><\/pre>/gi, "```$1```")
    .replace(/<code>([\s\S]*?)<\/code>/gi, "`$1`")
    .replace(/<a [^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, (_m, href: string, text: string) => (text === href ? href : `<${href}|${text}>`))
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&#39;/g, "'").replace(/&amp;/g, "&")
    .trim();
}
