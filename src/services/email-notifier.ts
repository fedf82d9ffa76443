// Emails about unread messages (email pushers: POST /pushers/set with kind "email" and a
// validated address of the user as pushkey), sent when a notification has stayed unread for
// email.notifications.delay_ms; one email per user per round, each message mailed once.
// Off unless email.notifications.enabled. With several processes one sends per round
// (a Postgres advisory lock).
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import type { EmailService } from "./email.js";
import type { NotificationService } from "./notifications.js";
import type { RoomStateCache } from "./room-state.js";

const LOCK_KEY = 0x6e6f7469; // "noti"
const MAX_ROUND_USERS = 500;

interface Note { room_id: string; ts: number; read: boolean; event: { sender: string; content?: { body?: unknown; msgtype?: unknown }; type: string } }

export class EmailNotifier {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly email: EmailService,
    private readonly notifications: NotificationService,
    private readonly rooms: RoomStateCache,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (!this.email.enabled || !this.config.email.notifications.enabled) return;
    const every = Math.max(1000, Math.min(60_000, Math.floor(this.config.email.notifications.delay_ms / 4) || 1000));
    this.timer = setInterval(() => void this.round(), every);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round: each user with an email pusher and unread notifications old enough gets one email. */
  async round(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let sent = 0;
    try {
      await this.db.transaction(async (trx) => {
        const lock = await trx.raw("SELECT pg_try_advisory_xact_lock(?) AS ok", [LOCK_KEY]);
        if (!lock.rows[0].ok) return;
        const pushers = await trx.raw(
          `SELECT p.user_id, p.pushkey, coalesce(p.data->>'brand', '') AS brand FROM pushers p
           JOIN user_threepids t ON t.user_id = p.user_id AND t.medium = 'email' AND t.address = lower(p.pushkey)
           JOIN users u ON u.user_id = p.user_id AND NOT u.deactivated
           WHERE p.kind = 'email' ORDER BY p.user_id LIMIT ?`, [MAX_ROUND_USERS]);
        for (const p of pushers.rows as { user_id: UserId; pushkey: string; brand: string }[]) {
          if (await this.notifyUser(p.user_id, p.pushkey, p.brand)) sent++;
        }
      });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "email notification round failed");
    } finally {
      this.running = false;
    }
    return sent;
  }

  private async notifyUser(userId: UserId, address: string, brand: string): Promise<boolean> {
    const cutoff = Date.now() - this.config.email.notifications.delay_ms;
    const page = await this.notifications.list({ userId, deviceId: null, tokenId: null, isGuest: false, isAdmin: false, appserviceId: null }, undefined, 50, false);
    const mailed = new Map<string, number>((await this.db("email_notified").where({ user_id: userId }).select("room_id", "last_ts")).map((r: { room_id: string; last_ts: string }) => [r.room_id, Number(r.last_ts)]));
    const due = (page.notifications as Note[]).filter((n) => !n.read && n.ts <= cutoff && n.ts > (mailed.get(n.room_id) ?? 0));
    if (!due.length) return false;
    const byRoom = new Map<string, Note[]>();
    for (const n of due) byRoom.set(n.room_id, [...(byRoom.get(n.room_id) ?? []), n]);
    const lines: string[] = [];
    for (const [roomId, notes] of byRoom) {
      const room = await this.rooms.get(roomId as never);
      const name = room?.get("m.room.name", "")?.content.name;
      lines.push(`${typeof name === "string" && name ? name : "A room"}:`);
      for (const n of notes.sort((a, b) => a.ts - b.ts)) {
        const who = room?.get("m.room.member", n.event.sender)?.content.displayname;
        const body = n.event.type === "m.room.encrypted" ? "(an encrypted message)" : typeof n.event.content?.body === "string" ? n.event.content.body.slice(0, 300) : "(a message)";
        lines.push(`  ${typeof who === "string" ? who : n.event.sender}: ${body}`);
      }
      lines.push("");
    }
    const app = brand || this.config.email.app_name;
    await this.email.send(address, `${due.length} unread ${due.length === 1 ? "message" : "messages"} on ${app}`,
      `You have unread messages:\n\n${lines.join("\n")}\nOpen ${app} to read and reply. To stop these emails, turn email notifications off in your app's settings.\n`);
    for (const [roomId, notes] of byRoom) {
      const last = Math.max(...notes.map((n) => n.ts));
      await this.db("email_notified").insert({ user_id: userId, room_id: roomId, last_ts: last, sent_ts: Date.now() }).onConflict(["user_id", "room_id"]).merge();
    }
    return true;
  }
}
