/**
 * Asks the package registry whether a newer MaiKit has been published. The answer is cached, a check never
 * takes longer than its timeout, and an offline machine gets an honest "no update known" instead of an error:
 * the launcher's settings page must render either way.
 */
import { Clock, Context, DateTime, Effect, Layer, Option, Ref, Schema } from "effect"
import * as MaikitVersion from "./MaikitVersion.ts"

export const UpdateInfo = Schema.Struct({
  current_version: Schema.String,
  current_internal: Schema.Int,
  latest_version: Schema.String,
  latest_internal: Schema.Int,
  has_update: Schema.Boolean,
  update_type: Schema.Literals(["major", "minor", "patch", "prerelease", "none"]),
  update_url: Schema.NullOr(Schema.String),
  release_notes: Schema.String,
  release_date: Schema.NullOr(Schema.String),
  last_check: Schema.String,
  source: Schema.Literals(["registry", "unreachable", "disabled"])
})
export type UpdateInfo = typeof UpdateInfo.Type

const RegistryLatest = Schema.Struct({ version: Schema.String })

export interface Options {
  /** The registry document of the newest release (`{ "version": ... }`), or `undefined` to never ask. */
  readonly registryUrl?: string | undefined
  readonly timeoutMillis?: number
  readonly cacheMillis?: number
  readonly releasesUrl?: string
}

export const defaultRegistryUrl = "https://registry.npmjs.org/@maikit%2Fcore/latest"
export const defaultReleasesUrl = "https://www.npmjs.com/package/@maikit/core?activeTab=versions"

const updateType = (current: string, latest: string): UpdateInfo["update_type"] => {
  const [a, b] = [current, latest].map((version) => version.split(/[.-]/).map(Number))
  if (a === undefined || b === undefined || MaikitVersion.compare(latest, current) <= 0) return "none"
  if (a[0] !== b[0]) return "major"
  if (a[1] !== b[1]) return "minor"
  if (a[2] !== b[2]) return "patch"
  return "prerelease"
}

export class UpdateChecker extends Context.Service<UpdateChecker, {
  /** The cached answer when it is fresh, otherwise a new look-up; `force` always looks up. */
  readonly check: (options?: { readonly force?: boolean }) => Effect.Effect<UpdateInfo>
}>()("@maikit/core/UpdateChecker") {
  static readonly make = Effect.fnUntraced(function*(options: Options = {}) {
    const registryUrl = options.registryUrl
    const timeoutMillis = options.timeoutMillis ?? 3000
    const cacheMillis = options.cacheMillis ?? 60 * 60 * 1000
    const releasesUrl = options.releasesUrl ?? defaultReleasesUrl
    const cache = yield* Ref.make(Option.none<{ readonly at: number; readonly info: UpdateInfo }>())
    const current = MaikitVersion.current

    const answer = (latest: string | undefined, source: UpdateInfo["source"], at: number): UpdateInfo => {
      const latestVersion = latest ?? current.version
      const kind = updateType(current.version, latestVersion)
      const hasUpdate = kind !== "none"
      const known = MaikitVersion.releases.find((release) => release.version === latestVersion)
      return {
        current_version: current.version,
        current_internal: current.internal_version,
        latest_version: latestVersion,
        latest_internal: MaikitVersion.internalVersion(latestVersion),
        has_update: hasUpdate,
        update_type: kind,
        update_url: hasUpdate ? releasesUrl : null,
        release_notes: hasUpdate ? (known?.release_notes ?? `MaiKit ${latestVersion} is available`) : "您已使用最新版本",
        release_date: known?.release_date ?? null,
        last_check: DateTime.formatIso(DateTime.makeUnsafe(at)),
        source
      }
    }

    const lookUp = Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      if (registryUrl === undefined) return answer(undefined, "disabled", at)
      const latest = yield* Effect.tryPromise((signal) =>
        fetch(registryUrl, { signal, headers: { accept: "application/json" } }).then((response) =>
          response.ok ? response.json() : Promise.reject(new Error(`registry answered ${response.status}`))
        )
      ).pipe(
        Effect.flatMap(Schema.decodeUnknownEffect(RegistryLatest)),
        Effect.timeout(timeoutMillis),
        Effect.map((document) => document.version),
        Effect.option
      )
      return Option.match(latest, {
        onNone: () => answer(undefined, "unreachable", at),
        onSome: (version) => answer(version, "registry", at)
      })
    })

    const check = (checkOptions?: { readonly force?: boolean }) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const cached = yield* Ref.get(cache)
        if (checkOptions?.force !== true && Option.isSome(cached) && now - cached.value.at < cacheMillis) {
          return cached.value.info
        }
        const info = yield* lookUp
        yield* Ref.set(cache, Option.some({ at: now, info }))
        return info
      })

    return UpdateChecker.of({ check })
  })

  static readonly layer = (options: Options = { registryUrl: defaultRegistryUrl }): Layer.Layer<UpdateChecker> =>
    Layer.effect(UpdateChecker, UpdateChecker.make(options))
}
