/**
 * A MaiBot instance's config files — `config/bot_config.toml`, `config/model_config.toml`,
 * `config/lpmm_config.toml`, `.env` and the NapCat adapter's `config.toml` — read as JSON or text and edited
 * without losing anything the edit did not touch. A write patches the existing document (comments, order,
 * blank lines and quoting of untouched parts stay byte for byte), checks each written value's type against the
 * file's template (0.x) or the file itself (1.x has no templates), keeps the replaced version, and replaces the
 * file atomically. Reads carry a version; a write naming a stale one is refused instead of overwriting someone
 * else's edit. With `BotDatabase`, this is the architecture's ResourceStore.
 */
import { Clock, Context, Effect, Layer, Result, Schema, Semaphore } from "effect"
import { createTwoFilesPatch } from "diff"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { MaikitConfig } from "../platform/MaikitConfig.ts"
import {
  ConfigFileError,
  ConfigFileInvalid,
  ConfigFileNotFound,
  ConfigPathEscapes,
  ConfigValueInvalid,
  ConfigVersionConflict,
  ConfigVersionNotFound
} from "./BotConfigFilesError.ts"
import { InstanceRegistry } from "./InstanceRegistry.ts"
import type { InstanceNotFound, InstanceRegistryError } from "./InstanceRegistryError.ts"
import { writeAtomic } from "./internal/atomicFile.ts"
import * as BotLayout from "./internal/botLayout.ts"
import * as History from "./internal/configHistory.ts"
import * as Dotenv from "./internal/dotenv.ts"
import * as Toml from "./internal/tomlDocument.ts"

export {
  ConfigFileError,
  ConfigFileInvalid,
  ConfigFileNotFound,
  ConfigPathEscapes,
  ConfigValueInvalid,
  ConfigVersionConflict,
  ConfigVersionNotFound
} from "./BotConfigFilesError.ts"

export const ConfigFile = Schema.Literals(["bot", "model", "lpmm", "env", "adapter"])
export type ConfigFile = typeof ConfigFile.Type

export const Generation = Schema.Literals(["0.x", "1.x", "unknown"])
export type Generation = typeof Generation.Type

/** Where a file is and what it is checked against. */
export interface Location {
  readonly instanceId: string
  readonly file: ConfigFile
  /** The file's real path (symlinks resolved). */
  readonly path: string
  /** The folder the file must stay inside: the instance's, or the registered adapter service's. */
  readonly root: string
  /** The template a missing file is created from and values are checked against; `null` when there is none. */
  readonly template: string | null
  readonly generation: Generation
}

export interface Snapshot extends Location {
  /** The content's version tag (16 hex digits of its SHA-256): the HTTP ETag. */
  readonly version: string
  readonly text: string
  /** TOML as JSON (datetimes as ISO strings), or the `.env` variables (`null` for a bare `KEY` line). */
  readonly data: Toml.JsonTable | Readonly<Record<string, string | null>>
  /** Whether this read created the file from its template (the adapter's config, as the original launcher did). */
  readonly created: boolean
}

export interface WriteOptions {
  /** The version the caller read; a different current version fails with `ConfigVersionConflict`. */
  readonly expectedVersion?: string | undefined
}

export interface WriteResult extends Location {
  readonly version: string
  /** The kept copy of what was replaced; `null` when nothing changed or there was no file before. */
  readonly saved: History.SavedVersion | null
  readonly changed: boolean
}

export interface VersionList {
  readonly current: string | null
  /** Newest first. */
  readonly versions: ReadonlyArray<History.SavedVersion>
}

export interface VersionDiff {
  readonly version: string
  readonly current: string | null
  /** A unified diff from the kept version to the current file. */
  readonly patch: string
}

export type LookupError = InstanceNotFound | InstanceRegistryError | ConfigPathEscapes | ConfigFileError
export type ReadError = LookupError | ConfigFileNotFound | ConfigFileInvalid
export type WriteError = LookupError | ConfigFileInvalid | ConfigValueInvalid | ConfigVersionConflict

export interface Service {
  readonly locate: (instanceId: string, file: ConfigFile) => Effect.Effect<Location, LookupError>
  readonly read: (instanceId: string, file: ConfigFile) => Effect.Effect<Snapshot, ReadError>
  /**
   * Makes the file hold `data` (JSON as `read` returns it): a TOML file is patched, a `.env` edited line by line.
   * Keys `data` lacks are removed. A missing file is started from its template, or empty.
   */
  readonly write: (
    instanceId: string,
    file: ConfigFile,
    data: unknown,
    options?: WriteOptions
  ) => Effect.Effect<WriteResult, WriteError>
  /** Replaces the file with `text`, which must parse and pass the same type checks. */
  readonly writeText: (
    instanceId: string,
    file: ConfigFile,
    text: string,
    options?: WriteOptions
  ) => Effect.Effect<WriteResult, WriteError>
  readonly versions: (instanceId: string, file: ConfigFile) => Effect.Effect<VersionList, LookupError>
  readonly version: (
    instanceId: string,
    file: ConfigFile,
    id: string
  ) => Effect.Effect<{ readonly id: string; readonly text: string }, LookupError | ConfigVersionNotFound>
  readonly diff: (
    instanceId: string,
    file: ConfigFile,
    id: string
  ) => Effect.Effect<VersionDiff, LookupError | ConfigVersionNotFound>
  /** Writes a kept version back (keeping the current one first, like any write). */
  readonly restore: (
    instanceId: string,
    file: ConfigFile,
    id: string,
    options?: WriteOptions
  ) => Effect.Effect<WriteResult, WriteError | ConfigVersionNotFound>
}

export interface Options {
  /** Where replaced versions are kept. Default `<dataDir>/config-history`. */
  readonly historyDir?: string | undefined
  /** Versions kept per file. Default `MaikitConfig.configVersions` (20). */
  readonly keepVersions?: number | undefined
}

const relativePaths: Readonly<Record<Exclude<ConfigFile, "adapter">, string>> = {
  bot: "config/bot_config.toml",
  model: "config/model_config.toml",
  lpmm: "config/lpmm_config.toml",
  env: ".env"
}

const templatePaths: Readonly<Record<Exclude<ConfigFile, "adapter">, string>> = {
  bot: "template/bot_config_template.toml",
  model: "template/model_config_template.toml",
  lpmm: "template/lpmm_config_template.toml",
  env: "template/template.env"
}

/** The adapter service as the original client and the deployer register it. */
const adapterServiceNames = new Set(["napcat-ada", "napcat-adapter", "adapter"])

/** Config files are a few KiB; anything far larger is not one of them. */
const maxFileBytes = 4 * 1024 * 1024

const errnoOf = (cause: unknown): string | undefined => (cause as NodeJS.ErrnoException | undefined)?.code

const reasonOf = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const fileError = (location: Pick<Location, "instanceId" | "file" | "path">, operation: ConfigFileError["operation"]) =>
(cause: unknown) =>
  new ConfigFileError({
    instanceId: location.instanceId,
    file: location.file,
    path: location.path,
    operation,
    reason: reasonOf(cause),
    cause
  })

const invalid = (location: Location, problem: Toml.SyntaxProblem) =>
  new ConfigFileInvalid({
    instanceId: location.instanceId,
    file: location.file,
    path: location.path,
    line: problem.line,
    column: problem.column,
    reason: problem.message
  })

const valueInvalid = (location: Location, key: string, reason: string) =>
  new ConfigValueInvalid({ instanceId: location.instanceId, file: location.file, path: location.path, key, reason })

/**
 * The file's text, or `undefined` when it does not exist. Read synchronously, as a write's other small steps are
 * (see `atomicFile`); opened non-blocking, so a FIFO where a config file should be cannot hang the thread.
 */
const readText = (location: Location, path: string = location.path) =>
  Effect.try({
    try: () => {
      let handle: number
      try {
        handle = Fs.openSync(path, Fs.constants.O_RDONLY | Fs.constants.O_NONBLOCK)
      } catch (cause) {
        if (errnoOf(cause) === "ENOENT") return undefined
        throw cause
      }
      try {
        const stat = Fs.fstatSync(handle)
        if (!stat.isFile()) throw new Error("not a regular file")
        if (stat.size > maxFileBytes) throw new Error(`larger than ${maxFileBytes} bytes`)
        return Fs.readFileSync(handle, "utf8")
      } finally {
        Fs.closeSync(handle)
      }
    },
    catch: fileError(location, "read")
  })

const parseToml = (location: Location, text: string) =>
  Result.match(Toml.parse(text), {
    onFailure: (problem) => Effect.fail(invalid(location, problem)),
    onSuccess: Effect.succeed
  })

/** Creates a missing file from its template (the adapter's on read, as the original launcher did). */
const createFromTemplate = (location: Location) =>
  Effect.gen(function*() {
    const text = location.template === null ? undefined : yield* readText(location, location.template)
    if (text === undefined) return undefined
    yield* Effect.tryPromise({ try: () => writeAtomic(location.path, text), catch: fileError(location, "write") })
    return text
  })

export const make = Effect.fnUntraced(function*(settings: Options = {}) {
  const registry = yield* InstanceRegistry
  const config = yield* MaikitConfig
  const historyRoot = Path.resolve(settings.historyDir ?? Path.join(config.dataDir, "config-history"))
  const keep = Math.max(1, settings.keepVersions ?? config.configVersions)
  const locks = new Map<string, Semaphore.Semaphore>()
  // The last parsed document per file: a read followed by a write (what every client does) parses once, and
  // a write's read-back check leaves the next read its document.
  const documents = new Map<string, { readonly version: string; readonly document: Toml.Document }>()
  const templates = new Map<string, { readonly stamp: string; readonly document: Toml.Document }>()

  const withLock = (path: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    let lock = locks.get(path)
    if (lock === undefined) {
      lock = Semaphore.makeUnsafe(1)
      locks.set(path, lock)
    }
    return lock.withPermit(effect)
  }

  const locate = Effect.fn("BotConfigFiles.locate")(function*(instanceId: string, file: ConfigFile) {
    const instance = yield* registry.get(instanceId)
    const generation = yield* Effect.sync(() => BotLayout.detectGeneration(instance.path))
    let root = instance.path
    let path: string
    let template: string | null
    if (file === "adapter") {
      const service = instance.components.find((component) =>
        component.kind === "service" && adapterServiceNames.has(component.name)
      )
      const folder = service?.path ??
        (generation === "1.x" ? BotLayout.adapterPluginDir(instance.path) : BotLayout.adapterDefaultDir(instance.path))
      if (service !== undefined) root = service.path
      path = Path.join(folder, "config.toml")
      template = Path.join(folder, "template", "template_config.toml")
    } else {
      path = Path.join(instance.path, relativePaths[file])
      template = generation === "1.x" ? null : Path.join(instance.path, templatePaths[file])
    }
    const where = { instanceId, file, path }
    const confined = yield* Effect.try({
      try: () => BotLayout.confine(root, path),
      catch: fileError(where, "read")
    })
    if (!confined.inside) {
      return yield* new ConfigPathEscapes({ ...where, root, resolved: confined.real })
    }
    if (template !== null) {
      const confinedTemplate = yield* Effect.try({
        try: () => BotLayout.confine(root, template as string),
        catch: fileError(where, "read")
      })
      template = confinedTemplate.inside ? confinedTemplate.real : null
    }
    return { instanceId, file, path: confined.real, root, template, generation } satisfies Location
  })

  const documentOf = (location: Location, text: string, version: string = History.versionOf(text)) => {
    const cached = documents.get(location.path)
    if (cached?.version === version) return Effect.succeed(cached.document)
    return Effect.tap(parseToml(location, text), (document) => Effect.sync(() => documents.set(location.path, { version, document })))
  }

  const remember = (location: Location, document: Toml.Document) =>
    documents.set(location.path, { version: History.versionOf(document.text), document })

  const toData = (location: Location, text: string, version: string) =>
    location.file === "env"
      ? Effect.succeed(Dotenv.parse(text).values)
      : Effect.map(documentOf(location, text, version), (document) => document.value)

  /** The template as a type reference; a template that does not parse is no reference. */
  const templateDocument = (location: Location) =>
    Effect.gen(function*() {
      if (location.template === null || location.file === "env") return undefined
      const path = location.template
      const stat = yield* Effect.sync(() => {
        try {
          return Fs.statSync(path, { throwIfNoEntry: false })
        } catch {
          return undefined
        }
      })
      if (stat === undefined || !stat.isFile()) return undefined
      const stamp = `${stat.mtimeMs}:${stat.size}`
      const cached = templates.get(path)
      if (cached?.stamp === stamp) return cached.document
      const text = yield* readText(location, path)
      if (text === undefined) return undefined
      const parsed = Toml.parse(text)
      if (Result.isFailure(parsed)) return undefined
      templates.set(path, { stamp, document: parsed.success })
      return parsed.success
    })

  const read = Effect.fn("BotConfigFiles.read")(function*(instanceId: string, file: ConfigFile) {
    const location = yield* locate(instanceId, file)
    let text = yield* readText(location)
    let created = false
    if (text === undefined && file === "adapter") {
      text = yield* withLock(location.path)(createFromTemplate(location))
      created = text !== undefined
    }
    if (text === undefined) return yield* new ConfigFileNotFound({ instanceId, file, path: location.path, template: location.template })
    const version = History.versionOf(text)
    const data = yield* toData(location, text, version)
    return { ...location, version, text, data, created } satisfies Snapshot
  })

  /** The new text for `data` over `current` (the template, or nothing, when the file is missing). */
  const patched = (location: Location, current: string, data: unknown) =>
    Effect.gen(function*() {
      if (location.file === "env") {
        if (typeof data !== "object" || data === null || Array.isArray(data)) {
          return yield* valueInvalid(location, "(root)", "expected an object of variables")
        }
        return yield* Result.match(Dotenv.patch(Dotenv.parse(current), data as Record<string, string>), {
          onFailure: (problem) => Effect.fail(valueInvalid(location, problem.key, problem.message)),
          onSuccess: Effect.succeed
        })
      }
      if (typeof data !== "object" || data === null || Array.isArray(data)) {
        return yield* valueInvalid(location, "(root)", "expected a table (a JSON object)")
      }
      const problem = Toml.validateJson(data)
      if (problem !== undefined) return yield* valueInvalid(location, Toml.formatPath(problem.path), problem.message)
      const document = yield* documentOf(location, current)
      const next = data as Toml.JsonTable
      yield* checkTypes(location, document, Toml.diff(document, next))
      return yield* Result.match(Toml.patch(document, next), {
        onFailure: (failure) => Effect.fail(valueInvalid(location, Toml.formatPath(failure.path), failure.message)),
        onSuccess: (written) => Effect.sync(() => (remember(location, written), written.text))
      })
    })

  const checkTypes = (location: Location, document: Toml.Document, changes: ReadonlyArray<Toml.Change>) =>
    Effect.gen(function*() {
      const template = yield* templateDocument(location)
      const references: Array<Toml.TypeReference> = []
      if (template !== undefined) references.push({ document: template, source: "the template" })
      references.push({ document, source: "the current file" })
      const problem = Toml.checkChanges(changes, references)
      if (problem !== undefined) return yield* valueInvalid(location, Toml.formatPath(problem.path), problem.message)
    })

  /** Checks raw text: it must parse, and the values it changes must keep their types. */
  const checkedText = (location: Location, current: string, text: string) =>
    Effect.gen(function*() {
      if (text.includes("\u0000")) return yield* valueInvalid(location, "(file)", "the text contains a NUL character")
      if (location.file === "env") return text
      const document = yield* documentOf(location, current)
      const next = yield* parseToml(location, text)
      yield* checkTypes(location, document, Toml.diff(document, next.value))
      return text
    })

  /**
   * The common write: under the file's lock, check the version, compute the new text, keep the old file as a
   * version, replace the file atomically, prune old versions.
   */
  const replace = <E>(
    instanceId: string,
    file: ConfigFile,
    options: WriteOptions,
    next: (location: Location, current: string) => Effect.Effect<string, E>
  ) =>
    Effect.gen(function*() {
      const location = yield* locate(instanceId, file)
      return yield* withLock(location.path)(Effect.gen(function*() {
        const existing = yield* readText(location)
        const currentVersion = existing === undefined ? null : History.versionOf(existing)
        if (options.expectedVersion !== undefined && options.expectedVersion !== currentVersion) {
          return yield* new ConfigVersionConflict({
            instanceId,
            file,
            path: location.path,
            expected: options.expectedVersion,
            current: currentVersion
          })
        }
        const base = existing ??
          (location.template === null ? undefined : yield* readText(location, location.template)) ?? ""
        const text = yield* next(location, base)
        const version = History.versionOf(text)
        if (existing !== undefined && text === existing) {
          return { ...location, version, saved: null, changed: false } satisfies WriteResult
        }
        const now = yield* Clock.currentTimeMillis
        const kept = existing === undefined || currentVersion === null ? undefined : yield* Effect.try({
          try: () => History.save(historyRoot, instanceId, file, location.path, currentVersion, now),
          catch: fileError(location, "backup")
        })
        yield* Effect.tryPromise({ try: () => writeAtomic(location.path, text), catch: fileError(location, "write") }).pipe(
          Effect.tapError(() => kept === undefined ? Effect.void : Effect.sync(() => History.remove(kept.path)))
        )
        yield* Effect.try({
          try: () => History.prune(historyRoot, instanceId, file, keep),
          catch: fileError(location, "history")
        }).pipe(Effect.catch((error) => Effect.logWarning("could not prune kept config versions", error)))
        const saved = kept === undefined ? null : {
          id: kept.id,
          savedAt: kept.savedAt,
          version: currentVersion as string,
          size: Buffer.byteLength(existing as string)
        }
        return { ...location, version, saved, changed: true } satisfies WriteResult
      }))
    })

  const write = Effect.fn("BotConfigFiles.write")(function*(
    instanceId: string,
    file: ConfigFile,
    data: unknown,
    options: WriteOptions = {}
  ) {
    return yield* replace(instanceId, file, options, (location, current) => patched(location, current, data))
  })

  const writeText = Effect.fn("BotConfigFiles.writeText")(function*(
    instanceId: string,
    file: ConfigFile,
    text: string,
    options: WriteOptions = {}
  ) {
    return yield* replace(instanceId, file, options, (location, current) => checkedText(location, current, text))
  })

  const versions = Effect.fn("BotConfigFiles.versions")(function*(instanceId: string, file: ConfigFile) {
    const location = yield* locate(instanceId, file)
    const current = yield* readText(location)
    const kept = yield* Effect.tryPromise({
      try: () => History.list(historyRoot, instanceId, file),
      catch: fileError(location, "history")
    })
    return { current: current === undefined ? null : History.versionOf(current), versions: kept } satisfies VersionList
  })

  const keptVersion = (location: Location, id: string) =>
    Effect.tryPromise({
      try: () => History.read(historyRoot, location.instanceId, location.file, id),
      catch: fileError(location, "history")
    }).pipe(Effect.flatMap((text) =>
      text === undefined
        ? Effect.fail(new ConfigVersionNotFound({ instanceId: location.instanceId, file: location.file, path: location.path, version: id }))
        : Effect.succeed(text)
    ))

  const version = Effect.fn("BotConfigFiles.version")(function*(instanceId: string, file: ConfigFile, id: string) {
    const location = yield* locate(instanceId, file)
    return { id, text: yield* keptVersion(location, id) }
  })

  const diff = Effect.fn("BotConfigFiles.diff")(function*(instanceId: string, file: ConfigFile, id: string) {
    const location = yield* locate(instanceId, file)
    const kept = yield* keptVersion(location, id)
    const current = yield* readText(location)
    const name = Path.basename(location.path)
    return {
      version: id,
      current: current === undefined ? null : History.versionOf(current),
      patch: createTwoFilesPatch(`${name}@${id}`, `${name} (current)`, kept, current ?? "")
    } satisfies VersionDiff
  })

  const restore = Effect.fn("BotConfigFiles.restore")(function*(
    instanceId: string,
    file: ConfigFile,
    id: string,
    options: WriteOptions = {}
  ) {
    return yield* replace(instanceId, file, options, (location) => keptVersion(location, id))
  })

  return { locate, read, write, writeText, versions, version, diff, restore } satisfies Service
})

export class BotConfigFiles extends Context.Service<BotConfigFiles, Service>()("@maikit/core/BotConfigFiles") {
  /** Needs the instance registry and the configuration (for `dataDir` and the number of versions kept). */
  static readonly layer = (
    options: Options = {}
  ): Layer.Layer<BotConfigFiles, never, InstanceRegistry | MaikitConfig> => Layer.effect(BotConfigFiles, make(options))
}
