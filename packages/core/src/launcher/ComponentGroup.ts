/**
 * Starts the components of one instance (MaiBot `main`, `napcat`, `napcat-ada`, …) in dependency order and
 * stops them in reverse. Components are grouped in waves: a wave starts only when every component of the
 * previous waves is `running` (alive for its `startSeconds`), and the components within a wave start
 * concurrently. A component that ends up `errored` or `stopped` instead, or is not running within
 * `readyTimeoutMs`, fails the start with a `DependencyError`; the components already started keep running, so
 * the caller decides whether to stop the group (as systemd leaves started units alone when a later one fails).
 */
import { Effect, Option } from "effect"
import type { ComponentProcess, ComponentSpawnError, ComponentStatus } from "./ComponentProcess.ts"
import { DependencyError } from "./SupervisorError.ts"

export { DependencyError } from "./SupervisorError.ts"

export interface Member {
  readonly component: ComponentProcess
  /** Names of the components that must be running first. */
  readonly dependsOn?: ReadonlyArray<string> | undefined
}

export interface Options {
  /** How long each component may take to reach `running`. Default 60 s. */
  readonly readyTimeoutMs?: number | undefined
}

export interface ComponentGroup {
  /** Start waves, first to last; stop runs them last to first. */
  readonly waves: ReadonlyArray<ReadonlyArray<string>>
  readonly start: Effect.Effect<void, ComponentSpawnError | DependencyError>
  readonly stop: Effect.Effect<void>
  readonly restart: Effect.Effect<void, ComponentSpawnError | DependencyError>
  readonly statuses: Effect.Effect<ReadonlyArray<ComponentStatus>>
}

/** Orders components into waves (Kahn's algorithm); fails on a duplicate, an unknown dependency or a cycle. */
export const plan = (
  members: ReadonlyArray<{ readonly name: string; readonly dependsOn?: ReadonlyArray<string> | undefined }>
): Effect.Effect<ReadonlyArray<ReadonlyArray<string>>, DependencyError> =>
  Effect.suspend(() => {
    const pending = new Map<string, Set<string>>()
    for (const member of members) {
      if (pending.has(member.name)) {
        return Effect.fail(new DependencyError({ component: member.name, message: `duplicate component ${member.name}` }))
      }
      pending.set(member.name, new Set(member.dependsOn ?? []))
    }
    for (const [name, dependencies] of pending) {
      for (const dependency of dependencies) {
        if (!pending.has(dependency)) {
          return Effect.fail(
            new DependencyError({ component: name, message: `${name} depends on unknown component ${dependency}` })
          )
        }
      }
    }
    const waves: Array<Array<string>> = []
    while (pending.size > 0) {
      const wave = [...pending].filter(([, dependencies]) => dependencies.size === 0).map(([name]) => name)
      if (wave.length === 0) {
        const names = [...pending.keys()].join(", ")
        return Effect.fail(
          new DependencyError({ component: [...pending.keys()][0] ?? "", message: `dependency cycle among ${names}` })
        )
      }
      for (const name of wave) pending.delete(name)
      for (const dependencies of pending.values()) for (const name of wave) dependencies.delete(name)
      waves.push(wave)
    }
    return Effect.succeed(waves)
  })

const settled = (status: ComponentStatus): boolean =>
  status.state === "running" || status.state === "errored" || status.state === "stopped"

export const make = Effect.fnUntraced(function*(
  members: ReadonlyArray<Member>,
  options: Options = {}
): Effect.fn.Return<ComponentGroup, DependencyError> {
  const waves = yield* plan(members.map((member) => ({ name: member.component.name, dependsOn: member.dependsOn })))
  const byName = new Map(members.map((member) => [member.component.name, member.component]))
  const componentsOf = (wave: ReadonlyArray<string>): Array<ComponentProcess> =>
    wave.flatMap((name) => {
      const component = byName.get(name)
      return component === undefined ? [] : [component]
    })
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000

  const startOne = (component: ComponentProcess) =>
    Effect.gen(function*() {
      yield* component.start
      const status = yield* Effect.timeoutOption(component.awaitStatus(settled), readyTimeoutMs)
      if (Option.isNone(status)) {
        return yield* new DependencyError({
          component: component.name,
          message: `${component.name} was not running within ${readyTimeoutMs} ms`
        })
      }
      if (status.value.state !== "running") {
        const reason = status.value.message === null ? "" : `: ${status.value.message}`
        return yield* new DependencyError({
          component: component.name,
          message: `${component.name} did not start (${status.value.state}${reason})`
        })
      }
    })

  const start = Effect.forEach(
    waves,
    (wave) => Effect.forEach(componentsOf(wave), startOne, { concurrency: "unbounded", discard: true }),
    { discard: true }
  )
  const stop = Effect.forEach(
    waves.toReversed(),
    (wave) => Effect.forEach(componentsOf(wave), (component) => component.stop, { concurrency: "unbounded", discard: true }),
    { discard: true }
  )

  return {
    waves,
    start,
    stop,
    restart: Effect.andThen(stop, start),
    statuses: Effect.forEach(members, (member) => member.component.status)
  }
})
