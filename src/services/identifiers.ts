// Login identifiers. https://spec.matrix.org/latest/client-server-api/#identifier-types
import { MatrixError } from "../http/errors.js";
import { makeUserId, parseUserId, serverNameOf, type UserId } from "../matrix/ids.js";
import type { Queryable } from "../store/db.js";

export interface LoginIdentifierBody {
  identifier?: { type?: string; user?: string; [k: string]: unknown };
  /** Deprecated top-level form of m.id.user, still sent by older clients. */
  user?: string;
}

/** The local user a login (or UIA password stage) names. Localparts are lower-cased, as users type them. */
export function resolveLoginUser(body: LoginIdentifierBody, serverName: string): UserId {
  let name: string | undefined;
  if (body.identifier !== undefined) {
    const id = body.identifier;
    if (typeof id !== "object" || id === null) throw new MatrixError(400, "M_BAD_JSON", "identifier must be an object");
    if (id.type !== "m.id.user") {
      if (id.type === "m.id.thirdparty" || id.type === "m.id.phone") {
        throw new MatrixError(403, "M_FORBIDDEN", "No account is associated with that third-party identifier");
      }
      throw new MatrixError(400, "M_UNKNOWN", `Unknown identifier type ${String(id.type)}`);
    }
    if (typeof id.user !== "string") throw new MatrixError(400, "M_MISSING_PARAM", "identifier.user is required");
    name = id.user;
  } else if (typeof body.user === "string") {
    name = body.user;
  } else {
    throw new MatrixError(400, "M_MISSING_PARAM", "An identifier is required");
  }
  if (name.startsWith("@")) {
    const uid = parseUserId(name);
    if (serverNameOf(uid) !== serverName) throw new MatrixError(403, "M_FORBIDDEN", "Invalid username or password");
    return uid;
  }
  if (name.length === 0 || name.length > 255 || name.includes(":")) throw new MatrixError(403, "M_FORBIDDEN", "Invalid username or password");
  return makeUserId(name.toLowerCase(), serverName);
}

/**
 * A login by email address (m.id.thirdparty, or the deprecated top-level `medium`/`address`)
 * becomes a login by the user ID the address belongs to; an address no account has gives
 * the same 403 as a wrong password, so logins do not reveal which addresses are known.
 */
export async function resolveThirdParty<T extends LoginIdentifierBody>(db: Queryable, body: T): Promise<T> {
  const b = body as T & { medium?: unknown; address?: unknown };
  const id = b.identifier as { type?: string; medium?: unknown; address?: unknown } | undefined;
  const tp = id?.type === "m.id.thirdparty" ? { medium: id.medium, address: id.address } : id === undefined && b.medium !== undefined ? { medium: b.medium, address: b.address } : null;
  if (!tp) return body;
  if (typeof tp.medium !== "string" || typeof tp.address !== "string") throw new MatrixError(400, "M_MISSING_PARAM", "medium and address are required");
  const address = tp.medium === "email" ? tp.address.trim().toLowerCase() : tp.address;
  const r = await db("user_threepids").where({ medium: tp.medium, address }).first("user_id");
  if (!r) throw new MatrixError(403, "M_FORBIDDEN", "Invalid username or password");
  return { ...body, identifier: { type: "m.id.user", user: r.user_id as string } };
}
