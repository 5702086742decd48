/**
 * What `maikit config …` does (the definitions are in `commands/config.ts`): the same steps on the local
 * `BotConfigFiles` or on a server's config routes, both seen through `Files`.
 */
import type * as CliError from "effect/cli/CliError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { BotConfigFiles, InstanceRegistry } from "@maikit/core/launcher"
import { Database } from "@maikit/core/platform"
import { LauncherClient, LauncherResourcesClient } from "@maikit/http-adapter/launcher"
import type * as Commands from "../commands/config.ts"
import type { Input } from "../commands/flags.ts"
import { onDatabase, settings } from "./local.ts"
import { asUserError, fail } from "./output.ts"
import { given, onServer, worded } from "./remote.ts"

type File = BotConfigFiles.ConfigFile
type Failing<A> = Effect.Effect<A, CliError.UserError>

interface Saved {
  readonly id: string
  readonly savedAt: string
  readonly version: string
  readonly size: number
}

/** One instance's config files, wherever they are. */
interface Files {
  readonly read: (file: File) => Failing<{ readonly path: string; readonly version: string; readonly data: unknown }>
  readonly text: (file: File) => Failing<string>
  readonly write: (
    file: File,
    data: Record<string, unknown>,
    expectedVersion: string
  ) => Failing<{ readonly changed: boolean; readonly saved: Saved | null }>
  readonly versions: (file: File) => Failing<{ readonly current: string | null; readonly versions: ReadonlyArray<Saved> }>
  readonly diff: (file: File, version: string) => Failing<string>
  readonly restore: (file: File, version: string) => Failing<{ readonly path: string; readonly saved: Saved | null }>
}

/** An id, or the name of exactly one instance. */
const resolve = (instances: ReadonlyArray<{ readonly id: string; readonly name: string }>, reference: string) => {
  const byId = instances.find((candidate) => candidate.id === reference)
  if (byId !== undefined) return Effect.succeed(byId.id)
  const named = instances.filter((candidate) => candidate.name === reference)
  if (named.length === 1) return Effect.succeed((named[0] as { readonly id: string }).id)
  return fail(
    named.length === 0
      ? `no instance ${reference} (see \`maikit instances ls\`)`
      : `${named.length} instances are named ${reference}; use the id`
  )
}

/** Runs `use` with the files of the instance `flags` names: on the local database, or on `--server`. */
const withFiles = <A>(flags: Input<typeof Commands.fileFlags>, use: (files: Files) => Failing<A>) =>
  Option.match(given(flags), {
    onNone: () =>
      onDatabase(
        BotConfigFiles.BotConfigFiles.layer().pipe(
          Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
          Layer.provide(Database.layer),
          Layer.provide(settings(flags))
        ),
        Effect.gen(function*() {
          const id = yield* resolve(yield* InstanceRegistry.InstanceRegistry.use((registry) => registry.list), flags.instance)
          const files = yield* BotConfigFiles.BotConfigFiles
          return yield* use({
            read: (file) => Effect.mapError(files.read(id, file), asUserError),
            text: (file) => files.read(id, file).pipe(Effect.map((snapshot) => snapshot.text), Effect.mapError(asUserError)),
            write: (file, data, expectedVersion) => Effect.mapError(files.write(id, file, data, { expectedVersion }), asUserError),
            versions: (file) => Effect.mapError(files.versions(id, file), asUserError),
            diff: (file, version) => files.diff(id, file, version).pipe(Effect.map((result) => result.patch), Effect.mapError(asUserError)),
            restore: (file, version) => Effect.mapError(files.restore(id, file, version), asUserError)
          })
        })
      ),
    onSome: (at) =>
      onServer(
        at,
        (options) =>
          Layer.mergeAll(
            LauncherResourcesClient.LauncherResourcesClient.layer(options),
            LauncherClient.LauncherInstancesClient.layer(options)
          ),
        Effect.gen(function*() {
          const { instances } = yield* (yield* LauncherClient.LauncherInstancesClient).launcherInstances.listInstances()
          const iid = yield* resolve(instances, flags.instance)
          const client = (yield* LauncherResourcesClient.LauncherResourcesClient).launcherConfig
          const remote = worded(at)
          return yield* use({
            read: (file) => remote(client.fileGet({ params: { iid, file } })),
            text: (file) => remote(client.fileRawGet({ params: { iid, file } })),
            write: (file, data, expectedVersion) =>
              remote(client.filePut({ params: { iid, file }, headers: { "if-match": expectedVersion }, payload: data })),
            versions: (file) => remote(client.fileVersions({ params: { iid, file } })),
            diff: (file, version) => remote(client.fileVersionDiff({ params: { iid, file, version } })),
            restore: (file, version) =>
              Effect.gen(function*() {
                const { path } = yield* client.fileGet({ params: { iid, file } })
                const { saved } = yield* client.fileVersionRestore({ params: { iid, file, version }, headers: {} })
                return { path, saved }
              }).pipe(remote)
          })
        })
      )
  })

/** `chat.talk_value_rules[1].value`, `chat.talk_value_rules.1.value` or `bot."odd.key"`. */
const parseKeyPath = (text: string): Array<string | number> => {
  const segments: Array<string | number> = []
  const pattern = /"((?:[^"\\]|\\.)*)"|\[(\d+)\]|([^.[\]"]+)/g
  for (const match of text.matchAll(pattern)) {
    if (match[1] !== undefined) segments.push(JSON.parse(`"${match[1]}"`) as string)
    else if (match[2] !== undefined) segments.push(Number(match[2]))
    else if (match[3] !== undefined) segments.push(/^\d+$/.test(match[3]) ? Number(match[3]) : match[3])
  }
  return segments
}

const valueAt = (data: unknown, path: ReadonlyArray<string | number>): unknown => {
  let current = data
  for (const segment of path) {
    if (typeof current !== "object" || current === null || !(segment in current)) return undefined
    current = (current as Record<string | number, unknown>)[segment]
  }
  return current
}

/** A copy of `data` with `value` at `path`, creating tables on the way. */
const withValue = (data: unknown, path: ReadonlyArray<string | number>, value: unknown): unknown => {
  const [head, ...rest] = path
  if (head === undefined) return value
  const container: Record<string | number, unknown> = Array.isArray(data)
    ? [...data] as unknown as Record<number, unknown>
    : typeof data === "object" && data !== null
    ? { ...data }
    : {}
  container[head] = withValue(container[head], rest, value)
  return container
}

export const get = (flags: Input<typeof Commands.getFlags>) =>
  withFiles(flags, (files) =>
    Effect.gen(function*() {
      if (flags.raw) return yield* Console.log((yield* files.text(flags.file)).replace(/\n$/, ""))
      const snapshot = yield* files.read(flags.file)
      if (Option.isNone(flags.key)) return yield* Console.log(JSON.stringify(snapshot.data, null, 2))
      const value = valueAt(snapshot.data, parseKeyPath(flags.key.value))
      if (value === undefined) return yield* fail(`${flags.key.value} is not set in ${snapshot.path}`)
      yield* Console.log(typeof value === "string" ? value : JSON.stringify(value, null, 2))
    }))

export const set = (flags: Input<typeof Commands.setFlags>) =>
  withFiles(flags, (files) =>
    Effect.gen(function*() {
      const snapshot = yield* files.read(flags.file)
      const path = parseKeyPath(flags.key)
      if (path.length === 0) return yield* fail("the key path is empty")
      let value: unknown = flags.value
      if (!flags.string && flags.file !== "env") {
        try {
          value = JSON.parse(flags.value)
        } catch {
          value = flags.value
        }
      }
      const result = yield* files.write(
        flags.file,
        withValue(snapshot.data, path, value) as Record<string, unknown>,
        snapshot.version
      )
      yield* Console.log(
        result.changed
          ? `${flags.key} set in ${snapshot.path} (previous version kept as ${result.saved?.id ?? "-"})`
          : `${flags.key} already had that value; nothing written`
      )
    }))

export const history = (flags: Input<typeof Commands.fileFlags>) =>
  withFiles(flags, (files) =>
    Effect.gen(function*() {
      const list = yield* files.versions(flags.file)
      if (list.versions.length === 0) return yield* Console.log("No kept versions yet.")
      yield* Console.log(`current ${list.current ?? "(missing)"}`)
      for (const kept of list.versions) {
        yield* Console.log(`${kept.id}  ${kept.savedAt}  ${kept.size} bytes${kept.version === list.current ? "  (= current)" : ""}`)
      }
    }))

export const diff = (flags: Input<typeof Commands.versionFlags>) =>
  withFiles(flags, (files) => Effect.flatMap(files.diff(flags.file, flags.version), (patch) => Console.log(patch.replace(/\n$/, ""))))

export const restore = (flags: Input<typeof Commands.versionFlags>) =>
  withFiles(flags, (files) =>
    Effect.gen(function*() {
      const result = yield* files.restore(flags.file, flags.version)
      yield* Console.log(`restored ${result.path} to ${flags.version} (the replaced one kept as ${result.saved?.id ?? "-"})`)
    }))
