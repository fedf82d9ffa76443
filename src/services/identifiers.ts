// Login identifiers. https://spec.matrix.org/latest/client-server-api/#identifier-types
import { MatrixError } from "../http/errors.js";
import { makeUserId, parseUserId, serverNameOf, type UserId } from "../matrix/ids.js";

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
