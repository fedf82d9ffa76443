// The single ajv instance. Schemas are compiled once, when routes are mounted, never per request.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { MatrixError } from "./errors.js";

export const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });

export type Schema = Record<string, unknown>;

export function compile<T>(schema: Schema): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

/**
 * Turns ajv's first error into the spec's errcode: a missing key is M_MISSING_PARAM, anything
 * else that is valid JSON but the wrong shape is M_BAD_JSON (spec: common error codes).
 */
export function schemaError(errors: ErrorObject[] | null | undefined): MatrixError {
  const e = errors?.[0];
  if (!e) return new MatrixError(400, "M_BAD_JSON", "Invalid request body");
  const where = e.instancePath ? e.instancePath.slice(1).replaceAll("/", ".") : "body";
  if (e.keyword === "required") {
    return new MatrixError(400, "M_MISSING_PARAM", `Missing parameter: ${e.instancePath ? `${where}.` : ""}${String(e.params.missingProperty)}`);
  }
  if (e.keyword === "type" && !e.instancePath) return new MatrixError(400, "M_BAD_JSON", "Content must be a JSON object");
  return new MatrixError(400, "M_BAD_JSON", `Invalid parameter ${where}: ${e.message ?? "invalid"}`);
}

/** Validates with a compiled schema; throws the spec error. */
export function check<T>(fn: ValidateFunction<T>, value: unknown): T {
  if (!fn(value)) throw schemaError(fn.errors);
  return value as T;
}

// Small schema builders, so route files read like the spec's OpenAPI definitions.
export const obj = (properties: Record<string, Schema>, required: string[] = [], additional = true): Schema => ({
  type: "object", properties, required, additionalProperties: additional,
});
export const str = (maxLength = 65536, extra: Schema = {}): Schema => ({ type: "string", maxLength, ...extra });
export const bool: Schema = { type: "boolean" };
export const int = (minimum?: number, maximum?: number): Schema => ({
  type: "integer", ...(minimum !== undefined ? { minimum } : {}), ...(maximum !== undefined ? { maximum } : {}),
});
export const anyObject: Schema = { type: "object" };

/** A `limit` query parameter: a non-negative integer, cut to `max`. */
export function parseLimit(v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d{1,9}$/.test(v)) throw new MatrixError(400, "M_INVALID_PARAM", "limit must be a non-negative integer");
  return Math.min(Number(v), max);
}
