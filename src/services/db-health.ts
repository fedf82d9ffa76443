// Whether the database answers, as far as this process can tell. A request that fails because
// the database is away reports it; from then on the long-polls waiting here are answered 503
// at once (their next step needs the database) instead of at the end of their timeout, and a
// probe every second notices the return.
import type { Db } from "../store/db.js";

export class DbHealth {
  private controller = new AbortController();
  private probing: NodeJS.Timeout | null = null;

  constructor(private readonly db: Db, private readonly probeEveryMs = 1000) {}

  get down(): boolean {
    return this.controller.signal.aborted;
  }

  /** Aborted while the database is away (a new signal once it is back). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** A query failed because the database is unreachable. */
  report(): void {
    if (this.down) return;
    this.controller.abort();
    this.probe();
  }

  private probe(): void {
    this.probing = setTimeout(() => {
      this.db.raw("SELECT 1").then(() => {
        this.probing = null;
        this.controller = new AbortController();
      }, () => this.probe());
    }, this.probeEveryMs);
    this.probing.unref();
  }

  stop(): void {
    if (this.probing) clearTimeout(this.probing);
    this.probing = null;
  }
}
