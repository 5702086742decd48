/**
 * Runs the launcher's MaiBot instances: each registered instance (`InstanceRegistry`) becomes a
 * `ComponentGroup` of `ComponentProcess`es — `main` (`python bot.py` through the instance's venv when it has
 * one) and its services (NapCat, the adapter), each on its own PTY and process group, with its restart policy,
 * backoff and crash-loop budget, output history under `<dataDir>/instances/<id>/<component>/`, and any number
 * of attached terminals.
 *
 * - Start order follows who connects to whom: the adapter (`napcat-ada`, `nonebot-ada`, `nonebot`) connects to
 *   MaiBot, and NapCat connects to the adapter (reverse WebSocket), so `main` starts first, then the adapter,
 *   then `napcat`; stop runs in reverse. Any other service starts with `main`.
 * - The registry's `status` is the aggregate of the components' states, written on every transition:
 *   `errored` if any component gave up, else `crashed` while one backs off before a restart, else `stopping`,
 *   `starting`, `running` (at least one running, none failing), `stopped`. A run (`recordStart` /
 *   `recordStop`) spans from the first component coming up to the last one going down, crash restarts included.
 * - Every spawned component's process is recorded in the registry (pid, group, session, start time, boot id,
 *   run id, and this MaiKit process as its owner) until its tree is gone, Linux only. A MaiKit that was killed
 *   (`kill -9`, a crash) leaves those records behind, and a bot that ignores the PTY's hang-up keeps running
 *   with its children. At start-up the supervisor finds them (`internal/survivors.ts`) and applies the
 *   `orphans` rule: `stop` (default) sends the stop signal to their group and members and SIGKILLs what is left
 *   after the grace — MaiKit cannot reattach a PTY, and a bot whose terminal nobody can see or type into is
 *   worse than a clean restart; `adopt` takes a survivor whose leader lives over as the component's run
 *   (`running`, "adopted: output not available until restart", stop works). Processes of a run whose leader
 *   died are always stopped. Every start looks again, for its instance, so a supervisor that did not reconcile
 *   (a CLI command) never runs a second copy; a component that another live MaiKit process runs is not started.
 *   Then every instance without a live process is reconciled to `stopped`.
 * - `start` answers once every component is `running` (alive past its start window), or as soon as one fails
 *   during the start — exits before its start window (it then backs off and retries per its restart policy),
 *   gives up or cannot be spawned — with the reason; a healthy instance is answered as soon as it runs, so the
 *   wait is the start windows of its waves (about 1 s each), never `startWaitMs` unless a wave is slow.
 * - One component can be started, stopped or restarted alone (`startComponent`, `stopComponent`,
 *   `restartComponent`); the others are left as they are. Stopping MaiBot leaves the adapter and NapCat running:
 *   they retry their connections by themselves, so stopping them too would only lose their state.
 * - An instance's processes exist from its first start or attach until it is removed or the supervisor
 *   closes, so a terminal attached to a stopped component sees it start. When a start finds every component
 *   down and the stored commands (or a venv that appeared since) resolve differently, the processes are
 *   rebuilt; attached terminals then see their stream end and attach again.
 * - `remove` deletes folders only when MaiKit created them (`owns_path`) or the caller asks for it, and then only
 *   folders the instance owns (`internal/deletionPlan.ts`: never MaiKit's data folder or anything in it, the
 *   home folder, a root, a parent of the instance, another instance's folder or a path through a symbolic link);
 *   MaiKit's own history folder always goes.
 */
import { Cause, Context, Effect, Exit, Fiber, Layer, Option, Schema, Scope, Semaphore, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as ComponentGroup from "./ComponentGroup.ts"
import * as ComponentProcess from "./ComponentProcess.ts"
import * as DeletionPlan from "./internal/deletionPlan.ts"
import * as Procfs from "./internal/procfs.ts"
import * as Registration from "./internal/registration.ts"
import * as Survivors from "./internal/survivors.ts"
import * as InstanceRegistry from "./InstanceRegistry.ts"
import type { InstanceNotFound, InstanceRegistryError } from "./InstanceRegistryError.ts"
import {
  ComponentNotFound,
  InstanceRequestInvalid,
  InstanceRuntimeError,
  InstanceStartFailed
} from "./InstanceSupervisorError.ts"
import { MaikitConfig, type OrphanRule } from "../platform/MaikitConfig.ts"
import type * as OutputHistory from "./OutputHistory.ts"
import * as ProcessTree from "./ProcessTree.ts"
import * as PtyHost from "./PtyHost.ts"
import type { ComponentNotRunning, HistoryError, SubscriberOverflow } from "./SupervisorError.ts"
import * as VenvCommand from "./VenvCommand.ts"

export { InstanceNotFound, InstanceRegistryError } from "./InstanceRegistryError.ts"
export {
  ComponentNotFound,
  InstanceRequestInvalid,
  InstanceRuntimeError,
  InstanceStartFailed
} from "./InstanceSupervisorError.ts"

/** A registered component with the live state of its process (`stopped` when it has none). */
export const ComponentView = Schema.Struct({
  ...InstanceRegistry.Component.fields,
  state: ComponentProcess.ComponentState
})
export type ComponentView = typeof ComponentView.Type

export const InstanceView = Schema.Struct({
  ...InstanceRegistry.Instance.fields,
  components: Schema.Array(ComponentView)
})
export type InstanceView = typeof InstanceView.Type

/** `/instances/stats`: all instances, and those exactly `running` / `stopped`. */
export const InstanceCounts = Schema.Struct({
  total: Schema.Int,
  running: Schema.Int,
  stopped: Schema.Int
})
export type InstanceCounts = typeof InstanceCounts.Type

/** Registering an existing MaiBot folder: the registry's request schema, bounded field by field. */
export const AddRequest = InstanceRegistry.AddRequest
export type AddRequest = InstanceRegistry.AddRequest
export type ServiceRequest = InstanceRegistry.ServiceRequest

export interface StartOutcome {
  readonly instance: InstanceRegistry.Instance
  /** The component started, for a single-component start. */
  readonly component: string | undefined
  /** `running` once everything started is; `starting` if `startWaitMs` passed first (the start goes on). */
  readonly state: "running" | "starting"
}

export interface ComponentStopOutcome {
  readonly instance: InstanceRegistry.Instance
  /** The component stopped (an alias such as `nonebot` resolved). */
  readonly component: string
}

export interface RemoveOptions {
  /** Delete the instance's folders even though MaiKit did not create them. */
  readonly deleteFiles?: boolean | undefined
}

export interface RemoveResult {
  readonly instance: InstanceRegistry.Instance
  readonly deleted: ReadonlyArray<string>
  readonly failed: ReadonlyArray<{ readonly path: string; readonly message: string }>
  /**
   * Folders that were asked for (or owned) but are not the instance's to delete: MaiKit's data folder or anything
   * in it, the home folder, a root, a parent of the instance, another instance's folder, or a path through a
   * symbolic link (`internal/deletionPlan.ts`).
   */
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  /** Folders left alone because MaiKit did not create them and deletion was not asked for. */
  readonly kept: ReadonlyArray<string>
}

/** A live terminal on one component: what it printed lately, then everything it does from now on. */
export interface Terminal {
  readonly instanceId: string
  /** The component's name (an alias such as `nonebot` resolved). */
  readonly component: string
  readonly backlog: ReadonlyArray<OutputHistory.OutputRecord>
  readonly status: ComponentProcess.ComponentStatus
  /** Ends when the instance's processes are removed, rebuilt or shut down; fails when the reader falls behind. */
  readonly events: Stream.Stream<ComponentProcess.ComponentEvent, SubscriberOverflow>
  readonly currentStatus: Effect.Effect<ComponentProcess.ComponentStatus>
  readonly write: (data: string | Uint8Array) => Effect.Effect<void, ComponentNotRunning>
  readonly resize: (cols: number, rows: number) => Effect.Effect<void>
  readonly history: (range: OutputHistory.TimeRange) => Effect.Effect<ReadonlyArray<OutputHistory.OutputRecord>, HistoryError>
}

export interface Options {
  /**
   * Reconcile the registry at start-up (default true). Off for a short-lived supervisor (a CLI command) next to a
   * server that owns the running instances of the same database.
   */
  readonly reconcile?: boolean | undefined
  /** Where history goes. Default `<dataDir>/instances`. */
  readonly historyRoot?: string | undefined
  /** Ctrl+C to kill, per component. Default 3 s, so an instance of three waves stops within a client's 10 s. */
  readonly stopGraceMs?: number | undefined
  /** Alive this long counts as running. Default 1 s. */
  readonly startSeconds?: number | undefined
  /** How long a component may take to reach running during a start. Default 60 s. */
  readonly readyTimeoutMs?: number | undefined
  /** How long `start` waits before answering `starting` and letting the start go on. Default 8 s. */
  readonly startWaitMs?: number | undefined
  readonly backoff?: Partial<ComponentProcess.BackoffOptions> | undefined
  readonly crashLoop?: Partial<ComponentProcess.CrashLoopOptions> | undefined
  readonly history?: {
    readonly maxFileBytes?: number | undefined
    readonly maxFiles?: number | undefined
    readonly ringBytes?: number | undefined
  } | undefined
  /** Events an attached terminal may have queued before it is dropped. Default 1024. */
  readonly subscriberCapacity?: number | undefined
  readonly treeScanMs?: number | undefined
  /** What to do with processes a killed MaiKit left running. Default: the configuration's `orphans` (`stop`). */
  readonly orphans?: OrphanRule | undefined
  /** Where the components' PTYs live. Default: one `PtyHost.workerThread` for all of them. */
  readonly ptyHost?: PtyHost.PtyHost | undefined
}

export const defaults = {
  stopGraceMs: 3_000,
  startSeconds: 1,
  readyTimeoutMs: 60_000,
  startWaitMs: 8_000
} as const

const aliases: Readonly<Record<string, ReadonlyArray<string>>> = {
  nonebot: ["napcat-ada", "nonebot-ada"],
  adapter: ["napcat-ada", "nonebot-ada", "nonebot"],
  maibot: ["main"]
}

/** The component a terminal type or route names: itself, or what the seeds' aliases (`nonebot`) stand for. */
export const resolveComponentName = (names: ReadonlyArray<string>, requested: string): string | undefined =>
  names.includes(requested) ? requested : aliases[requested]?.find((name) => names.includes(name))

const isAdapter = (name: string): boolean => name.endsWith("-ada") || name === "nonebot"

/** Each component after the one it connects to: adapter after MaiBot, NapCat after the adapter. */
export const dependenciesOf = (name: string, names: ReadonlyArray<string>): ReadonlyArray<string> =>
  isAdapter(name) ? names.filter((other) => other === "main") : name === "napcat" ? names.filter(isAdapter) : []

/** The instance status for a set of component states, worst first. */
export const aggregate = (states: ReadonlyArray<ComponentProcess.ComponentState>): InstanceRegistry.InstanceStatus => {
  if (states.includes("errored")) return "errored"
  if (states.includes("backing-off")) return "crashed"
  if (states.includes("stopping")) return "stopping"
  if (states.includes("starting")) return "starting"
  if (states.includes("running")) return "running"
  return "stopped"
}

const isActive = (status: InstanceRegistry.InstanceStatus): boolean =>
  status === "starting" || status === "running" || status === "stopping" || status === "crashed"

const idleStats = (name: string): ComponentProcess.ComponentStats => ({
  name,
  state: "stopped",
  pid: null,
  startCount: 0,
  restartCount: 0,
  totalRuntimeSeconds: 0,
  lastStartTime: null,
  uptimeSeconds: 0,
  cpuPercent: null,
  memoryBytes: null,
  processCount: 0,
  message: null
})

interface Resolved {
  readonly component: InstanceRegistry.Component
  readonly file: string
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly dependsOn: ReadonlyArray<string>
}

const resolveAll = (instance: InstanceRegistry.Instance) =>
  Effect.forEach(instance.components, (component) =>
    VenvCommand.resolve(component.command, component.path).pipe(
      Effect.map((resolved): Resolved => ({
        component,
        file: resolved.file,
        args: resolved.args,
        env: { ...resolved.env, ...component.env },
        dependsOn: dependenciesOf(component.name, instance.components.map((other) => other.name))
      })),
      Effect.mapError((error) =>
        new InstanceRuntimeError({
          instanceId: instance.id,
          message: `组件 ${component.name} 的启动命令无效: ${error.message}`
        })
      )
    ))

/** What decides whether an instance's processes must be rebuilt. */
const fingerprintOf = (resolved: ReadonlyArray<Resolved>): string =>
  JSON.stringify(resolved.map((entry) => [
    entry.component.name,
    entry.component.path,
    entry.component.restart_policy,
    entry.file,
    entry.args,
    entry.env,
    entry.dependsOn
  ]))

const startFailed = (instance: InstanceRegistry.Instance, message: string) =>
  new InstanceStartFailed({ instanceId: instance.id, name: instance.name, message })

interface Runtime {
  readonly id: string
  readonly scope: Scope.Closeable
  readonly fingerprint: string
  readonly components: ReadonlyArray<ComponentProcess.ComponentProcess>
  readonly byName: ReadonlyMap<string, ComponentProcess.ComponentProcess>
  readonly group: ComponentGroup.ComponentGroup
  readonly syncLock: Semaphore.Semaphore
  persisted: InstanceRegistry.InstanceStatus
  starting: Fiber.Fiber<void, ComponentProcess.ComponentSpawnError | ComponentGroup.DependencyError> | undefined
}

export class InstanceSupervisor extends Context.Service<InstanceSupervisor, {
  /** Every instance with its components' live states. */
  readonly list: Effect.Effect<ReadonlyArray<InstanceView>, InstanceRegistryError>
  readonly get: (id: string) => Effect.Effect<InstanceView, InstanceNotFound | InstanceRegistryError>
  readonly counts: Effect.Effect<InstanceCounts, InstanceRegistryError>
  /** Registers an existing folder, checking its paths as the original did; MaiKit does not own it. */
  readonly add: (request: AddRequest) => Effect.Effect<InstanceRegistry.Instance, InstanceRequestInvalid | InstanceRegistryError>
  /** Starts every component in dependency order; waits up to `startWaitMs` for them to be running. */
  readonly start: (
    id: string
  ) => Effect.Effect<StartOutcome, InstanceNotFound | InstanceStartFailed | InstanceRuntimeError | InstanceRegistryError>
  /** Starts one component (or an alias such as `nonebot`), without its dependencies. */
  readonly startComponent: (
    id: string,
    component: string
  ) => Effect.Effect<
    StartOutcome,
    InstanceNotFound | ComponentNotFound | InstanceStartFailed | InstanceRuntimeError | InstanceRegistryError
  >
  /**
   * Stops one component (or an alias) and waits until its process tree is gone. The instance's other components
   * keep running, dependents included: an adapter or NapCat whose peer stopped retries its connection by itself
   * and reconnects when the peer starts again. An instance start still going on is ended, so that it does not start
   * the component again; the components it had started keep running.
   */
  readonly stopComponent: (
    id: string,
    component: string
  ) => Effect.Effect<ComponentStopOutcome, InstanceNotFound | ComponentNotFound | InstanceRegistryError>
  /** `stopComponent`, then `startComponent`: answers as a single-component start does. */
  readonly restartComponent: (
    id: string,
    component: string
  ) => Effect.Effect<
    StartOutcome,
    InstanceNotFound | ComponentNotFound | InstanceStartFailed | InstanceRuntimeError | InstanceRegistryError
  >
  /** Stops every component in reverse order and waits until every process of every tree is gone. */
  readonly stop: (id: string) => Effect.Effect<InstanceRegistry.Instance, InstanceNotFound | InstanceRegistryError>
  readonly restart: (
    id: string
  ) => Effect.Effect<StartOutcome, InstanceNotFound | InstanceStartFailed | InstanceRuntimeError | InstanceRegistryError>
  /** Stops the instance, unregisters it and deletes its history; its folders only when owned or asked for. */
  readonly remove: (
    id: string,
    options?: RemoveOptions
  ) => Effect.Effect<RemoveResult, InstanceNotFound | InstanceRegistryError>
  /** Per-component process statistics (PID, uptime, CPU, memory, starts); zeros for components not running. */
  readonly componentStats: (
    id: string
  ) => Effect.Effect<ReadonlyArray<ComponentProcess.ComponentStats>, InstanceNotFound | InstanceRegistryError>
  /** Attaches to a component's terminal for the scope's lifetime; the component need not be running. */
  readonly attach: (
    id: string,
    component: string,
    options?: { readonly capacity?: number | undefined }
  ) => Effect.Effect<
    Terminal,
    InstanceNotFound | ComponentNotFound | InstanceRuntimeError | InstanceRegistryError,
    Scope.Scope
  >
}>()("@maikit/core/InstanceSupervisor") {
  /** Needs the registry and the configuration (for `dataDir`); the process table is the platform's. */
  static readonly layer = (
    options: Options = {}
  ): Layer.Layer<InstanceSupervisor, InstanceRegistryError, InstanceRegistry.InstanceRegistry | MaikitConfig> =>
    Layer.effect(InstanceSupervisor, make(options)).pipe(Layer.provide(ProcessTree.ProcessTree.layer))
}

/**
 * This process as the owner of the runs it records, and the boot it runs in; `undefined` where `/proc` cannot tell
 * (not Linux), and then nothing is recorded.
 */
const ownIdentity = () => {
  if (process.platform !== "linux") return undefined
  const stat = Procfs.readStat(process.pid)
  const bootId = Procfs.bootId()
  return stat === undefined || bootId === undefined ? undefined : { pid: process.pid, startTicks: stat.startTicks, bootId }
}

const noSuchComponent = (instance: InstanceRegistry.Instance, requested: string) =>
  new ComponentNotFound({ instanceId: instance.id, component: requested, message: `实例 ${instance.name} 没有 ${requested} 服务` })

/** The registered name of the component `requested` names (itself or an alias). */
const componentName = (instance: InstanceRegistry.Instance, requested: string) => {
  const name = resolveComponentName(instance.components.map((component) => component.name), requested)
  return name === undefined ? Effect.fail(noSuchComponent(instance, requested)) : Effect.succeed(name)
}

/** A component that failed during a start begun at `since`: it exited before its start window and backs off. */
const firstCrash = (components: ReadonlyArray<ComponentProcess.ComponentProcess>, since: number) =>
  Effect.raceAll(components.map((component) =>
    component.awaitStatus((status) => status.state === "backing-off" && status.since >= since)
  ))

const crashReason = (status: ComponentProcess.ComponentStatus) =>
  `${status.name} crashed while starting (${status.message ?? "exited"}); ` +
  `restarting in ${status.restartDelayMs ?? 0} ms per its restart policy`

const describeFound = (found: ReadonlyArray<Survivors.Found>) =>
  found.map((entry) =>
    `${entry.record.instance_id}/${entry.record.component} (pid ${entry.members.map((member) => member.pid).join(", ")})`
  ).join("; ")

/** Builds the supervisor in the current scope, reconciling the registry first; closing the scope stops everything. */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const registry = yield* InstanceRegistry.InstanceRegistry
  const config = yield* MaikitConfig
  const tree = yield* ProcessTree.ProcessTree
  const scope = yield* Effect.scope
  const ptyHost = options.ptyHost ?? (yield* PtyHost.workerThread())
  const historyRoot = Path.resolve(options.historyRoot ?? Path.join(config.dataDir, "instances"))
  const startWaitMs = options.startWaitMs ?? defaults.startWaitMs
  const runtimes = new Map<string, Runtime>()
  const locks = new Map<string, Semaphore.Semaphore>()

  const stopGraceMs = options.stopGraceMs ?? defaults.stopGraceMs
  const orphans = options.orphans ?? config.orphans
  const self = ownIdentity()

  const withLock = (id: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    let lock = locks.get(id)
    if (lock === undefined) {
      lock = Semaphore.makeUnsafe(1)
      locks.set(id, lock)
    }
    return lock.withPermit(effect)
  }

  const sync = (runtime: Runtime) =>
    runtime.syncLock.withPermit(Effect.gen(function*() {
      const statuses = yield* Effect.forEach(runtime.components, (component) => component.status)
      const next = aggregate(statuses.map((status) => status.state))
      const previous = runtime.persisted
      if (next === previous) return
      if (isActive(next) && !isActive(previous)) yield* registry.recordStart(runtime.id)
      if (!isActive(next) && isActive(previous)) yield* registry.recordStop(runtime.id)
      yield* registry.setStatus(runtime.id, next)
      runtime.persisted = next
    })).pipe(
      Effect.catch((error) =>
        Effect.logWarning(`cannot record the status of instance ${runtime.id}: ${error._tag}`).pipe(
          Effect.annotateLogs({ instance: runtime.id })
        )
      )
    )

  /** Keeps the registry's record of each run of a component for as long as its tree lives. */
  const recorderFor = (instanceId: string, component: string): ComponentProcess.RunRecorder | undefined => {
    if (self === undefined) return undefined
    const logged = (what: string) =>
      Effect.catch((error: InstanceRegistryError) =>
        Effect.logWarning(`cannot ${what} the process of ${component}: ${error.message}`).pipe(
          Effect.annotateLogs({ instance: instanceId })
        )
      )
    return {
      started: (run) =>
        Effect.suspend(() => {
          const stat = Procfs.readStat(run.pid)
          // node-pty makes the child a session leader, so its pid is also its group's and its session's id.
          return stat === undefined ? Effect.void : registry.recordProcess({
            instance_id: instanceId,
            component,
            pid: run.pid,
            pgid: run.pid,
            sid: run.pid,
            start_ticks: stat.startTicks,
            boot_id: self.bootId,
            run_id: run.runId,
            started_at: run.startedAt,
            owner_pid: self.pid,
            owner_start_ticks: self.startTicks
          })
        }).pipe(logged("record")),
      ended: (run) => registry.forgetProcess(instanceId, component, run.pid).pipe(logged("forget"))
    }
  }

  const watch = (runtime: Runtime, component: ComponentProcess.ComponentProcess) =>
    Effect.gen(function*() {
      let last = yield* component.status
      while (true) {
        const seen = last
        last = yield* component.awaitStatus((status) => status !== seen)
        yield* sync(runtime)
      }
    })

  const build = (instance: InstanceRegistry.Instance, resolved: ReadonlyArray<Resolved>) =>
    Effect.gen(function*() {
      const runtimeScope = yield* Scope.fork(scope, "sequential")
      const made = yield* Effect.forEach(resolved, (entry) =>
        ComponentProcess.make({
          name: entry.component.name,
          file: entry.file,
          args: entry.args,
          cwd: entry.component.path,
          env: entry.env,
          restart: entry.component.restart_policy,
          backoff: options.backoff,
          crashLoop: options.crashLoop,
          startSeconds: options.startSeconds ?? defaults.startSeconds,
          stopGraceMs,
          subscriberCapacity: options.subscriberCapacity,
          treeScanMs: options.treeScanMs,
          recorder: recorderFor(instance.id, entry.component.name),
          ptyHost,
          history: {
            directory: Path.join(historyRoot, instance.id, encodeURIComponent(entry.component.name)),
            maxFileBytes: options.history?.maxFileBytes,
            maxFiles: options.history?.maxFiles,
            ringBytes: options.history?.ringBytes
          }
        }).pipe(Effect.map((component) => ({ component, dependsOn: entry.dependsOn }))))
        .pipe(
          Scope.provide(runtimeScope),
          Effect.provideService(ProcessTree.ProcessTree, tree),
          Effect.flatMap((members) =>
            Effect.map(
              ComponentGroup.make(members, { readyTimeoutMs: options.readyTimeoutMs ?? defaults.readyTimeoutMs }),
              (group) => ({ group, components: members.map((member) => member.component) })
            )
          ),
          Effect.mapError((error) => new InstanceRuntimeError({ instanceId: instance.id, message: error.message })),
          Effect.onError(() => Scope.close(runtimeScope, Exit.void))
        )
      const runtime: Runtime = {
        id: instance.id,
        scope: runtimeScope,
        fingerprint: fingerprintOf(resolved),
        components: made.components,
        byName: new Map(made.components.map((component) => [component.name, component])),
        group: made.group,
        syncLock: Semaphore.makeUnsafe(1),
        persisted: instance.status,
        starting: undefined
      }
      for (const component of runtime.components) yield* Effect.forkIn(watch(runtime, component), runtimeScope)
      runtimes.set(instance.id, runtime)
      return runtime
    })

  const close = (runtime: Runtime) =>
    Effect.gen(function*() {
      runtimes.delete(runtime.id)
      yield* Scope.close(runtime.scope, Exit.void)
    })

  const isIdle = (runtime: Runtime) =>
    Effect.map(
      Effect.forEach(runtime.components, (component) => component.status),
      (statuses) => statuses.every((status) => status.state === "stopped" || status.state === "errored")
    )

  /** The instance's processes, built on first use; `refresh` rebuilds idle ones whose commands changed. */
  const ensure = (instance: InstanceRegistry.Instance, refresh: boolean) =>
    Effect.gen(function*() {
      const existing = runtimes.get(instance.id)
      if (existing !== undefined && !refresh) return existing
      const resolved = yield* resolveAll(instance)
      if (existing !== undefined) {
        if (existing.fingerprint === fingerprintOf(resolved) || !(yield* isIdle(existing))) return existing
        yield* close(existing)
      }
      return yield* build(instance, resolved)
    })

  const stopRuntime = (runtime: Runtime) =>
    Effect.gen(function*() {
      const starting = runtime.starting
      runtime.starting = undefined
      if (starting !== undefined) yield* Fiber.interrupt(starting)
      yield* runtime.group.stop
      yield* sync(runtime)
    })

  /** Takes a survivor over as its component's run; `false` if it cannot be (the caller then stops it). */
  const adopt = (found: Survivors.Found) =>
    Effect.gen(function*() {
      const instance = yield* registry.get(found.record.instance_id).pipe(Effect.option)
      if (Option.isNone(instance)) return false
      const runtime = yield* ensure(instance.value, false).pipe(Effect.option)
      const component = Option.isNone(runtime) ? undefined : runtime.value.byName.get(found.record.component)
      if (Option.isNone(runtime) || component === undefined) return false
      const adopted = yield* component.adopt({
        pid: found.record.pid,
        runId: found.record.run_id,
        startedAt: found.record.started_at,
        startTicks: found.record.start_ticks,
        members: found.members
      })
      if (!adopted) return false
      // Ours from now on: a later look (a start, a stop) must not take it for an orphan again.
      if (self !== undefined) {
        yield* registry.recordProcess({ ...found.record, owner_pid: self.pid, owner_start_ticks: self.startTicks }).pipe(
          Effect.catch((error) => Effect.logWarning(`cannot record the adoption of pid ${found.record.pid}: ${error.message}`))
        )
      }
      yield* sync(runtime.value)
      return true
    })

  /**
   * Deals with what a killed MaiKit left of the instance `only` (or of every instance) by `rule`, and tells which
   * instances now run adopted processes and which records another live MaiKit process owns.
   */
  const claim = (only: string | undefined, rule: OrphanRule) =>
    Effect.gen(function*() {
      const none = { adopted: [] as Array<string>, foreign: [] as Array<InstanceRegistry.ProcessRecord> }
      if (self === undefined) return none
      const records = (yield* registry.processes).filter((record) => only === undefined || record.instance_id === only)
      if (records.length === 0) return none
      const snapshot = yield* Effect.option(tree.snapshot)
      if (Option.isNone(snapshot)) {
        yield* Effect.logWarning("cannot read the process table; processes left by a killed MaiKit are not checked")
        return none
      }
      const { survivors, gone, owned } = Survivors.classify(records, snapshot.value, self.bootId)
      for (const record of gone) yield* registry.forgetProcess(record.instance_id, record.component, record.pid)
      const toStop: Array<Survivors.Found> = []
      const adopted: Array<string> = []
      for (const found of survivors) {
        if (rule === "adopt" && found.leader !== undefined && (yield* adopt(found))) adopted.push(found.record.instance_id)
        else toStop.push(found)
      }
      if (toStop.length > 0) {
        yield* Effect.logWarning(`stopping processes a killed MaiKit left running: ${describeFound(toStop)}`)
        const stubborn = yield* Survivors.stop(toStop, ComponentProcess.defaults.stopSignal, stopGraceMs).pipe(
          Effect.provideService(ProcessTree.ProcessTree, tree)
        )
        const left = new Set(stubborn.map((member) => member.pid))
        if (left.size > 0) yield* Effect.logError(`could not end pid ${[...left].join(", ")}; will try again`)
        for (const found of toStop) {
          if (found.members.some((member) => left.has(member.pid))) continue
          yield* registry.forgetProcess(found.record.instance_id, found.record.component, found.record.pid)
        }
      }
      return { adopted, foreign: owned.filter((record) => record.owner_pid !== self.pid) }
    })

  /** Before a start: handles what a killed MaiKit left, and refuses to start beside another live MaiKit. */
  const claimForStart = (instance: InstanceRegistry.Instance, component?: string) =>
    Effect.gen(function*() {
      const { foreign } = yield* claim(instance.id, orphans)
      const taken = foreign.find((record) => component === undefined || record.component === component)
      if (taken !== undefined) {
        return yield* startFailed(
          instance,
          `${taken.component} is already run by another MaiKit process (pid ${taken.owner_pid}); not starting a second copy`
        )
      }
    })

  const startUnlocked = (instance: InstanceRegistry.Instance) =>
    Effect.gen(function*() {
      yield* claimForStart(instance)
      const runtime = yield* ensure(instance, true)
      const previous = runtime.starting
      if (previous !== undefined) yield* Fiber.interrupt(previous)
      const since = Date.now()
      const fiber = yield* Effect.forkIn(runtime.group.start, runtime.scope)
      runtime.starting = fiber
      const settled = yield* Effect.timeoutOption(
        Effect.raceFirst(
          Effect.map(Fiber.await(fiber), (exit) => ({ _tag: "Done" as const, exit })),
          Effect.map(firstCrash(runtime.components, since), (status) => ({ _tag: "Crashed" as const, status }))
        ),
        startWaitMs
      )
      yield* sync(runtime)
      const current = yield* registry.get(instance.id)
      if (Option.isNone(settled)) return { instance: current, component: undefined, state: "starting" } satisfies StartOutcome
      if (settled.value._tag === "Crashed") return yield* startFailed(instance, crashReason(settled.value.status))
      const exit = settled.value.exit
      if (Exit.isSuccess(exit)) return { instance: current, component: undefined, state: "running" } satisfies StartOutcome
      const reason = Option.match(Cause.findErrorOption(exit.cause), {
        onNone: () => "启动被中断",
        onSome: (error) => error.message
      })
      return yield* startFailed(instance, reason)
    })

  const start = (id: string) => withLock(id)(Effect.flatMap(registry.get(id), startUnlocked))

  const startComponentUnlocked = (instance: InstanceRegistry.Instance, name: string) =>
    Effect.gen(function*() {
      yield* claimForStart(instance, name)
      const runtime = yield* ensure(instance, true)
      const component = runtime.byName.get(name)
      if (component === undefined) return yield* noSuchComponent(instance, name)
      const since = Date.now()
      yield* Effect.mapError(component.start, (error) => startFailed(instance, error.message))
      const settled = yield* Effect.timeoutOption(
        component.awaitStatus((status) =>
          status.state === "running" || status.state === "errored" || status.state === "stopped" ||
          (status.state === "backing-off" && status.since >= since)
        ),
        startWaitMs
      )
      yield* sync(runtime)
      const current = yield* registry.get(instance.id)
      if (Option.isNone(settled)) return { instance: current, component: component.name, state: "starting" } satisfies StartOutcome
      if (settled.value.state === "backing-off") return yield* startFailed(instance, crashReason(settled.value))
      if (settled.value.state !== "running") {
        const reason = settled.value.message === null ? "" : `: ${settled.value.message}`
        return yield* startFailed(instance, `${component.name} did not start (${settled.value.state}${reason})`)
      }
      return { instance: current, component: component.name, state: "running" } satisfies StartOutcome
    })

  /** Stops one component's process tree; the others keep running. */
  const stopComponentUnlocked = (instance: InstanceRegistry.Instance, name: string) =>
    Effect.gen(function*() {
      const runtime = runtimes.get(instance.id)
      const component = runtime?.byName.get(name)
      if (runtime === undefined || component === undefined) return
      // An instance start still going on would start the component again when its wave comes.
      const starting = runtime.starting
      runtime.starting = undefined
      if (starting !== undefined) yield* Fiber.interrupt(starting)
      yield* component.stop
      yield* sync(runtime)
    })

  const startComponent = (id: string, requested: string) =>
    withLock(id)(Effect.gen(function*() {
      const instance = yield* registry.get(id)
      return yield* startComponentUnlocked(instance, yield* componentName(instance, requested))
    }))

  const stopComponent = (id: string, requested: string) =>
    withLock(id)(Effect.gen(function*() {
      const instance = yield* registry.get(id)
      const name = yield* componentName(instance, requested)
      yield* stopComponentUnlocked(instance, name)
      return { instance: yield* registry.get(id), component: name } satisfies ComponentStopOutcome
    }))

  const restartComponent = (id: string, requested: string) =>
    withLock(id)(Effect.gen(function*() {
      const instance = yield* registry.get(id)
      const name = yield* componentName(instance, requested)
      yield* stopComponentUnlocked(instance, name)
      return yield* startComponentUnlocked(yield* registry.get(id), name)
    }))

  const stop = (id: string) =>
    withLock(id)(Effect.gen(function*() {
      yield* registry.get(id)
      const runtime = runtimes.get(id)
      if (runtime !== undefined) yield* stopRuntime(runtime)
      // A stop leaves nothing: also what a killed MaiKit left of the instance, if nobody has dealt with it yet.
      yield* claim(id, "stop")
      return yield* registry.get(id)
    }))

  const restart = (id: string) =>
    withLock(id)(Effect.gen(function*() {
      const instance = yield* registry.get(id)
      const runtime = runtimes.get(id)
      if (runtime !== undefined) yield* stopRuntime(runtime)
      return yield* startUnlocked(yield* registry.get(instance.id))
    }))

  const remove = (id: string, removeOptions: RemoveOptions = {}) =>
    withLock(id)(Effect.gen(function*() {
      const instance = yield* registry.get(id)
      const runtime = runtimes.get(id)
      if (runtime !== undefined) {
        yield* stopRuntime(runtime)
        yield* close(runtime)
      }
      yield* claim(id, "stop")
      yield* registry.remove(id)
      locks.delete(id)
      yield* Effect.sync(() => Fs.rmSync(Path.join(historyRoot, id), { recursive: true, force: true })).pipe(
        Effect.catchDefect((cause) => Effect.logWarning(`cannot delete the history of ${id}: ${String(cause)}`))
      )
      const others = (yield* registry.list).map((other) => ({
        name: other.name,
        paths: [other.path, ...other.components.map((component) => component.path)]
      }))
      const plan = DeletionPlan.plan(instance, { dataDir: config.dataDir, historyRoot, others })
      if (!(instance.owns_path || removeOptions.deleteFiles === true)) {
        return { instance, deleted: [], failed: [], refused: [], kept: plan.map((entry) => entry.path) } satisfies RemoveResult
      }
      const deleted: Array<string> = []
      const failed: Array<{ readonly path: string; readonly message: string }> = []
      const refused: Array<{ readonly path: string; readonly reason: string }> = []
      for (const entry of plan) {
        if (entry.refusal !== undefined) {
          refused.push({ path: entry.path, reason: entry.refusal })
          yield* Effect.logWarning(`refused to delete ${entry.path} with instance ${instance.id}: ${entry.refusal}`)
          continue
        }
        const error = yield* Effect.sync(() => {
          try {
            Fs.rmSync(entry.path, { recursive: true, force: true })
            return undefined
          } catch (cause) {
            return String(cause)
          }
        })
        if (error === undefined) deleted.push(entry.path)
        else failed.push({ path: entry.path, message: error })
      }
      return { instance, deleted, failed, refused, kept: [] } satisfies RemoveResult
    }))

  const view = (instance: InstanceRegistry.Instance) =>
    Effect.gen(function*() {
      const runtime = runtimes.get(instance.id)
      const components = yield* Effect.forEach(instance.components, (component) => {
        const process = runtime?.byName.get(component.name)
        return process === undefined
          ? Effect.succeed({ ...component, state: "stopped" as const })
          : Effect.map(process.status, (status) => ({ ...component, state: status.state }))
      })
      return { ...instance, components } satisfies InstanceView
    })

  const counts = Effect.map(registry.list, (instances): InstanceCounts => ({
    total: instances.length,
    running: instances.filter((instance) => instance.status === "running").length,
    stopped: instances.filter((instance) => instance.status === "stopped").length
  }))

  const componentStats = (id: string) =>
    Effect.gen(function*() {
      const instance = yield* registry.get(id)
      const runtime = runtimes.get(id)
      return yield* Effect.forEach(instance.components, (component) => {
        const process = runtime?.byName.get(component.name)
        return process === undefined ? Effect.succeed(idleStats(component.name)) : process.stats
      })
    })

  const attach = (id: string, requested: string, attachOptions: { readonly capacity?: number | undefined } = {}) =>
    Effect.gen(function*() {
      const found = yield* withLock(id)(Effect.gen(function*() {
        const instance = yield* registry.get(id)
        const name = resolveComponentName(instance.components.map((component) => component.name), requested)
        const runtime = yield* ensure(instance, false)
        const component = name === undefined ? undefined : runtime.byName.get(name)
        if (component === undefined) {
          return yield* new ComponentNotFound({
            instanceId: id,
            component: requested,
            message: `实例 '${id}' 没有 '${requested}' 终端`
          })
        }
        return component
      }))
      const subscription = yield* found.subscribe({ capacity: attachOptions.capacity })
      return {
        instanceId: id,
        component: found.name,
        backlog: subscription.backlog,
        status: subscription.status,
        events: subscription.events,
        currentStatus: found.status,
        write: found.write,
        resize: found.resize,
        history: found.history.query
      } satisfies Terminal
    })

  const add = (request: AddRequest) => Effect.flatMap(Registration.check(request), registry.add)

  yield* Effect.addFinalizer(() =>
    Effect.forEach(
      [...runtimes.values()],
      (runtime) => withLock(runtime.id)(Effect.andThen(stopRuntime(runtime), close(runtime))),
      { concurrency: "unbounded", discard: true }
    )
  )

  if (options.reconcile !== false) {
    const claimed = yield* claim(undefined, orphans)
    const reconciled = yield* registry.reconcile([
      ...claimed.adopted,
      ...claimed.foreign.map((record) => record.instance_id)
    ])
    if (reconciled.length > 0) {
      yield* Effect.logWarning(`${reconciled.length} instance(s) were left active by a previous run; now stopped`)
    }
  }

  return InstanceSupervisor.of({
    list: Effect.flatMap(registry.list, (instances) => Effect.forEach(instances, view)),
    get: (id) => Effect.flatMap(registry.get(id), view),
    counts,
    add,
    start,
    startComponent,
    stopComponent,
    restartComponent,
    stop,
    restart,
    remove,
    componentStats,
    attach
  })
})
