// Repeated warnings of one kind become one line per interval with a count, so an outage or a
// flood of bad requests cannot fill the log (the first of each kind is written at once).
import type { Logger } from "pino";

export class Throttled {
  private readonly kinds = new Map<string, { count: number; fields: Record<string, unknown>; timer: NodeJS.Timeout | null }>();

  constructor(private readonly log: Logger, private readonly intervalMs: number, private readonly level: "warn" | "info" | "debug" = "warn") {}

  note(msg: string, fields: Record<string, unknown> = {}): void {
    const k = this.kinds.get(msg);
    if (k) {
      k.count++;
      k.fields = fields;
      return;
    }
    this.log[this.level](fields, msg);
    const entry = { count: 0, fields, timer: null as NodeJS.Timeout | null };
    entry.timer = setTimeout(() => {
      this.kinds.delete(msg);
      if (entry.count > 0) this.log[this.level]({ ...entry.fields, repeated: entry.count, over_ms: this.intervalMs }, msg);
    }, this.intervalMs);
    entry.timer.unref();
    this.kinds.set(msg, entry);
  }
}
