// The service layer, built once in server.ts and handed to every route handler.
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { Db } from "../store/db.js";
import { AccountService } from "./accounts.js";
import { DeviceService } from "./devices.js";
import { ProfileService } from "./profiles.js";
import { TokenService } from "./tokens.js";
import { UiaService } from "./uia.js";
import { RateLimiter } from "../http/rate-limit.js";

export interface Services {
  config: Config;
  db: Db;
  log: Logger;
  tokens: TokenService;
  accounts: AccountService;
  devices: DeviceService;
  profiles: ProfileService;
  uia: UiaService;
  limits: { login: RateLimiter; registration: RateLimiter; requests: RateLimiter };
}

export function createServices(config: Config, db: Db, log: Logger): Services {
  const tokens = new TokenService(db, config);
  const rl = config.rate_limiting;
  return {
    config, db, log, tokens,
    accounts: new AccountService(db, config, tokens),
    devices: new DeviceService(db),
    profiles: new ProfileService(db),
    uia: new UiaService(db, config.server_name),
    limits: {
      login: new RateLimiter(rl.login, rl.enabled),
      registration: new RateLimiter(rl.registration, rl.enabled),
      requests: new RateLimiter(rl.requests, rl.enabled),
    },
  };
}
