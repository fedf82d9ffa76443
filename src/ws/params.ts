// The extension's own protocol (docs/websocket.md): close codes, and the parameters of its
// methods, validated as HTTP bodies are.
import { compile, type Schema } from "../http/validate.js";

/** Close codes (docs/websocket.md). */
export const CLOSE = {
  /** No valid authentication in time, or the token was revoked. */
  UNAUTHENTICATED: 4001,
  /** The peer did not take its frames fast enough: reconnect and resume with `since`. */
  TOO_SLOW: 4008,
  /** The user opened more sockets than websocket.max_sockets_per_user: this, the oldest, is closed. */
  TOO_MANY: 4009,
  /** The server is stopping. */
  GOING_AWAY: 1001,
} as const;

const paramSchemas = new Map<string, ReturnType<typeof compile>>();
export function validatorOf(method: string, schema: Schema) {
  let v = paramSchemas.get(method);
  if (!v) paramSchemas.set(method, (v = compile(schema)));
  return v;
}

export const authParams: Schema = { type: "object", required: ["access_token"], properties: { access_token: { type: "string", minLength: 1, maxLength: 1024 } } };
export const ackParams: Schema = { type: "object", properties: { next_batch: { type: "string", maxLength: 255 }, pos: { type: "string", maxLength: 255 } } };

export const syncParams: Schema = {
  type: "object",
  properties: {
    filter: { type: ["string", "object"], maxLength: 65536 },
    since: { type: "string", maxLength: 255 },
    set_presence: { type: "string" },
    full_state: { type: "boolean" },
    use_state_after: { type: "boolean" },
  },
};
