// The one error type of the server. Services throw MatrixError; one middleware renders it as
// the spec's standard error response: https://spec.matrix.org/latest/client-server-api/#standard-error-response

export type ErrCode =
  | "M_BAD_JSON" | "M_NOT_JSON" | "M_MISSING_PARAM" | "M_INVALID_PARAM" | "M_TOO_LARGE"
  | "M_FORBIDDEN" | "M_UNKNOWN_TOKEN" | "M_MISSING_TOKEN" | "M_NOT_FOUND" | "M_UNRECOGNIZED"
  | "M_LIMIT_EXCEEDED" | "M_UNKNOWN" | "M_UNAUTHORIZED" | "M_USER_LOCKED" | "M_THREEPID_AUTH_FAILED" | "M_THREEPID_IN_USE" | "M_THREEPID_NOT_FOUND" | "M_USER_IN_USE" | "M_INVALID_USERNAME" | "M_EXCLUSIVE"
  | "M_GUEST_ACCESS_FORBIDDEN" | "M_USER_DEACTIVATED" | "M_WEAK_PASSWORD" | "M_ROOM_IN_USE"
  | "M_INVALID_ROOM_STATE" | "M_UNSUPPORTED_ROOM_VERSION" | "M_BAD_STATE" | "M_PROFILE_TOO_LARGE"
  | "M_KEY_TOO_LARGE" | "M_THREEPID_NOT_FOUND" | "M_THREEPID_AUTH_FAILED" | "M_DUPLICATE_ANNOTATION"
  | "M_UNKNOWN_DEVICE" | "M_URL_NOT_SET" | "M_BAD_STATUS" | "M_CONNECTION_FAILED"
  | "M_CONNECTION_TIMEOUT" | "M_INCOMPATIBLE_ROOM_VERSION" | "M_NOT_YET_UPLOADED"
  | "M_CANNOT_OVERWRITE_MEDIA" | "M_WRONG_ROOM_KEYS_VERSION" | "M_INVALID_SIGNATURE" | "M_SERVER_NOT_TRUSTED" | "M_BAD_ALIAS"
  | "M_THREEPID_MEDIUM_NOT_SUPPORTED" | "M_THREEPID_DENIED" | "M_UNKNOWN_POS";

export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: ErrCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "MatrixError";
  }

  toJSON(): Record<string, unknown> {
    return { ...this.extra, errcode: this.errcode, error: this.message };
  }
}

/**
 * The 401 of user-interactive auth that asks for (more) stages. When no attempt failed, its
 * body is the flows object alone, with no errcode (spec: User-Interactive Authentication API).
 */
export class UiaChallenge extends MatrixError {
  constructor(body: Record<string, unknown>) {
    super(401, "M_FORBIDDEN", "Additional authentication required", body);
  }

  override toJSON(): Record<string, unknown> {
    return { ...this.extra };
  }
}

// Shorthands for the errors every layer raises. Each names the spec's status code and errcode.
export const badJson = (msg: string) => new MatrixError(400, "M_BAD_JSON", msg);
export const notJson = (msg = "Content not JSON.") => new MatrixError(400, "M_NOT_JSON", msg);
export const missingParam = (msg: string) => new MatrixError(400, "M_MISSING_PARAM", msg);
export const invalidParam = (msg: string) => new MatrixError(400, "M_INVALID_PARAM", msg);
export const forbidden = (msg: string) => new MatrixError(403, "M_FORBIDDEN", msg);
export const notFound = (msg: string) => new MatrixError(404, "M_NOT_FOUND", msg);
export const tooLarge = (msg: string) => new MatrixError(413, "M_TOO_LARGE", msg);
export const unrecognized = (status: 404 | 405 | 400, msg = "Unrecognized request") =>
  new MatrixError(status, "M_UNRECOGNIZED", msg);
export const unknownToken = (msg = "Unrecognised access token.", softLogout = false) =>
  new MatrixError(401, "M_UNKNOWN_TOKEN", msg, { soft_logout: softLogout });
export const limitExceeded = (retryAfterMs: number) =>
  new MatrixError(429, "M_LIMIT_EXCEEDED", "Too many requests", { retry_after_ms: retryAfterMs }, {
    // Retry-After is in whole seconds (RFC 9110); never 0, or a client retries at once.
    "Retry-After": String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
  });

/** 503 while the database is unreachable: a transient condition, try again. */
export const databaseAway = (): MatrixError =>
  new MatrixError(503, "M_UNKNOWN", "The database is unavailable; try again shortly", {}, { "Retry-After": "5" });
