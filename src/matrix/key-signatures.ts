// Signatures on signed JSON (device keys, cross-signing keys): ed25519 over the canonical JSON
// of the object without `signatures` and `unsigned`.
// https://spec.matrix.org/latest/appendices/#signing-json
import { createPublicKey, verify } from "node:crypto";
import { canonicalJson } from "./canonical-json.js";

type Json = Record<string, unknown>;

// DER prefix of an ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow.
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

/** The object as it is signed. */
export function signedPart(obj: Json): Json {
  const { signatures: _s, unsigned: _u, ...rest } = obj;
  return rest;
}

/** Does `signature` (unpadded base64) verify over `obj` with the ed25519 `publicKey` (unpadded base64)? */
export function verifyEd25519(obj: Json, publicKey: string, signature: string): boolean {
  try {
    const raw = Buffer.from(publicKey, "base64");
    const sig = Buffer.from(signature, "base64");
    if (raw.length !== 32 || sig.length !== 64) return false;
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: "der", type: "spki" });
    return verify(null, Buffer.from(canonicalJson(signedPart(obj)), "utf8"), key, sig);
  } catch {
    return false;
  }
}
