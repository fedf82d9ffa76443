// Application service registration files: the YAML format Synapse and the bridges use.
// https://spec.matrix.org/latest/application-service-api/#registration
// Read and checked at start-up; a problem names the file and the field, and the server does
// not start (exit code 2, like any config problem).
import { compilePythonRegex } from "./python-regex.js";
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./load.js";

export interface Namespace { exclusive: boolean; regex: string }

export interface Registration {
  id: string;
  url: string | null;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  namespaces: { users: Namespace[]; aliases: Namespace[]; rooms: Namespace[] };
  rate_limited: boolean;
  protocols: string[];
  receive_ephemeral: boolean;
  /** To-device messages for its users go in its transactions (MSC2409 as bridges use it). */
  receive_to_device: boolean;
  /** MSC3202: device list changes and one-time key counts of its users' devices in its transactions. */
  msc3202: boolean;
  /** Features the registration asks for that the server lacks (logged at start). */
  unsupported: string[];
  /** Where it came from, for messages. */
  file: string;
}

const ns = { type: "array", items: { type: "object", required: ["regex"], properties: { exclusive: { type: "boolean" }, regex: { type: "string", minLength: 1 } } } };
const schema = {
  type: "object",
  required: ["id", "as_token", "hs_token", "sender_localpart", "namespaces"],
  properties: {
    id: { type: "string", minLength: 1, maxLength: 255 },
    url: { type: ["string", "null"], pattern: "^https?://" },
    as_token: { type: "string", minLength: 1 },
    hs_token: { type: "string", minLength: 1 },
    sender_localpart: { type: "string", minLength: 1, maxLength: 255 },
    namespaces: { type: "object", properties: { users: ns, aliases: ns, rooms: ns } },
    rate_limited: { type: "boolean" },
    protocols: { type: ["array", "null"], items: { type: "string" } },
    receive_ephemeral: { type: "boolean" },
    "de.sorunome.msc2409.push_ephemeral": { type: "boolean" },
    "push_ephemeral": { type: "boolean" },
  },
};
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

/** Reads every registration file; throws ConfigError listing every problem. */
export function loadRegistrations(files: readonly string[]): Registration[] {
  const problems: string[] = [];
  const out: Registration[] = [];
  for (const file of files) {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(file, "utf8"));
    } catch (e) {
      problems.push(`${file}: cannot read it: ${(e as Error).message}`);
      continue;
    }
    if (!validate(raw)) {
      for (const e of validate.errors ?? []) problems.push(`${file}: ${e.instancePath ? e.instancePath.slice(1).replaceAll("/", ".") : "(top level)"}: ${e.message}`);
      continue;
    }
    const r = raw as Record<string, unknown> & { namespaces: Record<string, Namespace[] | undefined> };
    const nsOf = (k: string) => (r.namespaces[k] ?? []).map((n) => ({ exclusive: n.exclusive === true, regex: n.regex }));
    const reg: Registration = {
      id: r.id as string,
      url: (r.url as string | null | undefined) ?? null,
      as_token: r.as_token as string,
      hs_token: r.hs_token as string,
      sender_localpart: r.sender_localpart as string,
      namespaces: { users: nsOf("users"), aliases: nsOf("aliases"), rooms: nsOf("rooms") },
      rate_limited: r.rate_limited !== false,
      protocols: (r.protocols as string[] | null | undefined) ?? [],
      receive_ephemeral: r.receive_ephemeral === true || r["de.sorunome.msc2409.push_ephemeral"] === true || r.push_ephemeral === true,
      // To-device messages in transactions (for bridges that encrypt): asked for with the
      // MSC2409 flag or MSC3202's.
      receive_to_device: r["de.sorunome.msc2409.push_ephemeral"] === true || r["org.matrix.msc3202"] === true || r.receive_to_device === true,
      msc3202: r["org.matrix.msc3202"] === true,
      unsupported: [],
      file,
    };
    for (const [k, list] of Object.entries(reg.namespaces)) {
      list.forEach((n, i) => {
        // Python's dialect, as registrations are written (python-regex.ts).
        try { compilePythonRegex(n.regex, true); } catch (e) { problems.push(`${file}: namespaces.${k}.${i}.regex: not a valid regular expression: ${(e as Error).message}`); }
      });
    }
    out.push(reg);
  }
  const seen = (key: "id" | "as_token" | "hs_token") => {
    const by = new Map<string, string>();
    for (const r of out) {
      const prev = by.get(r[key]);
      if (prev !== undefined) problems.push(`${r.file}: ${key} is the same as in ${prev}; each application service needs its own`);
      else by.set(r[key], r.file);
    }
  };
  seen("id");
  seen("as_token");
  seen("hs_token");
  if (problems.length) throw new ConfigError(problems, "appservices.registration_files");
  return out;
}
