import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { MaikitConfig } from "../src/index.ts"

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-config-"))

describe("MaikitConfig", () => {
  it.effect("defaults work on a fresh machine", () =>
    Effect.gen(function*() {
      const cwd = tempDir()
      const settings = yield* MaikitConfig.load({ cwd, env: {} })
      assert.strictEqual(settings.dataDir, Path.join(cwd, "data"))
      assert.strictEqual(settings.host, "127.0.0.1")
      assert.strictEqual(settings.port, 23456)
      assert.isTrue(Option.isNone(settings.accessToken))
      assert.strictEqual(settings.logLevel, "info")
      assert.strictEqual(settings.logDir, Path.join(cwd, "data", "logs"))
      assert.strictEqual(settings.logRetentionDays, 7)
      assert.strictEqual(settings.maxBodyBytes, 1024 * 1024)
    }))

  it.effect("accepts seed 001's MaiLauncher config.toml, mapped onto MaiKit's keys", () =>
    Effect.gen(function*() {
      const cwd = tempDir()
      const file = Path.join(cwd, "config.toml")
      Fs.writeFileSync(
        file,
        '[inner]\nversion = "0.0.1"\n\n[server]\nhost = "localhost"\nport = 23457\napi_prefix = "/api/v1"\n\n' +
          '[debug]\nlevel = "WARNING"\n'
      )
      const settings = yield* MaikitConfig.load({ cwd, env: {}, overrides: { configFile: file } })
      assert.strictEqual(settings.host, "localhost")
      assert.strictEqual(settings.port, 23457)
      assert.strictEqual(settings.logLevel, "warn")
      // MaiKit's own keys may sit beside the launcher's tables; the environment still wins over both.
      Fs.writeFileSync(file, 'data_dir = "state"\n' + Fs.readFileSync(file, "utf8"))
      const mixed = yield* MaikitConfig.load({ cwd, env: { MAIKIT_PORT: "4000" }, overrides: { configFile: file } })
      assert.strictEqual(mixed.dataDir, Path.join(cwd, "state"))
      assert.strictEqual(mixed.port, 4000)

      Fs.writeFileSync(file, '[server]\napi_prefix = "/api/v2"\n')
      const prefix = yield* Effect.flip(MaikitConfig.load({ cwd, env: {}, overrides: { configFile: file } }))
      assert.strictEqual(prefix.key, "server.api_prefix")
      assert.include(prefix.message, "/api/v1")

      Fs.writeFileSync(file, '[server]\nhots = "localhost"\n')
      const typo = yield* Effect.flip(MaikitConfig.load({ cwd, env: {}, overrides: { configFile: file } }))
      assert.strictEqual(typo.key, "server.hots")

      Fs.writeFileSync(file, 'port = 1\n[server]\nport = 2\n')
      const twice = yield* Effect.flip(MaikitConfig.load({ cwd, env: {}, overrides: { configFile: file } }))
      assert.include(twice.message, "set twice")
    }))

  it.effect("reads the TOML file, then the environment, then overrides", () =>
    Effect.gen(function*() {
      const cwd = tempDir()
      Fs.writeFileSync(
        Path.join(cwd, "maikit.toml"),
        "port = 3000\nlog_level = \"debug\"\ndata_dir = \"state\"\nlog_retention_days = 3\n"
      )
      const fromFile = yield* MaikitConfig.load({ cwd, env: {} })
      assert.strictEqual(fromFile.port, 3000)
      assert.strictEqual(fromFile.logLevel, "debug")
      assert.strictEqual(fromFile.dataDir, Path.join(cwd, "state"))
      assert.strictEqual(fromFile.logRetentionDays, 3)

      const fromEnv = yield* MaikitConfig.load({ cwd, env: { MAIKIT_PORT: "4000", MAIKIT_LOG_LEVEL: "WARN" } })
      assert.strictEqual(fromEnv.port, 4000)
      assert.strictEqual(fromEnv.logLevel, "warn")

      const fromFlags = yield* MaikitConfig.load({ cwd, env: { MAIKIT_PORT: "4000" }, overrides: { port: 5000 } })
      assert.strictEqual(fromFlags.port, 5000)
    }))

  it.effect("an explicit config file is read from MAIKIT_CONFIG and must exist", () =>
    Effect.gen(function*() {
      const cwd = tempDir()
      Fs.writeFileSync(Path.join(cwd, "custom.toml"), "host = \"::1\"\n")
      const settings = yield* MaikitConfig.load({ cwd, env: { MAIKIT_CONFIG: "custom.toml" } })
      assert.strictEqual(settings.host, "::1")
      const missing = yield* Effect.flip(MaikitConfig.load({ cwd, env: { MAIKIT_CONFIG: "nope.toml" } }))
      assert.strictEqual(missing.key, "MAIKIT_CONFIG")
      assert.include(missing.message, "not found")
    }))

  it.effect("a bad value fails with a message that names the key", () =>
    Effect.gen(function*() {
      const cwd = tempDir()
      const badPort = yield* Effect.flip(MaikitConfig.load({ cwd, env: { MAIKIT_PORT: "http" } }))
      assert.strictEqual(badPort._tag, "MaikitConfigError")
      assert.strictEqual(badPort.key, "MAIKIT_PORT")
      assert.include(badPort.message, "MAIKIT_PORT")

      const outOfRange = yield* Effect.flip(MaikitConfig.load({ cwd, env: { MAIKIT_PORT: "70000" } }))
      assert.strictEqual(outOfRange.key, "MAIKIT_PORT")

      const badLevel = yield* Effect.flip(MaikitConfig.load({ cwd, env: { MAIKIT_LOG_LEVEL: "loud" } }))
      assert.strictEqual(badLevel.key, "MAIKIT_LOG_LEVEL")

      Fs.writeFileSync(Path.join(cwd, "maikit.toml"), "port = \"eighty\"\n")
      const badFileValue = yield* Effect.flip(MaikitConfig.load({ cwd, env: {} }))
      assert.strictEqual(badFileValue.key, "port")
      assert.include(badFileValue.source, "maikit.toml")

      Fs.writeFileSync(Path.join(cwd, "maikit.toml"), "prot = 80\n")
      const typo = yield* Effect.flip(MaikitConfig.load({ cwd, env: {} }))
      assert.strictEqual(typo.key, "prot")
      assert.include(typo.message, "unknown key")

      Fs.writeFileSync(Path.join(cwd, "maikit.toml"), "port = = 1\n")
      const broken = yield* Effect.flip(MaikitConfig.load({ cwd, env: {} }))
      assert.include(broken.message, "invalid TOML")
    }))

  it.effect("refuses a non-loopback host without an access token", () =>
    Effect.gen(function*() {
      const cwd = tempDir()
      const refused = yield* Effect.flip(MaikitConfig.load({ cwd, env: {}, overrides: { host: "0.0.0.0" } }))
      assert.strictEqual(refused.key, "host")
      assert.include(refused.message, "without an access token")

      const allowed = yield* MaikitConfig.load({ cwd, env: { MAIKIT_TOKEN: "s3cret" }, overrides: { host: "0.0.0.0" } })
      assert.strictEqual(allowed.host, "0.0.0.0")
      assert.strictEqual(Option.map(allowed.accessToken, Redacted.value).pipe(Option.getOrUndefined), "s3cret")
      assert.notInclude(String(allowed.accessToken), "s3cret")

      for (const host of ["127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"]) {
        assert.isTrue(MaikitConfig.isLoopbackHost(host), host)
      }
      for (const host of ["0.0.0.0", "::", "192.168.1.2", "example.com", "128.0.0.1"]) {
        assert.isFalse(MaikitConfig.isLoopbackHost(host), host)
      }
    }))

  it.effect("allowed hosts and origins: TOML arrays, comma-separated variables, flags; checked at start", () =>
    Effect.gen(function*() {
      const cwd = tempDir()
      const defaults = yield* MaikitConfig.load({ cwd, env: {} })
      assert.deepStrictEqual(defaults.allowedHosts, [])
      assert.deepStrictEqual(defaults.allowedOrigins, MaikitConfig.defaultAllowedOrigins)
      assert.include(defaults.allowedOrigins, "tauri://localhost")

      Fs.writeFileSync(
        Path.join(cwd, "maikit.toml"),
        "allowed_hosts = [\"maikit.lan\", \".example.com\"]\nallowed_origins = [\"http://maikit.lan:*\"]\n"
      )
      const fromFile = yield* MaikitConfig.load({ cwd, env: {} })
      assert.deepStrictEqual(fromFile.allowedHosts, ["maikit.lan", ".example.com"])
      assert.deepStrictEqual(fromFile.allowedOrigins, ["http://maikit.lan:*"])

      const fromEnv = yield* MaikitConfig.load({
        cwd,
        env: { MAIKIT_ALLOWED_HOSTS: " a.test, [fe80::1] ,", MAIKIT_ALLOWED_ORIGINS: "" }
      })
      assert.deepStrictEqual(fromEnv.allowedHosts, ["a.test", "[fe80::1]"])
      assert.deepStrictEqual(fromEnv.allowedOrigins, [], "an empty variable allows no other origin")

      const fromFlags = yield* MaikitConfig.load({ cwd, env: {}, overrides: { allowedHosts: ["*"] } })
      assert.deepStrictEqual(fromFlags.allowedHosts, ["*"])

      const badOrigin = yield* Effect.flip(MaikitConfig.load({ cwd, env: { MAIKIT_ALLOWED_ORIGINS: "localhost:5173" } }))
      assert.strictEqual(badOrigin.key, "MAIKIT_ALLOWED_ORIGINS")
      assert.include(badOrigin.message, "expected an origin")
      const badHost = yield* Effect.flip(MaikitConfig.load({ cwd, env: {}, overrides: { allowedHosts: ["http://a.test"] } }))
      assert.strictEqual(badHost.key, "allowed_hosts")
    }))
})
