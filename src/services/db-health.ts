// Whether the database answers, as far as this process can tell. A request that fails because
// the database is away reports it; from then on the long-polls waiting here are answered 503
// at once (their next step needs the database) instead of at the end of their timeout, and a
// probe every second notices the return.
import type { Db } from "../store/db.js";

export class DbHealth {
  private isDown = false;
  private probing: NodeJS.Timeout | null = null;
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly db: Db, private readonly probeEveryMs = 1000) {}

  get down(): boolean {
    return this.isDown;
  }

  /** Called when the database is found away (the long-polls are woken to answer 503). */
  onDown(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** A query failed because the database is unreachable. */
  report(): void {
    if (this.isDown) return;
    this.isDown = true;
    for (const l of this.listeners) l();
    this.probe();
  }

  private probe(): void {
    this.probing = setTimeout(() => {
      this.db.raw("SELECT 1").then(() => {
        this.probing = null;
        this.isDown = false;
      }, () => this.probe());
    }, this.probeEveryMs);
    this.probing.unref();
  }

  stop(): void {
    if (this.probing) clearTimeout(this.probing);
    this.probing = null;
  }
}
