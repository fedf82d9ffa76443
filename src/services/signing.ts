// The server's ed25519 signing key: made once, kept in the database so every process signs alike.
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import type { Db } from "../store/db.js";

export interface SigningKey { keyId: string; key: KeyObject }

export async function loadSigningKey(db: Db): Promise<SigningKey> {
  const row = await db("server_signing_keys").orderBy("created_ts").first();
  if (row) return { keyId: row.key_id, key: createPrivateKey({ key: row.secret, format: "der", type: "pkcs8" }) };
  const { privateKey } = generateKeyPairSync("ed25519");
  const keyId = `ed25519:${randomBytes(4).toString("hex")}`;
  const secret = privateKey.export({ format: "der", type: "pkcs8" });
  // Two processes starting together: the first insert wins; both then use the stored key.
  await db.raw(`INSERT INTO server_signing_keys (key_id, secret, created_ts)
    SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM server_signing_keys)`, [keyId, secret, Date.now()]);
  return loadSigningKey(db);
}
