// The application service side of a bridge: the HTTP endpoints the homeserver calls.
// https://spec.matrix.org/latest/application-service-api/
// - hs_token checked in constant time (Authorization: Bearer, or the legacy access_token query);
// - a transaction is acknowledged only after its events are handed to the bridge and its ID
//   recorded in the store (a retry of a transaction already handled is acknowledged at once,
//   without handling it again);
// - `ephemeral` (and the older `de.sorunome.msc2409.ephemeral`) read as one list.
import { createHash, timingSafeEqual } from "node:crypto";
import express, { type Express, type Request, type Response } from "express";
import type { KitStore } from "./store.js";

export interface MatrixEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
  unsigned?: Record<string, unknown>;
  redacts?: string;
}

export interface AppserviceHandlers {
  /** New events and ephemeral data, in order. Throwing makes the homeserver retry the transaction. */
  onTransaction(events: MatrixEvent[], ephemeral: Record<string, unknown>[]): Promise<void>;
  /** GET /users/{userId}: true if the bridge has (and has now registered) this user. */
  onUserQuery?(userId: string): Promise<boolean>;
  /** GET /rooms/{alias}: true if the bridge has created the room with this alias. */
  onAliasQuery?(alias: string): Promise<boolean>;
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** A constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), digest(expected));
}

function presentedToken(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === "string") {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    return m ? m[1] : undefined;
  }
  const q = req.query.access_token;
  return typeof q === "string" ? q : undefined;
}

function error(res: Response, status: number, errcode: string, msg: string): void {
  res.status(status).json({ errcode, error: msg });
}

/** Mounts the application service endpoints on an express app (a bridge may add its own routes, e.g. webhooks). */
export function mountAppservice(app: Express, hsToken: string, store: KitStore, h: AppserviceHandlers): void {
  const auth = (req: Request, res: Response): boolean => {
    const t = presentedToken(req);
    if (t === undefined) { error(res, 401, "M_UNAUTHORIZED", "Missing token"); return false; }
    if (!tokenMatches(t, hsToken)) { error(res, 403, "M_FORBIDDEN", "Bad token"); return false; }
    return true;
  };
  const json = express.json({ limit: "100mb" });

  app.put("/_matrix/app/v1/transactions/:txnId", json, async (req, res) => {
    if (!auth(req, res)) return;
    const txnId = req.params.txnId!;
    try {
      if (await store.txnSeen(txnId)) { res.json({}); return; }
      const body = (req.body ?? {}) as { events?: MatrixEvent[]; ephemeral?: Record<string, unknown>[]; "de.sorunome.msc2409.ephemeral"?: Record<string, unknown>[] };
      await h.onTransaction(body.events ?? [], body.ephemeral ?? body["de.sorunome.msc2409.ephemeral"] ?? []);
      await store.markTxn(txnId);
      res.json({});
    } catch {
      // Not acknowledged: the homeserver sends the same transaction again.
      error(res, 500, "M_UNKNOWN", "Could not handle the transaction; retry");
    }
  });

  app.get("/_matrix/app/v1/users/:userId", async (req, res) => {
    if (!auth(req, res)) return;
    if (h.onUserQuery && (await h.onUserQuery(req.params.userId!).catch(() => false))) res.json({});
    else error(res, 404, "M_NOT_FOUND", "No such user");
  });

  app.get("/_matrix/app/v1/rooms/:alias", async (req, res) => {
    if (!auth(req, res)) return;
    if (h.onAliasQuery && (await h.onAliasQuery(req.params.alias!).catch(() => false))) res.json({});
    else error(res, 404, "M_NOT_FOUND", "No such room");
  });

  app.post("/_matrix/app/v1/ping", json, (req, res) => {
    if (!auth(req, res)) return;
    res.json({});
  });
}
