// The config file's schema. Defaults live here, so a missing file or section means "safe defaults".
// config.sample.yaml documents every key; test/config.test.ts checks the two agree.

export interface RateLimit { per_second: number; burst: number }

export interface Config {
  server_name: string;
  public_baseurl: string | null;
  listen: { host: string; port: number };
  workers: number;
  database: { data_dir: string; url: string | null; pool_size: number; port: number | null; statement_timeout_ms: number };
  redis: { url: string | null };
  media: { store_path: string; max_upload_bytes: number; legacy_unauthenticated_download: boolean };
  registration: { enabled: boolean; allow_guests: boolean; shared_secret: string | null; password_min_length: number; require_token: boolean };
  auth: { refresh_tokens: boolean; access_token_lifetime_ms: number };
  rooms: { default_version: string };
  presence: { enabled: boolean; offline_after_ms: number; max_room_members: number };
  delivery_receipts: { enabled: boolean; max_room_members: number; min_interval_ms: number };
  rate_limiting: { enabled: boolean; login: RateLimit; registration: RateLimit; requests: RateLimit; per_user: { send: number; typing: number; search: number; history: number } };
  http: {
    max_body_bytes: number; cors_origins: string[]; trust_proxy: boolean | string[];
    headers_timeout_ms: number; request_timeout_ms: number; max_connections_per_address: number;
  };
  appservices: { registration_files: string[]; query_timeout_ms: number };
  metrics: { enabled: boolean };
  web_client: { enabled: boolean; path: string; dir: string | null };
  server_notices: { enabled: boolean; localpart: string; display_name: string; room_name: string };
  email: {
    smtp_host: string | null; smtp_port: number; tls: "none" | "starttls" | "tls"; smtp_user: string | null; smtp_password: string | null;
    from: string; registration: "off" | "optional" | "required"; token_lifetime_ms: number; app_name: string;
    notifications: { enabled: boolean; delay_ms: number };
    tls_reject_unauthorized: boolean;
  };
  user_directory: { search_all_users: boolean };
  voip: { turn_uris: string[]; turn_shared_secret: string | null; turn_ttl_ms: number };
  search: { enabled: boolean; language: string; statement_timeout_ms: number; max_terms: number };
  websocket: { enabled: boolean; auth_timeout_ms: number; ping_interval_ms: number; max_buffered_bytes: number; slow_timeout_ms: number; max_sockets_per_user: number };
  logging: { level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent" };
}

/** Postgres's built-in text search configurations ("simple": no stemming). */
export const SEARCH_LANGUAGES = ["simple", "arabic", "armenian", "basque", "catalan", "danish", "dutch", "english", "finnish", "french", "german",
  "greek", "hindi", "hungarian", "indonesian", "irish", "italian", "lithuanian", "nepali", "norwegian", "portuguese", "romanian", "russian",
  "serbian", "spanish", "swedish", "tamil", "turkish", "yiddish"];

const rateLimit = (perSecond: number, burst: number) => ({
  type: "object",
  additionalProperties: false,
  default: { per_second: perSecond, burst },
  properties: {
    per_second: { type: "number", exclusiveMinimum: 0, default: perSecond },
    burst: { type: "integer", minimum: 1, default: burst },
  },
});

const section = (properties: Record<string, unknown>) => ({
  type: "object",
  additionalProperties: false,
  default: {},
  properties,
});

export const configSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    server_name: { type: "string", minLength: 1, maxLength: 230, default: "localhost" },
    public_baseurl: { type: ["string", "null"], pattern: "^https?://", default: null },
    listen: section({
      host: { type: "string", minLength: 1, default: "127.0.0.1" },
      port: { type: "integer", minimum: 0, maximum: 65535, default: 8008 },
    }),
    workers: { type: "integer", minimum: 1, maximum: 256, default: 1 },
    database: section({
      data_dir: { type: "string", minLength: 1, default: "./data/postgres" },
      url: { type: ["string", "null"], pattern: "^postgres(ql)?://", default: null },
      pool_size: { type: "integer", minimum: 1, maximum: 500, default: 20 },
      port: { type: ["integer", "null"], minimum: 1, maximum: 65535, default: null },
      statement_timeout_ms: { type: "integer", minimum: 0, default: 60000 },
    }),
    redis: section({
      url: { type: ["string", "null"], pattern: "^rediss?://", default: null },
    }),
    media: section({
      store_path: { type: "string", minLength: 1, default: "./data/media" },
      legacy_unauthenticated_download: { type: "boolean", default: true },
      max_upload_bytes: { type: "integer", minimum: 1, default: 52428800 },
    }),
    registration: section({
      enabled: { type: "boolean", default: true },
      allow_guests: { type: "boolean", default: false },
      shared_secret: { type: ["string", "null"], minLength: 16, default: null },
      password_min_length: { type: "integer", minimum: 0, maximum: 512, default: 0 },
      // Open registration only with a registration token (m.login.registration_token).
      require_token: { type: "boolean", default: false },
    }),
    auth: section({
      refresh_tokens: { type: "boolean", default: true },
      access_token_lifetime_ms: { type: "integer", minimum: 60000, default: 3600000 },
    }),
    rooms: section({
      default_version: { enum: ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"], default: "10" },
    }),
    presence: section({
      enabled: { type: "boolean", default: true },
      offline_after_ms: { type: "integer", minimum: 100, default: 300000 },
      max_room_members: { type: "integer", minimum: 0, default: 1000 },
    }),
    delivery_receipts: section({
      enabled: { type: "boolean", default: true },
      max_room_members: { type: "integer", minimum: 0, default: 100 },
      min_interval_ms: { type: "integer", minimum: 0, default: 1000 },
    }),
    rate_limiting: section({
      enabled: { type: "boolean", default: true },
      login: rateLimit(1, 20),
      registration: rateLimit(1, 20),
      requests: rateLimit(50, 200),
      per_user: section({
        send: { type: "integer", minimum: 0, default: 10 },
        typing: { type: "integer", minimum: 0, default: 5 },
        search: { type: "integer", minimum: 0, default: 2 },
        history: { type: "integer", minimum: 0, default: 5 },
      }),
    }),
    http: section({
      max_body_bytes: { type: "integer", minimum: 65536, default: 1048576 },
      cors_origins: { type: "array", items: { type: "string" }, default: ["*"] },
      trust_proxy: { anyOf: [{ type: "boolean" }, { type: "array", items: { type: "string" } }], default: false },
      headers_timeout_ms: { type: "integer", minimum: 1000, default: 10000 },
      request_timeout_ms: { type: "integer", minimum: 1000, default: 120000 },
      max_connections_per_address: { type: "integer", minimum: 0, default: 500 },
    }),
    appservices: section({
      registration_files: { type: "array", items: { type: "string" }, default: [] },
      query_timeout_ms: { type: "integer", minimum: 100, maximum: 120000, default: 10000 },
    }),
    user_directory: section({
      search_all_users: { type: "boolean", default: false },
    }),
    voip: section({
      turn_uris: { type: "array", items: { type: "string", pattern: "^turns?:" }, default: [] },
      turn_shared_secret: { type: ["string", "null"], minLength: 1, default: null },
      turn_ttl_ms: { type: "integer", minimum: 60000, default: 86400000 },
    }),
    search: section({
      enabled: { type: "boolean", default: true },
      language: { enum: SEARCH_LANGUAGES, default: "english" },
      statement_timeout_ms: { type: "integer", minimum: 100, maximum: 600000, default: 10000 },
      max_terms: { type: "integer", minimum: 1, maximum: 256, default: 32 },
    }),
    websocket: section({
      enabled: { type: "boolean", default: true },
      auth_timeout_ms: { type: "integer", minimum: 100, maximum: 600000, default: 10000 },
      ping_interval_ms: { type: "integer", minimum: 100, maximum: 600000, default: 30000 },
      max_buffered_bytes: { type: "integer", minimum: 65536, default: 8388608 },
      slow_timeout_ms: { type: "integer", minimum: 100, maximum: 600000, default: 30000 },
      max_sockets_per_user: { type: "integer", minimum: 0, default: 5 },
    }),
    metrics: section({
      enabled: { type: "boolean", default: true },
    }),
    // Outgoing email over SMTP; off while smtp_host is null.
    email: section({
      smtp_host: { type: ["string", "null"], minLength: 1, default: null },
      smtp_port: { type: "integer", minimum: 1, maximum: 65535, default: 25 },
      // none: plain SMTP; starttls: upgrade (and require it); tls: TLS from the start (port 465).
      tls: { enum: ["none", "starttls", "tls"], default: "none" },
      tls_reject_unauthorized: { type: "boolean", default: true },
      smtp_user: { type: ["string", "null"], default: null },
      smtp_password: { type: ["string", "null"], default: null },
      from: { type: "string", minLength: 3, maxLength: 320, default: "Ganglion <noreply@localhost>" },
      // Email at registration: off, optional (a flow with it), or required.
      registration: { enum: ["off", "optional", "required"], default: "optional" },
      token_lifetime_ms: { type: "integer", minimum: 60000, default: 3600000 },
      app_name: { type: "string", minLength: 1, maxLength: 100, default: "Ganglion" },
      notifications: {
        type: "object", additionalProperties: false, default: { enabled: false, delay_ms: 600000 },
        properties: {
          enabled: { type: "boolean", default: false },
          delay_ms: { type: "integer", minimum: 0, default: 600000 },
        },
      },
    }),
    server_notices: section({
      enabled: { type: "boolean", default: true },
      localpart: { type: "string", pattern: "^[a-z0-9._=/+-]{1,64}$", default: "notices" },
      display_name: { type: "string", minLength: 1, maxLength: 256, default: "Server Notices" },
      room_name: { type: "string", minLength: 1, maxLength: 256, default: "Server Notices" },
    }),
    web_client: section({
      enabled: { type: "boolean", default: true },
      // Where the page is served: "/" or "/a/path/"; never under /_matrix or /_synapse.
      path: { type: "string", pattern: "^/([A-Za-z0-9-][A-Za-z0-9._~-]*/)*$", maxLength: 200, default: "/" },
      dir: { type: ["string", "null"], minLength: 1, default: null },
    }),
    logging: section({
      level: { enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"], default: "info" },
    }),
  },
} as const;
