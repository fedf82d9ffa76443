// The parameters of the extension's own methods (docs/websocket.md), validated as HTTP bodies are.
import { compile, type Schema } from "../http/validate.js";

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
