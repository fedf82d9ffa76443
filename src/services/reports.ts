// Reports to administrators and OpenID tokens (report_content.yaml, openid.yaml).
import { randomBytes } from "node:crypto";
import type { UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as misc from "../store/misc.js";

const OPENID_TTL_S = 3600;

export class ReportService {
  constructor(private readonly db: Db) {}

  report(reporter: UserId, roomId: string, eventId: string | null, reason: string | null, score: number | null): Promise<void> {
    return misc.insertReport(this.db, { reporter, roomId, eventId, targetUserId: null, reason, score });
  }

  reportUser(reporter: UserId, target: UserId, reason: string): Promise<void> {
    return misc.insertReport(this.db, { reporter, roomId: null, eventId: null, targetUserId: target, reason, score: null });
  }

  async openIdToken(userId: UserId): Promise<{ access_token: string; expires_in: number }> {
    const token = randomBytes(32).toString("base64url");
    await misc.insertOpenIdToken(this.db, token, userId, Date.now() + OPENID_TTL_S * 1000);
    return { access_token: token, expires_in: OPENID_TTL_S };
  }

  openIdUser(token: string): Promise<string | null> {
    return misc.selectOpenIdUser(this.db, token);
  }
}
