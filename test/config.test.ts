// config/: the sample file, defaults, errors, and how main.ts reacts to a bad config.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { parse } from "yaml";
import { buildConfig, ConfigError, configPathFromArgs, loadConfig } from "../src/config/load.js";
import { configSchema } from "../src/config/schema.js";

const root = path.resolve(import.meta.dirname, "..");

function runMain(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/main.ts"), ...args], {
      cwd: root, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (d) => (stdout += d));
    if (stdin) child.stdin.end(stdin);
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

describe("config", () => {
  it("config.sample.yaml is valid and names every key of the schema", () => {
    const raw = parse(readFileSync(path.join(root, "config.sample.yaml"), "utf8"));
    const cfg = buildConfig(raw, "sample");
    expect(cfg.server_name).to.equal("localhost");
    // Every top-level section and key of the schema appears in the sample, so it documents them all.
    for (const [section, def] of Object.entries(configSchema.properties)) {
      expect(raw, `sample lacks ${section}`).to.have.property(section);
      const props = (def as { properties?: Record<string, unknown> }).properties;
      if (props) for (const key of Object.keys(props)) expect(raw[section], `sample lacks ${section}.${key}`).to.have.property(key);
    }
  });

  it("no config at all gives safe defaults", () => {
    const cfg = buildConfig({}, "defaults");
    expect(cfg.server_name).to.equal("localhost");
    expect(cfg.listen).to.deep.equal({ host: "127.0.0.1", port: 8008 });
    expect(cfg.database.url).to.equal(null);
    expect(cfg.database.data_dir).to.equal("./data/postgres");
    expect(cfg.public_baseurl).to.equal("http://127.0.0.1:8008/");
    expect(cfg.registration.allow_guests).to.equal(false);
    expect(Object.isFrozen(cfg.database)).to.equal(true);
  });

  it("lists every problem, not just the first", () => {
    try {
      buildConfig({ server_name: "bad name!", listen: { port: "eighty" }, databse: {}, logging: { level: "loud" } });
      expect.fail("should throw");
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      const problems = (e as ConfigError).problems.join("\n");
      expect(problems).to.include("listen.port");
      expect(problems).to.include("databse");
      expect(problems).to.include("logging.level");
      expect(problems).to.include("server_name");
    }
  });

  it("accepts a server name with a port", () => {
    expect(buildConfig({ server_name: "localhost:8800" }).server_name).to.equal("localhost:8800");
  });

  it("reads --config, --config=, -c and GANGLION_CONFIG", () => {
    expect(configPathFromArgs(["--config", "a.yaml"])).to.equal("a.yaml");
    expect(configPathFromArgs(["--config=b.yaml"])).to.equal("b.yaml");
    expect(configPathFromArgs(["-c", "c.yaml"])).to.equal("c.yaml");
    const dir = mkdtempSync(path.join(tmpdir(), "ganglion-cfg-"));
    const file = path.join(dir, "env.yaml");
    writeFileSync(file, "server_name: env.example\n");
    const before = process.env.GANGLION_CONFIG;
    process.env.GANGLION_CONFIG = file;
    try {
      expect(loadConfig(null).server_name).to.equal("env.example");
    } finally {
      if (before === undefined) delete process.env.GANGLION_CONFIG;
      else process.env.GANGLION_CONFIG = before;
    }
  });

  it("the server exits with code 2 and lists all errors for a broken config", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ganglion-cfg-"));
    const file = path.join(dir, "bad.yaml");
    writeFileSync(file, "listen:\n  port: -1\nregistration:\n  enabled: maybe\nunknown_key: 1\n");
    const r = await runMain(["--config", file]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include("listen.port");
    expect(r.stderr).to.include("registration.enabled");
    expect(r.stderr).to.include("unknown_key");
  });

  it("the server exits with code 2 for a file that is not YAML or does not exist", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ganglion-cfg-"));
    const file = path.join(dir, "broken.yaml");
    writeFileSync(file, "a: [unclosed\n");
    expect((await runMain(["--config", file])).code).to.equal(2);
    expect((await runMain(["--config", path.join(dir, "missing.yaml")])).code).to.equal(2);
  });
});

describe("registration regexes in Python's dialect", () => {
  it("translates what JavaScript writes differently and refuses what it cannot mean", async () => {
    const { fromPythonRegex, compilePythonRegex } = await import("../src/config/python-regex.js");
    expect(fromPythonRegex("\\#pytg_.*:example\\-server\\.org").source).to.equal("#pytg_.*:example-server\\.org");
    expect(compilePythonRegex("\\#pytg_.*:example\\-server\\.org", true).test("#pytg_1:example-server.org")).to.equal(true);
    expect(compilePythonRegex("\\#pytg_.*:example\\-server\\.org", true).test("#pytg_1:example-serverXorg")).to.equal(false);
    expect(fromPythonRegex("[a\\-z]").source).to.equal("[a\\-z]"); // a literal '-' in a class stays escaped
    expect(fromPythonRegex("\\Afoo\\Z").source).to.equal("^foo$");
    expect(compilePythonRegex("(?P<n>a)(?P=n)").test("aa")).to.equal(true);
    expect(compilePythonRegex("(?i)@BOT_.*").test("@bot_x")).to.equal(true);
    expect(compilePythonRegex("\\ \\:\\@").test(" :@")).to.equal(true);
    expect(() => fromPythonRegex("(?x)a b")).to.throw(/inline flag/);
    expect(() => fromPythonRegex("\\N{DASH}")).to.throw(/no JavaScript equivalent/);
  });
});
