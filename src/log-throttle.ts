// Repeated warnings of one kind become one line per interval with a count, so an outage or a
// flood of bad requests cannot fill the log (the first of each kind is written at once).
import type { Logger } from "pino";

export class Throttled {
  private readonly kinds = new Map<string, { count: number; fields: Record<string, unknown>; log: Logger }>();

  constructor(private readonly intervalMs: number, private readonly level: "warn" | "info" | "debug" | "error" = "warn") {}

  note(log: Logger, msg: string, fields: Record<string, unknown> = {}): void {
    const k = this.kinds.get(msg);
    if (k) {
      k.count++;
      k.fields = fields;
      k.log = log;
      return;
    }
    log[this.level](fields, msg);
    const entry = { count: 0, fields, log };
    this.kinds.set(msg, entry);
    setTimeout(() => {
      this.kinds.delete(msg);
      if (entry.count > 0) entry.log[this.level]({ ...entry.fields, repeated: entry.count, over_ms: this.intervalMs }, msg);
    }, this.intervalMs).unref();
  }
}
