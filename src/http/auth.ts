// Access tokens on requests. https://spec.matrix.org/latest/client-server-api/#using-access-tokens
import type { Request } from "express";
import { MatrixError } from "./errors.js";

/**
 * The token from `Authorization: Bearer`, or from the `access_token` query parameter.
 * The query form was removed from the spec in v1.11's deprecation cycle, but older clients and
 * the standard homeserver test suites still send it, so it is accepted (and documented as
 * deprecated).
 */
export function extractAccessToken(req: Request): string | null {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new MatrixError(401, "M_MISSING_TOKEN", "Invalid Authorization header");
    return m[1]!;
  }
  const q = req.query.access_token;
  if (typeof q === "string" && q.length > 0) return q;
  return null;
}

export const missingToken = () => new MatrixError(401, "M_MISSING_TOKEN", "Missing access token");
