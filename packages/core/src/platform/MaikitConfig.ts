/**
 * MaiKit's runtime configuration: where data lives, where servers listen, who may call them and how much
 * gets logged. Values come from, in rising precedence: built-in defaults, an optional TOML file, `MAIKIT_*`
 * environment variables and explicit overrides (CLI flags). Every value is decoded with a schema, and a bad
 * value fails start-up with a message naming the key and where it came from.
 */
import { Context, Effect, Exit, Layer, type LogLevel, Option, Redacted, Schema, SchemaIssue } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { parse as parseToml } from "smol-toml"
import { MaikitConfigError } from "./MaikitConfigError.ts"

export { MaikitConfigError } from "./MaikitConfigError.ts"

export const LogLevelName = Schema.Literals(["trace", "debug", "info", "warn", "error", "fatal", "none"])
export type LogLevelName = typeof LogLevelName.Type

const effectLogLevels: Record<LogLevelName, LogLevel.LogLevel> = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None"
}

/** The Effect log level for a configured level name. */
export const toLogLevel = (name: LogLevelName): LogLevel.LogLevel => effectLogLevels[name]

/**
 * What a MaiKit that starts does with a component's processes that a killed MaiKit left running: `stop` them (the
 * stop signal to their group, then SIGKILL after the grace; the default, since nobody can see or type into a
 * terminal MaiKit no longer holds) or `adopt` them (shown `running`, without output until their next restart;
 * stop works on them). Never two copies of one component either way.
 */
export const OrphanRule = Schema.Literals(["stop", "adopt"])
export type OrphanRule = typeof OrphanRule.Type

const Port = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 }))
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonEmpty = Schema.String.check(Schema.isMinLength(1))

/** The decoded configuration. `accessToken` is redacted so it never reaches a log line by accident. */
export interface Settings {
  readonly dataDir: string
  readonly host: string
  readonly port: number
  readonly accessToken: Option.Option<Redacted.Redacted<string>>
  readonly logLevel: LogLevelName
  readonly logDir: string
  readonly logRetentionDays: number
  readonly maxBodyBytes: number
  /** The control plane's database: `postgres://…` for PostgreSQL; unset means the SQLite file in `dataDir`. */
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  /** What to do at start with processes a killed MaiKit left running. Default `stop`. */
  readonly orphans: OrphanRule
}

/** What callers may override explicitly, e.g. from `maikit serve --port 8080`. */
export interface Overrides {
  readonly dataDir?: string | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly accessToken?: string | undefined
  readonly logLevel?: string | undefined
  readonly configFile?: string | undefined
}

interface KeySpec {
  readonly key: keyof Settings
  readonly toml: string
  readonly env: string
  readonly schema: Schema.Top & Schema.ConstraintDecoder<unknown>
  readonly fromString: (raw: string) => unknown
}

const asNumber = (raw: string): unknown => (raw.trim() === "" ? raw : Number(raw))
const asString = (raw: string): unknown => raw

const keys: ReadonlyArray<KeySpec> = [
  { key: "dataDir", toml: "data_dir", env: "MAIKIT_DATA_DIR", schema: NonEmpty, fromString: asString },
  { key: "host", toml: "host", env: "MAIKIT_HOST", schema: NonEmpty, fromString: asString },
  { key: "port", toml: "port", env: "MAIKIT_PORT", schema: Port, fromString: asNumber },
  { key: "accessToken", toml: "access_token", env: "MAIKIT_TOKEN", schema: NonEmpty, fromString: asString },
  {
    key: "logLevel",
    toml: "log_level",
    env: "MAIKIT_LOG_LEVEL",
    schema: LogLevelName,
    fromString: (raw) => raw.trim().toLowerCase()
  },
  { key: "logDir", toml: "log_dir", env: "MAIKIT_LOG_DIR", schema: NonEmpty, fromString: asString },
  {
    key: "logRetentionDays",
    toml: "log_retention_days",
    env: "MAIKIT_LOG_RETENTION_DAYS",
    schema: PositiveInt,
    fromString: asNumber
  },
  { key: "maxBodyBytes", toml: "max_body_bytes", env: "MAIKIT_MAX_BODY_BYTES", schema: PositiveInt, fromString: asNumber },
  { key: "databaseUrl", toml: "database_url", env: "DATABASE_URL", schema: NonEmpty, fromString: asString },
  {
    key: "orphans",
    toml: "orphans",
    env: "MAIKIT_ORPHANS",
    schema: OrphanRule,
    fromString: (raw) => raw.trim().toLowerCase()
  }
]

export const defaultPort = 23456
export const defaultHost = "127.0.0.1"
export const defaultMaxBodyBytes = 1024 * 1024
export const configFileEnv = "MAIKIT_CONFIG"
export const defaultConfigFileName = "maikit.toml"

const formatIssue = SchemaIssue.makeFormatterDefault()

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1 and `localhost`. */
export const isLoopbackHost = (host: string): boolean => {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  return bare === "localhost" || bare === "::1" || /^127(?:\.\d{1,3}){3}$/.test(bare) ||
    /^::ffff:127(?:\.\d{1,3}){3}$/i.test(bare)
}

export interface LoadOptions {
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly overrides?: Overrides
}

const readConfigFile = (
  file: string,
  explicit: boolean
): Effect.Effect<Readonly<Record<string, unknown>>, MaikitConfigError> =>
  Effect.suspend(() => {
    if (!Fs.existsSync(file)) {
      return explicit
        ? Effect.fail(
          MaikitConfigError.of(configFileEnv, "environment", `config file not found: ${file}`)
        )
        : Effect.succeed({})
    }
    return Effect.try({
      try: () => parseToml(Fs.readFileSync(file, "utf8")) as Record<string, unknown>,
      catch: (cause) =>
        MaikitConfigError.of(
          Path.basename(file),
          file,
          `invalid TOML: ${cause instanceof Error ? cause.message : String(cause)}`
        )
    })
  })

/**
 * Resolves the settings from defaults, the TOML file, the environment and the overrides. Unknown keys in the
 * file are rejected (a typo must not silently fall back to a default).
 */
export const load = Effect.fnUntraced(function*(options: LoadOptions = {}) {
  const cwd = options.cwd ?? process.cwd()
  const env = options.env ?? process.env
  const overrides = options.overrides ?? {}
  const explicitFile = overrides.configFile ?? env[configFileEnv]
  const file = Path.resolve(cwd, explicitFile ?? defaultConfigFileName)
  const fromFile = yield* readConfigFile(file, explicitFile !== undefined)

  const known = new Set(keys.map((spec) => spec.toml))
  for (const name of Object.keys(fromFile)) {
    if (!known.has(name)) {
      return yield* MaikitConfigError.of(name, file, `unknown key (known keys: ${[...known].join(", ")})`)
    }
  }

  const explicit: Partial<Record<keyof Settings, unknown>> = {
    dataDir: overrides.dataDir,
    host: overrides.host,
    port: overrides.port,
    accessToken: overrides.accessToken,
    logLevel: overrides.logLevel?.trim().toLowerCase()
  }

  const resolved: Partial<Record<keyof Settings, unknown>> = {}
  for (const spec of keys) {
    let value: unknown
    let source: string
    let name: string
    if (explicit[spec.key] !== undefined) {
      value = explicit[spec.key]
      source = "command line"
      name = spec.toml
    } else if (env[spec.env] !== undefined) {
      value = spec.fromString(env[spec.env] as string)
      source = "environment"
      name = spec.env
    } else if (fromFile[spec.toml] !== undefined) {
      value = fromFile[spec.toml]
      source = file
      name = spec.toml
    } else {
      continue
    }
    const exit = Schema.decodeUnknownExit(spec.schema)(value)
    if (Exit.isFailure(exit)) {
      const detail = exit.cause.reasons.flatMap((reason) =>
        reason._tag === "Fail" ? [formatIssue(reason.error.issue)] : []
      ).join("; ")
      return yield* MaikitConfigError.of(name, source, `invalid value ${JSON.stringify(value)}: ${detail}`)
    }
    resolved[spec.key] = exit.value
  }

  const dataDir = Path.resolve(cwd, (resolved.dataDir as string | undefined) ?? "data")
  const token = resolved.accessToken as string | undefined
  const databaseUrl = resolved.databaseUrl as string | undefined
  const settings: Settings = {
    dataDir,
    host: (resolved.host as string | undefined) ?? defaultHost,
    port: (resolved.port as number | undefined) ?? defaultPort,
    accessToken: token === undefined ? Option.none() : Option.some(Redacted.make(token)),
    logLevel: (resolved.logLevel as LogLevelName | undefined) ?? "info",
    logDir: Path.resolve(dataDir, (resolved.logDir as string | undefined) ?? "logs"),
    logRetentionDays: (resolved.logRetentionDays as number | undefined) ?? 7,
    maxBodyBytes: (resolved.maxBodyBytes as number | undefined) ?? defaultMaxBodyBytes,
    databaseUrl: databaseUrl === undefined ? Option.none() : Option.some(Redacted.make(databaseUrl)),
    orphans: (resolved.orphans as OrphanRule | undefined) ?? "stop"
  }
  yield* requireTokenBeyondLoopback(settings)
  return settings
})

/** Binding beyond loopback exposes routes that run commands on this host, so it needs an access token. */
export const requireTokenBeyondLoopback = (settings: Pick<Settings, "host" | "accessToken">) =>
  isLoopbackHost(settings.host) || Option.isSome(settings.accessToken)
    ? Effect.void
    : Effect.fail(
      MaikitConfigError.of(
        "host",
        "settings",
        `refusing to listen on ${settings.host} without an access token: ` +
          `set MAIKIT_TOKEN, access_token in ${defaultConfigFileName} or --token, or bind to 127.0.0.1`
      )
    )

export class MaikitConfig extends Context.Service<MaikitConfig, Settings>()("@maikit/core/MaikitConfig") {
  /** Loads from the process environment and `./maikit.toml`, failing start-up on a bad value. */
  static readonly layer = (options: LoadOptions = {}): Layer.Layer<MaikitConfig, MaikitConfigError> =>
    Layer.effect(MaikitConfig, load(options))

  /** Fixed settings (tests, embedding hosts that own their configuration). */
  static readonly layerFrom = (settings: Partial<Settings> & Pick<Settings, "dataDir">): Layer.Layer<MaikitConfig> =>
    Layer.succeed(MaikitConfig, {
      host: defaultHost,
      port: defaultPort,
      accessToken: Option.none(),
      logLevel: "info",
      logDir: Path.join(settings.dataDir, "logs"),
      logRetentionDays: 7,
      maxBodyBytes: defaultMaxBodyBytes,
      databaseUrl: Option.none(),
      orphans: "stop",
      ...settings
    })
}
