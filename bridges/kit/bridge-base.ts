// What every bridge does the same way: its store and intents, one work queue (a webhook batch
// or a transaction at a time, in order), listening, stopping, notices, display names.
import type { Server } from "node:http";
import type { Express } from "express";
import type { BaseBridgeConfig } from "./config.js";
import { Intents } from "./intent.js";
import { KitStore } from "./store.js";

export abstract class BridgeBase<C extends BaseBridgeConfig> {
  readonly store: KitStore;
  protected readonly intents: Intents;
  private server: Server | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(protected readonly c: C, dbUrl: string) {
    this.store = new KitStore(dbUrl, c.database.schema);
    this.intents = new Intents(c.homeserver.url, c.appservice.as_token, `@${c.appservice.bot_localpart}:${c.homeserver.domain}`);
  }

  protected async listen(app: Express): Promise<{ port: number }> {
    await new Promise<void>((resolve) => { this.server = app.listen(this.c.appservice.listen.port, this.c.appservice.listen.host, () => resolve()); });
    return { port: (this.server!.address() as { port: number }).port };
  }

  async stop(): Promise<void> {
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
    await this.queue.catch(() => undefined);
    await this.store.close();
  }

  protected serial(f: () => Promise<void>): Promise<void> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The bridge's own users (the bot and ghosts): their events are not bridged back. */
  protected isBridged(userId: string): boolean {
    return userId === this.intents.bot.userId || userId.startsWith(`@${this.c.appservice.user_prefix}`);
  }

  protected async notice(roomId: string, body: string, txnId: string): Promise<void> {
    await this.intents.bot.send(roomId, "m.room.message", { msgtype: "m.notice", body }, txnId);
  }

  protected async displayName(roomId: string, userId: string): Promise<string> {
    try {
      const m = await this.intents.bot.call<{ displayname?: string }>("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(userId)}`);
      return m.displayname ?? userId;
    } catch {
      return userId;
    }
  }
}
