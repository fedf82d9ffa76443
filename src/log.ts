// Structured logging (pino). Never log tokens, passwords, the Authorization header or bodies:
// request logs carry the path without its query string (which may hold access_token).
import { pino, type Logger } from "pino";
import type { Config } from "./config/schema.js";

export function createLogger(config: Pick<Config, "logging">): Logger {
  return pino({
    level: config.logging.level,
    base: { service: "ganglion", pid: process.pid },
    redact: {
      paths: ["req.headers.authorization", "*.password", "*.access_token", "*.refresh_token", "*.new_password", "*.as_token", "*.hs_token"],
      censor: "[redacted]",
    },
  });
}
