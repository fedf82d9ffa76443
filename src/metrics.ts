// Prometheus metrics (prom-client), one registry per server instance.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { poolStats, type Db } from "./store/db.js";

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "route" | "status">;
  private readonly latency: Histogram<"method" | "route">;

  constructor(db: Db) {
    // Includes event loop lag (nodejs_eventloop_lag_*), heap, GC, open files.
    collectDefaultMetrics({ register: this.registry });
    // Not the handle counts: they list every handle of the process on each scrape (a 100 ms
    // pause with 10,000 sockets open). ganglion_websocket_connections and
    // ganglion_sync_waiting count what matters from memory.
    for (const name of ["nodejs_active_handles", "nodejs_active_handles_total"]) this.registry.removeSingleMetric(name);
    this.requests = new Counter({
      name: "ganglion_http_requests_total", help: "HTTP requests by route and status",
      labelNames: ["method", "route", "status"], registers: [this.registry],
    });
    this.latency = new Histogram({
      name: "ganglion_http_request_duration_seconds", help: "HTTP request latency by route",
      labelNames: ["method", "route"], registers: [this.registry],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    const pool = (field: "used" | "free" | "pending" | "max", help: string) =>
      new Gauge({
        name: `ganglion_db_pool_${field}`, help, registers: [this.registry],
        collect() { this.set(poolStats(db)[field]); },
      });
    pool("used", "Database connections in use");
    pool("free", "Idle database connections");
    pool("pending", "Requests waiting for a database connection");
    pool("max", "Database pool size");
    // Every statement sent to Postgres (the benchmark reads it to count queries per delivery).
    const queries = new Counter({ name: "ganglion_db_queries_total", help: "Statements sent to the database", registers: [this.registry] });
    db.on("query", () => queries.inc());
  }

  /** Open WebSocket connections and sync requests waiting for news (long-polls and sockets). */
  watchConnections(read: () => { websocket: number; waiting: number }): void {
    new Gauge({ name: "ganglion_websocket_connections", help: "Open WebSocket connections", registers: [this.registry], collect() { this.set(read().websocket); } });
    new Gauge({ name: "ganglion_sync_waiting", help: "Sync requests and sockets waiting for news", registers: [this.registry], collect() { this.set(read().waiting); } });
  }

  /** Room writer totals: commits, events, time in commit statements, head conflicts. */
  watchWriter(stats: { commits: number; events: number; commitSeconds: number; conflicts: number }): void {
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers: [this.registry], collect() { this.reset(); this.inc(read()); } });
    counter("ganglion_writer_commits_total", "Room write transactions committed", () => stats.commits);
    counter("ganglion_writer_events_total", "Events committed", () => stats.events);
    counter("ganglion_writer_commit_seconds_total", "Time spent in room write statements", () => stats.commitSeconds);
    counter("ganglion_writer_conflicts_total", "Batches rebuilt because another writer moved the room's head", () => stats.conflicts);
  }

  /** Per application service: transactions waiting, last accepted, failed sends, events delivered. */
  watchAppservices(stats: () => Map<string, { pending: number; lastSuccessTs: number | null; failures: number; delivered: number }>): void {
    const gauge = (name: string, help: string, read: (s: { pending: number; lastSuccessTs: number | null; failures: number; delivered: number }) => number | null) =>
      new Gauge({
        name, help, labelNames: ["appservice"], registers: [this.registry],
        collect() {
          this.reset();
          for (const [id, st] of stats()) { const v = read(st); if (v !== null) this.set({ appservice: id }, v); }
        },
      });
    gauge("ganglion_appservice_pending_transactions", "Transactions written and not yet accepted by the application service", (x) => x.pending);
    gauge("ganglion_appservice_last_success_seconds", "When the application service last accepted a transaction (Unix time)", (x) => (x.lastSuccessTs === null ? null : x.lastSuccessTs / 1000));
    gauge("ganglion_appservice_failures", "Failed transaction sends since start", (x) => x.failures);
    gauge("ganglion_appservice_delivered_events", "Events delivered since start", (x) => x.delivered);
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.latency.observe({ method, route }, seconds);
  }
}
