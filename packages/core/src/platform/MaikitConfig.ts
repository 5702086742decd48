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

/**
 * A name a server answers for beyond loopback (the `Host` allow-list): `maikit.lan`, `192.168.1.5`, `[fe80::1]`,
 * `.example.com` (it and its subdomains), `*.example.com` (its subdomains) or `*` (any name).
 */
export const AllowedHost = Schema.String.check(
  Schema.isPattern(/^(?:\*|(?:\*?\.)?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[?[0-9A-Fa-f:.]+\]?)$/, {
    message: "expected a host name or address, .example.com, *.example.com or *"
  })
)

/** `scheme://host[:port]` of a web page, `:*` for any port (`http://localhost:*`). */
export const originPattern = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-f:.]+\]|[^/:?#\s[\]]+)(?::(\d{1,5}|\*))?\/?$/i

/** An origin whose pages may call MaiKit from a browser (CORS with credentials, writes, WebSockets). */
export const AllowedOrigin = Schema.String.check(
  Schema.isPattern(originPattern, { message: "expected an origin such as http://localhost:5173 or http://localhost:*" })
)

/**
 * The launcher's real clients: its Vue front end from any loopback origin (the Vite dev server, a static
 * server) and its Tauri shell. Pages served by MaiKit itself are same-origin and always allowed.
 */
export const defaultAllowedOrigins: ReadonlyArray<string> = [
  "http://localhost:*",
  "http://127.0.0.1:*",
  "http://[::1]:*",
  "https://localhost:*",
  "https://127.0.0.1:*",
  "https://[::1]:*",
  "tauri://localhost",
  "http://tauri.localhost",
  "https://tauri.localhost"
]

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
  /**
   * The control plane's database: `postgres://…` for PostgreSQL, `mysql://…` or `mysql+aiomysql://…` for MySQL and
   * MariaDB (also built from seed 003's `DATABASE_HOST`, … variables, see `databaseUrlFromParts`); unset means the
   * SQLite file in `dataDir`.
   */
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  /** `Host` names answered beyond loopback and the bound address (`AllowedHost`). Default none. */
  readonly allowedHosts: ReadonlyArray<string>
  /** Origins whose pages may call every route (`AllowedOrigin`). Default `defaultAllowedOrigins`. */
  readonly allowedOrigins: ReadonlyArray<string>
  /** Where the Deployer clones MaiBot from, tried in order: git URLs or local paths. */
  readonly maibotRemotes: ReadonlyArray<string>
  /** Where the Deployer clones the NapCat adapter from, tried in order. */
  readonly adapterRemotes: ReadonlyArray<string>
  /** pip's index for deploys (`--index-url`); unset means pip's own default (PyPI, or `PIP_INDEX_URL`). */
  readonly pipIndexUrl: Option.Option<string>
  readonly pipExtraIndexUrls: ReadonlyArray<string>
  readonly pipTrustedHosts: ReadonlyArray<string>
  /** Tags below this `major.minor.patch` are not offered (the 0.5 layout has no templates). */
  readonly maibotMinVersion: string
  /** NapCat's release archive (URL or local zip / tar.gz) and, optionally, its SHA-256. */
  readonly napcatArchive: Option.Option<string>
  readonly napcatSha256: Option.Option<string>
  /** How long `git ls-remote`'s answer is reused. */
  readonly catalogTtlSeconds: number
  /** The Python deploys use; unset means the newest `python3.x` on PATH that the tree's `requires-python` accepts. */
  readonly python: Option.Option<string>
  /** Earlier versions kept per bot config file when MaiKit edits it. */
  readonly configVersions: number
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
  readonly allowedHosts?: ReadonlyArray<string> | undefined
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
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
/** `a, b,c` as a list (how environment variables carry `allowed_hosts` and `allowed_origins`); `""` is none. */
export const splitList = (raw: string): Array<string> =>
  raw.split(",").map((item) => item.trim()).filter((item) => item !== "")
const asList = (raw: string): unknown => splitList(raw)
/** A list in TOML, or a comma-separated string (as the environment gives it). */
const StringList = Schema.Union([Schema.Array(NonEmpty), Schema.String])
const listOf = (value: unknown): ReadonlyArray<string> | undefined =>
  value === undefined ? undefined : typeof value === "string" ? (asList(value) as Array<string>) : (value as ReadonlyArray<string>)
const Version = Schema.String.check(Schema.isPattern(/^\d+\.\d+\.\d+/))

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
    key: "allowedHosts",
    toml: "allowed_hosts",
    env: "MAIKIT_ALLOWED_HOSTS",
    schema: Schema.Array(AllowedHost),
    fromString: asList
  },
  {
    key: "allowedOrigins",
    toml: "allowed_origins",
    env: "MAIKIT_ALLOWED_ORIGINS",
    schema: Schema.Array(AllowedOrigin),
    fromString: asList
  },
  { key: "maibotRemotes", toml: "maibot_remotes", env: "MAIKIT_MAIBOT_REMOTES", schema: StringList, fromString: asList },
  { key: "adapterRemotes", toml: "adapter_remotes", env: "MAIKIT_ADAPTER_REMOTES", schema: StringList, fromString: asList },
  { key: "pipIndexUrl", toml: "pip_index_url", env: "MAIKIT_PIP_INDEX_URL", schema: NonEmpty, fromString: asString },
  {
    key: "pipExtraIndexUrls",
    toml: "pip_extra_index_urls",
    env: "MAIKIT_PIP_EXTRA_INDEX_URLS",
    schema: StringList,
    fromString: asList
  },
  { key: "pipTrustedHosts", toml: "pip_trusted_hosts", env: "MAIKIT_PIP_TRUSTED_HOSTS", schema: StringList, fromString: asList },
  { key: "maibotMinVersion", toml: "maibot_min_version", env: "MAIKIT_MAIBOT_MIN_VERSION", schema: Version, fromString: asString },
  { key: "napcatArchive", toml: "napcat_archive", env: "MAIKIT_NAPCAT_ARCHIVE", schema: NonEmpty, fromString: asString },
  {
    key: "napcatSha256",
    toml: "napcat_sha256",
    env: "MAIKIT_NAPCAT_SHA256",
    schema: Schema.String.check(Schema.isPattern(/^[0-9a-fA-F]{64}$/)),
    fromString: asString
  },
  {
    key: "catalogTtlSeconds",
    toml: "catalog_ttl_seconds",
    env: "MAIKIT_CATALOG_TTL_SECONDS",
    schema: PositiveInt,
    fromString: asNumber
  },
  { key: "python", toml: "python", env: "MAIKIT_PYTHON", schema: NonEmpty, fromString: asString },
  {
    key: "configVersions",
    toml: "config_versions",
    env: "MAIKIT_CONFIG_VERSIONS",
    schema: PositiveInt,
    fromString: asNumber
  },
  {
    key: "orphans",
    toml: "orphans",
    env: "MAIKIT_ORPHANS",
    schema: OrphanRule,
    fromString: (raw) => raw.trim().toLowerCase()
  }
]

/** MaiBot's repository, then the Gitee mirror the original launcher fell back to. */
export const defaultMaibotRemotes: ReadonlyArray<string> = [
  "https://github.com/Mai-with-u/MaiBot",
  "https://gitee.com/DrSmooth/MaiBot"
]
export const defaultAdapterRemotes: ReadonlyArray<string> = [
  "https://github.com/Mai-with-u/MaiBot-Napcat-Adapter",
  "https://gitee.com/DrSmooth/MaiBot-Napcat-Adapter"
]
export const defaultMaibotMinVersion = "0.6.0"
/** NapCat's newest Shell release, as the Tauri launcher downloads it. */
export const defaultNapcatArchive = "https://github.com/NapNeko/NapCatQQ/releases/latest/download/NapCat.Shell.zip"
export const defaultCatalogTtlSeconds = 3600

const optionOf = (value: unknown): Option.Option<string> => Option.fromNullishOr(value as string | undefined)

const deployDefaults = {
  maibotRemotes: defaultMaibotRemotes,
  adapterRemotes: defaultAdapterRemotes,
  pipIndexUrl: Option.none(),
  pipExtraIndexUrls: [],
  pipTrustedHosts: [],
  maibotMinVersion: defaultMaibotMinVersion,
  napcatArchive: Option.some(defaultNapcatArchive),
  napcatSha256: Option.none(),
  catalogTtlSeconds: defaultCatalogTtlSeconds,
  python: Option.none()
} satisfies Partial<Settings>

export const defaultPort = 23456
export const defaultHost = "127.0.0.1"
export const defaultMaxBodyBytes = 1024 * 1024
export const defaultConfigVersions = 20
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

/** loguru's level names, which MaiLauncher's `[debug] level` takes, as MaiKit's. */
const loguruLevels: Readonly<Record<string, LogLevelName>> = {
  TRACE: "trace",
  DEBUG: "debug",
  INFO: "info",
  SUCCESS: "info",
  WARNING: "warn",
  ERROR: "error",
  CRITICAL: "fatal"
}

/** MaiLauncher's own settings (seed 001's `config.toml`) and what each becomes in MaiKit. */
const launcherTables: Readonly<Record<string, Readonly<Record<string, string | undefined>>>> = {
  server: { host: "host", port: "port", api_prefix: undefined },
  debug: { level: "log_level" },
  inner: { version: undefined }
}

/**
 * Seed 001's launcher `config.toml` (`[server] host, port, api_prefix`, `[debug] level`, `[inner] version`)
 * mapped onto MaiKit's flat keys, with a line that names each equivalent. `api_prefix` can only be `/api/v1`,
 * where MaiKit serves the launcher; `[inner] version` describes the file itself and is ignored.
 */
const fromLauncherConfig = (
  fromFile: Readonly<Record<string, unknown>>,
  file: string
): Effect.Effect<Readonly<Record<string, unknown>>, MaikitConfigError> =>
  Effect.gen(function*() {
    const tables = Object.keys(fromFile).filter((name) => name in launcherTables)
    if (tables.length === 0) return fromFile
    const flat: Record<string, unknown> = {}
    const notes: Array<string> = []
    for (const [name, value] of Object.entries(fromFile)) {
      const table = launcherTables[name]
      if (table === undefined) {
        flat[name] = value
        continue
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return yield* MaikitConfigError.of(name, file, "expected a table, as MaiLauncher's config.toml has")
      }
      for (const [key, setting] of Object.entries(value)) {
        if (!(key in table)) {
          return yield* MaikitConfigError.of(`${name}.${key}`, file, `unknown key (known in [${name}]: ${Object.keys(table).join(", ")})`)
        }
        const target = table[key]
        if (name === "server" && key === "api_prefix") {
          if (typeof setting !== "string" || setting.replace(/\/+$/, "") !== "/api/v1") {
            return yield* MaikitConfigError.of(
              "server.api_prefix",
              file,
              `invalid value ${JSON.stringify(setting)}: MaiKit serves the launcher under /api/v1 only, as its clients expect`
            )
          }
          continue
        }
        if (target === undefined) continue
        if (target in fromFile) {
          return yield* MaikitConfigError.of(`${name}.${key}`, file, `set twice: also as ${target}`)
        }
        const level = typeof setting === "string" ? loguruLevels[setting.trim().toUpperCase()] : undefined
        flat[target] = target === "log_level" && level !== undefined ? level : setting
        notes.push(`[${name}] ${key} → ${target}`)
      }
    }
    yield* Effect.logInfo(
      `${file} is MaiLauncher's config.toml; read as MaiKit settings: ${notes.join(", ") || "nothing to map"}` +
        " (api_prefix is always /api/v1; [inner] is ignored)"
    )
    return flat
  })

/**
 * Seed 003's way of naming its MySQL database without a URL: `DATABASE_HOST` (default `localhost`), `DATABASE_PORT`
 * (default 3306), `DATABASE_USER`, `DATABASE_PASSWORD` and `DATABASE_NAME`, used when `DATABASE_URL` is absent and
 * `DATABASE_HOST` or `DATABASE_NAME` is set. The parts are percent-encoded into a `mysql://` URL.
 */
export const databaseUrlFromParts = (env: Readonly<Record<string, string | undefined>>): string | undefined => {
  const part = (name: string) => {
    const value = env[name]?.trim()
    return value === undefined || value === "" ? undefined : value
  }
  const host = part("DATABASE_HOST")
  const name = part("DATABASE_NAME")
  if (host === undefined && name === undefined) return undefined
  const user = part("DATABASE_USER")
  const password = env["DATABASE_PASSWORD"]
  const credentials = user === undefined
    ? ""
    : `${encodeURIComponent(user)}${password === undefined || password === "" ? "" : `:${encodeURIComponent(password)}`}@`
  const address = (host ?? "localhost").includes(":") ? `[${host}]` : host ?? "localhost"
  return `mysql://${credentials}${address}:${part("DATABASE_PORT") ?? "3306"}/${encodeURIComponent(name ?? "")}`
}

/**
 * Resolves the settings from defaults, the TOML file, the environment and the overrides. Unknown keys in the
 * file are rejected (a typo must not silently fall back to a default). The file may also be seed 001's
 * MaiLauncher `config.toml`, whose tables are mapped onto MaiKit's keys.
 */
export const load = Effect.fnUntraced(function*(options: LoadOptions = {}) {
  const cwd = options.cwd ?? process.cwd()
  const env = options.env ?? process.env
  const overrides = options.overrides ?? {}
  const explicitFile = overrides.configFile ?? env[configFileEnv]
  const file = Path.resolve(cwd, explicitFile ?? defaultConfigFileName)
  const fromFile = yield* Effect.flatMap(readConfigFile(file, explicitFile !== undefined), (read) => fromLauncherConfig(read, file))

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
    logLevel: overrides.logLevel?.trim().toLowerCase(),
    allowedHosts: overrides.allowedHosts,
    allowedOrigins: overrides.allowedOrigins
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
    resolved[spec.key] = yield* decodeSetting(spec.schema, value, name, source)
  }

  const dataDir = Path.resolve(cwd, (resolved.dataDir as string | undefined) ?? "data")
  const token = resolved.accessToken as string | undefined
  const databaseUrl = (resolved.databaseUrl as string | undefined) ?? databaseUrlFromParts(env)
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
    allowedHosts: (resolved.allowedHosts as ReadonlyArray<string> | undefined) ?? [],
    allowedOrigins: (resolved.allowedOrigins as ReadonlyArray<string> | undefined) ?? defaultAllowedOrigins,
    maibotRemotes: listOf(resolved.maibotRemotes) ?? deployDefaults.maibotRemotes,
    adapterRemotes: listOf(resolved.adapterRemotes) ?? deployDefaults.adapterRemotes,
    pipIndexUrl: optionOf(resolved.pipIndexUrl),
    pipExtraIndexUrls: listOf(resolved.pipExtraIndexUrls) ?? [],
    pipTrustedHosts: listOf(resolved.pipTrustedHosts) ?? [],
    maibotMinVersion: (resolved.maibotMinVersion as string | undefined) ?? deployDefaults.maibotMinVersion,
    napcatArchive: resolved.napcatArchive === undefined ? deployDefaults.napcatArchive : optionOf(resolved.napcatArchive),
    napcatSha256: optionOf(resolved.napcatSha256),
    catalogTtlSeconds: (resolved.catalogTtlSeconds as number | undefined) ?? deployDefaults.catalogTtlSeconds,
    python: optionOf(resolved.python),
    configVersions: (resolved.configVersions as number | undefined) ?? defaultConfigVersions,
    orphans: (resolved.orphans as OrphanRule | undefined) ?? "stop"
  }
  yield* requireTokenBeyondLoopback(settings)
  return settings
})

/**
 * Decodes one setting as `load` does, for commands that take it outside `load` (`maikit light serve`): a bad
 * value fails with the name the user wrote and where it came from.
 */
export const decodeSetting = <S extends Schema.Top & Schema.ConstraintDecoder<unknown>>(
  schema: S,
  value: unknown,
  name: string,
  source: string
): Effect.Effect<S["Type"], MaikitConfigError> => {
  const exit = Schema.decodeUnknownExit(schema)(value)
  if (Exit.isSuccess(exit)) return Effect.succeed(exit.value)
  const detail = exit.cause.reasons.flatMap((reason) => reason._tag === "Fail" ? [formatIssue(reason.error.issue)] : [])
    .join("; ")
  return Effect.fail(MaikitConfigError.of(name, source, `invalid value ${JSON.stringify(value)}: ${detail}`))
}

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
      allowedHosts: [],
      allowedOrigins: defaultAllowedOrigins,
      ...deployDefaults,
      configVersions: defaultConfigVersions,
      orphans: "stop",
      ...settings
    })
}
