/**
 * Deploys MaiBot versions with their services and updates deployed instances, both generations each the way its
 * own project does (`shared/contracts/maibot-generations.md`): real `git`, `python -m venv` and `pip` (or `uv`),
 * progress read from their output, registered in `InstanceRegistry` when done.
 *
 * - Versions: `git ls-remote` over the configured remotes in order, cached on disk with a TTL, answered from the
 *   cache or a built-in list when offline; tags newest first by semantic version (pre-releases below their
 *   release), `latest` (the newest release), `main`, `dev`; a minimum version instead of a hard-coded prefix.
 * - Jobs: one per folder (a second deploy to the same folder is refused); state and the last 200 log lines are
 *   in MaiKit's database, so a finished or failed job stays readable and a job cut short by a restart of MaiKit
 *   shows `failed` and can be retried. Events come as a `Stream` (and one stream for every job's events).
 * - Each job records a path before it creates it. A failure, a cancel or an interruption removes exactly those
 *   (a folder that existed before keeps itself and is listed as kept), after the running tool's whole process
 *   session is killed. A job's tool runs in its own session, and its pid is recorded: a MaiKit that died
 *   mid-job leaves it to the next one, which kills it before cleaning up.
 * - Updates refuse a running instance, back it up first, and restore the backup on any failure; backups are
 *   listed, restorable and deletable.
 */
import { Cause, Clock, Context, Effect, Exit, Fiber, Layer, Option, PubSub, Semaphore, Stream, Struct } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { MaikitConfig } from "../platform/MaikitConfig.ts"
import * as DeployJob from "./DeployJob.ts"
import {
  BackupFailed,
  BackupNotFound,
  DeployerError,
  InstanceBusy,
  InstanceMissing,
  InvalidRequest,
  JobNotFound,
  JobState,
  PathBusy,
  StepFailed
} from "./DeployerError.ts"
import * as InstanceRegistry from "./InstanceRegistry.ts"
import * as Catalog from "./internal/deployer/catalog.ts"
import type { JobContext, PipSettings, Settings, Timeouts, ToolRun } from "./internal/deployer/context.ts"
import * as Deploy from "./internal/deployer/deploy.ts"
import * as Files from "./internal/deployer/files.ts"
import * as Plan from "./internal/deployer/plan.ts"
import * as Python from "./internal/deployer/python.ts"
import * as Store from "./internal/deployer/store.ts"
import * as Tool from "./internal/deployer/tool.ts"
import * as Update from "./internal/deployer/update.ts"
import * as Versions from "./internal/deployer/versions.ts"
import * as ProcessTree from "./ProcessTree.ts"

export * from "./DeployJob.ts"
export { DeployerError, StepFailed } from "./DeployerError.ts"
export type { DeployRequest, ServiceRequest } from "./internal/deployer/plan.ts"
export { parseTag, sortTags } from "./internal/deployer/versions.ts"

export interface Options {
  readonly maibotRemotes?: ReadonlyArray<string> | undefined
  readonly adapterRemotes?: ReadonlyArray<string> | undefined
  readonly pip?: Partial<PipSettings> | undefined
  /** Interpreters to try, newest first; default the configured `python`, else `python3.13`, `python3.12`, `python3`, `python`. */
  readonly pythonCandidates?: ReadonlyArray<string> | undefined
  readonly napcatArchive?: string | undefined
  readonly napcatSha256?: string | undefined
  readonly minimumVersion?: string | undefined
  readonly catalogTtlMs?: number | undefined
  /** Per step: clone/fetch 10 min, venv 5 min, requirements 30 min, NapCat's archive 15 min. */
  readonly timeouts?: Partial<Timeouts> | undefined
  /** The environment tools run with. Default MaiKit's own. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Mark jobs whose MaiKit is gone as failed, cleaning up after them, at start-up (default true). */
  readonly reconcile?: boolean | undefined
}

export const defaultTimeouts: Timeouts = {
  cloneMs: 10 * 60_000,
  venvMs: 5 * 60_000,
  pipMs: 30 * 60_000,
  archiveMs: 15 * 60_000
}

/** What `/deploy/services` offers: the services this deployer installs. */
export const deployableServices: ReadonlyArray<DeployJob.DeployableService> = [
  { name: "napcat-ada", description: "NapCat 适配器（0.x 为独立进程，1.x 为 MaiBot 插件）" },
  { name: "napcat", description: "NapCat 服务（从发布包安装）" }
]

export interface Service {
  /** Versions to offer, newest first; never fails. `refresh` skips a fresh cache. */
  readonly versions: (options?: { readonly refresh?: boolean }) => Effect.Effect<DeployJob.VersionListing>
  /** Checks the request (nothing is written when it is refused) and starts the job; answers its first status. */
  readonly deploy: (request: Plan.DeployRequest) => Effect.Effect<DeployJob.JobStatus, DeployerError>
  readonly status: (jobId: string) => Effect.Effect<DeployJob.JobStatus, DeployerError>
  /** Every job, newest first, without log lines. */
  readonly jobs: Effect.Effect<ReadonlyArray<DeployJob.JobStatus>, DeployerError>
  /** The job's status now, then its events until it finishes. */
  readonly watch: (jobId: string) => Stream.Stream<DeployJob.JobEvent, DeployerError>
  /** Every job's events from now on. */
  readonly events: Stream.Stream<DeployJob.JobEvent>
  /** Stops a running job at once (its tools' processes are killed) and removes what it created. */
  readonly cancel: (jobId: string) => Effect.Effect<DeployJob.JobStatus, DeployerError>
  /** Runs a failed job again, with the same id and request. */
  readonly retry: (jobId: string) => Effect.Effect<DeployJob.JobStatus, DeployerError>
  /** Updates a stopped instance to another version or branch, as a job. */
  readonly update: (instanceId: string, version: string) => Effect.Effect<DeployJob.JobStatus, DeployerError>
  readonly backups: (instanceId?: string) => Effect.Effect<ReadonlyArray<DeployJob.Backup>, DeployerError>
  /** Puts a backup back: code, config, data, the venv it replaced, the instance's version and components. */
  readonly restoreBackup: (backupId: string) => Effect.Effect<DeployJob.Backup, DeployerError>
  /** Deletes a backup and the venv it kept aside. */
  readonly deleteBackup: (backupId: string) => Effect.Effect<DeployJob.Backup, DeployerError>
}

const fail = (reason: ConstructorParameters<typeof DeployerError>[0]["reason"]) => Effect.fail(new DeployerError({ reason }))

const isActive = (status: InstanceRegistry.InstanceStatus) =>
  status === "starting" || status === "running" || status === "stopping" || status === "crashed"

const isoOf = (millis: number) => new Date(millis).toISOString()

const stepLabels: Readonly<Record<string, string>> = {
  prepare: "阶段1/4 准备部署环境",
  clone: "阶段2/4 克隆MaiBot",
  verify: "阶段2/4 验证文件",
  agreements: "确认协议",
  python: "阶段3/4 检查Python",
  venv: "阶段3/4 创建虚拟环境",
  deps: "阶段3/4 安装依赖",
  config: "配置文件",
  "napcat-ada": "安装服务 napcat-ada",
  napcat: "安装服务 napcat",
  register: "阶段4/4 保存实例信息",
  backup: "备份",
  fetch: "获取新版本",
  checkout: "切换版本",
  swap: "替换虚拟环境"
}

const isOwnerAlive = (record: Store.JobRecord) =>
  record.ownerPid !== process.pid && Tool.isRunning(record.ownerPid, record.ownerTicks)

const overlaps = (path: string, other: string) => Files.isInside(path, other) || Files.isInside(other, path)

interface Running {
  readonly record: Store.JobRecord
  fiber: Fiber.Fiber<unknown, unknown> | undefined
  cancelled: boolean
  seq: number
  savedAt: number
}

export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const config = yield* MaikitConfig
  const registry = yield* InstanceRegistry.InstanceRegistry
  const store = yield* Store.make
  const tree = yield* ProcessTree.ProcessTree
  const scope = yield* Effect.scope
  const pubsub = yield* PubSub.sliding<DeployJob.JobEvent>(4096)
  const running = new Map<string, Running>()
  const admission = Semaphore.makeUnsafe(1)
  const catalogLock = Semaphore.makeUnsafe(1)
  const selfTicks = Tool.startTicksOf(process.pid)

  const env = options.env ?? process.env
  const settings: Settings = {
    maibotRemotes: options.maibotRemotes ?? config.maibotRemotes,
    adapterRemotes: options.adapterRemotes ?? config.adapterRemotes,
    pip: {
      indexUrl: options.pip?.indexUrl ?? Option.getOrUndefined(config.pipIndexUrl),
      extraIndexUrls: options.pip?.extraIndexUrls ?? config.pipExtraIndexUrls,
      trustedHosts: options.pip?.trustedHosts ?? config.pipTrustedHosts
    },
    pythonCandidates: options.pythonCandidates ??
      Option.match(config.python, { onNone: () => Python.defaultCandidates, onSome: (python) => [python] }),
    napcatArchive: options.napcatArchive ?? Option.getOrUndefined(config.napcatArchive),
    napcatSha256: options.napcatSha256 ?? Option.getOrUndefined(config.napcatSha256),
    timeouts: { ...defaultTimeouts, ...options.timeouts },
    env,
    backupRoot: Path.join(config.dataDir, "backups")
  }
  const minimum = Versions.parseTag(options.minimumVersion ?? config.maibotMinVersion)
  const catalogOptions = {
    remotes: settings.maibotRemotes,
    cacheFile: Path.join(config.dataDir, "deployer", "catalog.json"),
    ttlMs: options.catalogTtlMs ?? config.catalogTtlSeconds * 1000,
    env,
    timeoutMs: 20_000
  }

  const loadCatalog = (refresh: boolean) =>
    catalogLock.withPermit(Catalog.load({ ...catalogOptions, refresh })).pipe(
      Effect.map((loaded) => ({ loaded, catalog: Versions.catalogOf(loaded.refs, minimum) }))
    )

  const versions = Effect.fn("Deployer.versions")(function*(request: { readonly refresh?: boolean } = {}) {
    const { loaded, catalog } = yield* loadCatalog(request.refresh === true)
    return {
      versions: Versions.listing(catalog),
      latest: catalog.latest ?? null,
      source: loaded.source.kind,
      remote: loaded.source.remote ?? null,
      fetchedAt: loaded.source.fetchedAt === undefined ? null : isoOf(loaded.source.fetchedAt)
    } satisfies DeployJob.VersionListing
  })

  const publish = (event: DeployJob.JobEvent) => PubSub.publish(pubsub, event)

  const persist = (job: Running, force: boolean) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (!force && now - job.savedAt < 300) return
      job.savedAt = now
      job.record.status = { ...job.record.status, updatedAt: isoOf(now) }
      yield* store.save(job.record).pipe(Effect.catch((error) => Effect.logWarning(`deployer: ${error.message}`)))
    })

  const contextOf = (job: Running): JobContext => {
    const status = () => job.record.status
    const update = (changes: Partial<DeployJob.JobStatus>) => {
      job.record.status = { ...job.record.status, ...changes }
    }
    const log = (level: DeployJob.LogLevel, message: string) =>
      Effect.gen(function*() {
        const entry = { at: yield* Clock.currentTimeMillis, level, message }
        const logs = [...status().logs, entry]
        update({ logs: logs.length > Store.logLimit ? logs.slice(-Store.logLimit) : logs })
        job.seq += 1
        yield* store.appendLog(status().id, job.seq, entry).pipe(Effect.catch((error) => Effect.logWarning(`deployer: ${error.message}`)))
        yield* publish({ _tag: "Log", jobId: status().id, entry })
      })
    const progress = (percent: number, message: string) =>
      Effect.gen(function*() {
        const next = Math.max(status().progress, Math.min(99, Math.round(percent)))
        if (next === status().progress && message === status().message && status().status === "installing") return
        update({ progress: next, message, status: "installing" })
        yield* publish({ _tag: "Progress", jobId: status().id, status: "installing", progress: next, message, step: status().step })
        yield* persist(job, false)
      })
    const runTool = (run: ToolRun) =>
      Effect.gen(function*() {
        const tracker = run.tracker
        const range = run.range
        let shown = -1
        yield* Tool.run({ ...run.spec, env: run.spec.env ?? env }, {
          onStart: (started) =>
            Effect.gen(function*() {
              job.record.toolPid = started.pid
              job.record.toolTicks = started.startTicks
              yield* persist(job, true)
            }),
          onLine: (line) =>
            Effect.gen(function*() {
              const fraction = tracker?.feed(line)
              const quiet = run.quietProgress === true && /\d+% \(\d+\/\d+\)/.test(line) && !/100% \(/.test(line)
              if (!quiet) yield* log(/^(ERROR|fatal|error):/.test(line.trim()) ? "error" : /^WARNING:|^warning:/.test(line.trim()) ? "warning" : "info", line)
              if (fraction === undefined || range === undefined) return
              const percent = Math.round(fraction * 100)
              if (percent === shown) return
              shown = percent
              const message = (run.message ?? status().message).replace("{done}", `${percent}%`)
              yield* progress(range[0] + (range[1] - range[0]) * fraction, message)
            })
        }).pipe(
          Effect.provideService(ProcessTree.ProcessTree, tree),
          Effect.ensuring(Effect.suspend(() => {
            job.record.toolPid = undefined
            job.record.toolTicks = undefined
            return persist(job, true)
          }))
        )
        if (range !== undefined) yield* progress(range[1], run.message?.replace(" ({done})", "") ?? status().message)
      })
    return {
      jobId: status().id,
      settings,
      log,
      progress,
      step: (name) => Effect.suspend(() => {
        update({ step: name })
        return persist(job, true)
      }),
      service: (service) =>
        Effect.gen(function*() {
          const services = status().services.some((entry) => entry.name === service.name)
            ? status().services.map((entry) => (entry.name === service.name ? service : entry))
            : [...status().services, service]
          update({ services })
          yield* publish({ _tag: "Service", jobId: status().id, service })
          yield* persist(job, true)
        }),
      resolved: (ref, generation) => Effect.suspend(() => {
        update({ ref, generation })
        return persist(job, true)
      }),
      created: (entry) => Effect.suspend(() => {
        if (!job.record.created.some((known) => known.path === entry.path)) job.record.created.push(entry)
        return persist(job, true)
      }),
      runTool
    }
  }

  /** Removes what the job created and writes its end; for updates the restore has already run inside the job. */
  const finish = (job: Running, exit: Exit.Exit<unknown, unknown>) =>
    Effect.gen(function*() {
      const status = job.record.status
      const now = yield* Clock.currentTimeMillis
      const context = contextOf(job)
      if (Exit.isSuccess(exit)) {
        const message = status.kind === "deploy" ? "部署完成！所有4个阶段已完成" : `更新完成：实例 ${status.name} 现在是 ${status.ref ?? status.version}`
        yield* context.log("success", `🎉 ${message}`)
        job.record.status = {
          ...job.record.status,
          status: "completed",
          progress: 100,
          message,
          services: job.record.status.services.map((service) =>
            service.status === "completed" || service.status === "skipped" ? service : { ...service, status: "completed", progress: 100 }
          ),
          finishedAt: isoOf(now)
        }
      } else {
        const interrupted = Cause.hasInterruptsOnly(exit.cause)
        const failure = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
        const step = status.step
        const label = stepLabels[step] ?? step
        const what = status.kind === "deploy" ? "部署" : "更新"
        const message = interrupted
          ? job.cancelled ? `${what}已取消` : `${what}被中断：MaiKit 正在关闭（可重试）`
          : failure instanceof StepFailed
          ? `${label}失败 (${failure.tool}): ${failure.output}`
          : `${label}失败: ${failure === undefined ? Cause.pretty(exit.cause) : String((failure as { message?: unknown }).message ?? failure)}`
        yield* context.log(interrupted ? "warning" : "error", `❌ ${message}`)
        const removal = yield* Effect.promise(() => Files.removeCreated(job.record.created))
        for (const path of removal.removed) yield* context.log("info", `🧹 已删除 ${path}`)
        for (const path of removal.kept) yield* context.log("info", `📁 保留 ${path}（任务开始前已存在）`)
        job.record.created = []
        job.record.status = {
          ...job.record.status,
          status: "failed",
          message,
          cancelled: job.cancelled,
          kept: removal.kept,
          removed: removal.removed,
          services: job.record.status.services.map((service) =>
            service.status === "completed" ? service : { ...service, status: "failed", message: service.status === "pending" ? "未安装" : message }
          ),
          finishedAt: isoOf(now)
        }
      }
      yield* persist(job, true)
      running.delete(status.id)
      yield* publish({ _tag: "Finished", jobId: status.id, status: job.record.status })
    }).pipe(Effect.uninterruptible)

  const start = (job: Running, body: (context: JobContext) => Effect.Effect<unknown, unknown, ProcessTree.ProcessTree>) =>
    Effect.gen(function*() {
      running.set(job.record.status.id, job)
      yield* persist(job, true)
      const fiber = yield* Effect.forkIn(
        Effect.suspend(() => body(contextOf(job))).pipe(
          Effect.provideService(ProcessTree.ProcessTree, tree),
          Effect.onExit((exit) => finish(job, exit))
        ),
        scope
      )
      job.fiber = fiber
      return job.record.status
    })

  const newJob = (status: Omit<DeployJob.JobStatus, "startedAt" | "updatedAt" | "finishedAt" | "logs" | "kept" | "removed" | "cancelled" | "step" | "progress" | "message" | "status" | "ref" | "generation" | "backupId">, request: string, now: number, backupId: string | null = null): Running => ({
    record: {
      status: {
        ...status,
        ref: null,
        generation: null,
        status: "preparing",
        progress: 0,
        message: "正在准备部署...",
        step: "prepare",
        logs: [],
        cancelled: false,
        kept: [],
        removed: [],
        backupId,
        startedAt: isoOf(now),
        updatedAt: isoOf(now),
        finishedAt: null
      },
      request,
      created: [],
      ownerPid: process.pid,
      ownerTicks: selfTicks,
      toolPid: undefined,
      toolTicks: undefined
    },
    fiber: undefined,
    cancelled: false,
    seq: 0,
    savedAt: 0
  })

  /** A job working in `path` (or a folder inside it or around it), here or in another live MaiKit. */
  const busyWith = (path: string) =>
    Effect.gen(function*() {
      for (const job of running.values()) if (overlaps(path, job.record.status.path)) return job.record.status.id
      const active = yield* store.active
      return active.find((record) => isOwnerAlive(record) && overlaps(path, record.status.path))?.status.id
    })

  const deployBody = (plan: Plan.Plan) => (context: JobContext) =>
    Effect.gen(function*() {
      const registration = yield* Deploy.run(context, plan)
      yield* context.progress(90, "阶段4/4: 后端记录数据库 - 正在保存配置到数据库")
      yield* registry.add({ ...registration.instance, id: context.jobId }).pipe(
        Effect.mapError((error) => new StepFailed({ step: "register", tool: "database", output: error.message }))
      )
      yield* store.recordInstance({ ...registration.deployed, instance_id: context.jobId, updated_at: isoOf(yield* Clock.currentTimeMillis) }).pipe(
        Effect.catch((error) => context.log("warning", `⚠️ ${error.message}`))
      )
      yield* context.progress(95, "阶段4/4: 后端记录数据库 - 正在完成最后配置")
    })

  const admit = (request: Plan.DeployRequest, jobId: string) =>
    Effect.gen(function*() {
      const expanded = Files.expandHome(request.path)
      if (Path.isAbsolute(expanded)) {
        const earlier = yield* busyWith(Path.resolve(expanded))
        if (earlier !== undefined) return yield* fail(new PathBusy({ path: Path.resolve(expanded), jobId: earlier }))
      }
      const { catalog } = yield* loadCatalog(false)
      const instances = yield* registry.list.pipe(
        Effect.mapError((error) => new DeployerError({ reason: new InvalidRequest({ field: "registry", problem: "empty", value: error.message }) }))
      )
      const plan = yield* Plan.make(request, {
        catalog,
        instances,
        napcatArchive: settings.napcatArchive,
        napcatSha256: settings.napcatSha256
      }).pipe(Effect.mapError((reason) => new DeployerError({ reason })))
      const busy = yield* busyWith(plan.path)
      if (busy !== undefined) return yield* fail(new PathBusy({ path: plan.path, jobId: busy }))
      const now = yield* Clock.currentTimeMillis
      const job = newJob({ id: jobId, kind: "deploy", instanceId: jobId, name: plan.name, version: plan.version, path: plan.path, services: plan.services.map((service) => ({ name: service.name, status: "pending", progress: 0, message: "等待安装" })) }, JSON.stringify(request), now)
      return yield* start(job, deployBody(plan))
    })

  const deploy = Effect.fn("Deployer.deploy")(function*(request: Plan.DeployRequest) {
    const id = InstanceRegistry.makeId(request.name)
    return yield* admission.withPermit(admit(request, id))
  })

  const loadJob = (jobId: string) =>
    Effect.gen(function*() {
      const live = running.get(jobId)
      if (live !== undefined) return live.record
      const stored = yield* store.get(jobId)
      if (stored === undefined) return yield* fail(new JobNotFound({ jobId }))
      return stored
    })

  const jobStatus = Effect.fn("Deployer.status")(function*(jobId: string) {
    return (yield* loadJob(jobId)).status
  })

  const jobs = Effect.map(store.list, (records) =>
    records.map((record) => running.get(record.status.id)?.record.status ?? record.status).map((status) => ({ ...status, logs: [] })))

  const watch = (jobId: string): Stream.Stream<DeployJob.JobEvent, DeployerError> =>
    Stream.unwrap(Effect.gen(function*() {
      const subscription = yield* PubSub.subscribe(pubsub)
      const current = (yield* loadJob(jobId)).status
      const snapshot: DeployJob.JobEvent = current.status === "completed" || current.status === "failed"
        ? { _tag: "Finished", jobId, status: current }
        : { _tag: "Progress", jobId, status: current.status, progress: current.progress, message: current.message, step: current.step }
      if (snapshot._tag === "Finished") return Stream.succeed(snapshot)
      const live = Stream.fromSubscription(subscription).pipe(
        Stream.filter((event) => event.jobId === jobId),
        Stream.takeUntil((event) => event._tag === "Finished")
      )
      return Stream.concat(Stream.succeed(snapshot), live)
    }))

  const cancel = Effect.fn("Deployer.cancel")(function*(jobId: string) {
    const live = running.get(jobId)
    if (live === undefined) {
      const record = yield* loadJob(jobId)
      return yield* fail(new JobState({ jobId, status: record.status.status }))
    }
    live.cancelled = true
    if (live.fiber !== undefined) yield* Fiber.interrupt(live.fiber)
    return live.record.status
  })

  const retry = Effect.fn("Deployer.retry")(function*(jobId: string) {
    return yield* admission.withPermit(Effect.gen(function*() {
      const record = yield* loadJob(jobId)
      if (running.has(jobId) || record.status.status !== "failed") {
        return yield* fail(new JobState({ jobId, status: record.status.status }))
      }
      yield* store.removeLogs(jobId)
      if (record.status.kind === "deploy") return yield* admit(JSON.parse(record.request) as Plan.DeployRequest, jobId)
      const request = JSON.parse(record.request) as { readonly instanceId: string; readonly version: string }
      return yield* startUpdate(request.instanceId, request.version, jobId)
    }))
  })

  const startUpdate = (instanceId: string, version: string, jobId: string) =>
    Effect.gen(function*() {
      const instance = yield* registry.get(instanceId).pipe(
        Effect.catchTag("InstanceNotFound", () => fail(new InstanceMissing({ instanceId }))),
        Effect.mapError((error) => error._tag === "DeployerError" ? error : new DeployerError({ reason: new InstanceMissing({ instanceId }) }))
      )
      if (isActive(instance.status)) return yield* fail(new InstanceBusy({ instanceId, status: instance.status }))
      if (Files.kindOf(Path.join(instance.path, ".git")) !== "directory") {
        return yield* fail(new InvalidRequest({ field: "instance", problem: "notRepository", value: instance.path }))
      }
      const { catalog } = yield* loadCatalog(false)
      const resolved = Versions.resolve(catalog, version)
      if (resolved === undefined) {
        return yield* fail(new InvalidRequest({ field: "version", problem: "unknownVersion", value: version, detail: Versions.listing(catalog).slice(0, 12).join(", ") }))
      }
      const deployed = yield* store.instanceOf(instanceId)
      const generation = Update.generationOf(instance, deployed)
      if (Update.isDowngrade(generation, resolved)) {
        return yield* fail(new InvalidRequest({ field: "version", problem: "downgrade", value: version, detail: generation }))
      }
      const busy = yield* busyWith(instance.path)
      if (busy !== undefined) return yield* fail(new PathBusy({ path: instance.path, jobId: busy }))
      const backupId = Update.newBackupId()
      const now = yield* Clock.currentTimeMillis
      const job = newJob({ id: jobId, kind: "update", instanceId, name: instance.name, version, path: instance.path, services: [] }, JSON.stringify({ instanceId, version }), now, backupId)
      return yield* start(job, (context) =>
        Effect.gen(function*() {
          const result = yield* Update.run(context, store, { instance, resolved, requested: version, deployed, generation, backupId })
          yield* context.progress(90, "阶段4/4: 后端记录数据库 - 正在保存配置到数据库")
          yield* registry.update(instanceId, { version: result.version, components: result.components }).pipe(
            Effect.mapError((error) => new StepFailed({ step: "register", tool: "database", output: error.message }))
          )
          yield* store.recordInstance({ ...result.deployed, instance_id: instanceId, updated_at: isoOf(yield* Clock.currentTimeMillis) }).pipe(
            Effect.catch((error) => context.log("warning", `⚠️ ${error.message}`))
          )
        }))
    })

  const update = Effect.fn("Deployer.update")(function*(instanceId: string, version: string) {
    const jobId = Crypto.randomBytes(20).toString("hex")
    return yield* admission.withPermit(startUpdate(instanceId, version, jobId))
  })

  const backups = Effect.fn("Deployer.backups")(function*(instanceId?: string) {
    return (yield* store.backups(instanceId)).map(Store.backupOf)
  })

  const findBackup = (backupId: string) =>
    Effect.flatMap(store.backup(backupId), (row) => row === undefined ? fail(new BackupNotFound({ backupId })) : Effect.succeed(row))

  const restoreBackup = Effect.fn("Deployer.restoreBackup")(function*(backupId: string) {
    return yield* admission.withPermit(Effect.gen(function*() {
      const row = yield* findBackup(backupId)
      const instance = yield* registry.get(row.instance_id).pipe(
        Effect.mapError(() => new DeployerError({ reason: new InstanceMissing({ instanceId: row.instance_id }) }))
      )
      if (isActive(instance.status)) return yield* fail(new InstanceBusy({ instanceId: instance.id, status: instance.status }))
      const busy = yield* busyWith(instance.path)
      if (busy !== undefined) return yield* fail(new PathBusy({ path: instance.path, jobId: busy }))
      const failed = (step: string) => (error: unknown) =>
        new DeployerError({ reason: new BackupFailed({ backupId, step, output: error instanceof Error ? error.message : String((error as { output?: unknown }).output ?? error) }) })
      const quiet = { log: () => Effect.void, settings } as Pick<JobContext, "log" | "settings">
      yield* Update.restoreFiles(quiet, instance.path, row).pipe(Effect.mapError(failed("files")))
      if (row.previous_venv !== null && Files.kindOf(row.previous_venv) === "directory") {
        const venv = Path.join(instance.path, "venv")
        yield* Effect.tryPromise({
          try: async () => {
            await Fs.promises.rm(venv, { recursive: true, force: true })
            await Fs.promises.rename(row.previous_venv as string, venv)
          },
          catch: failed("venv")
        })
        yield* store.setPreviousVenv(backupId, null)
      }
      const components = JSON.parse(row.components) as ReadonlyArray<InstanceRegistry.Component>
      yield* registry.update(instance.id, {
        version: row.version,
        components: components.map(Struct.omit(["position"]))
      }).pipe(Effect.mapError(failed("registry")))
      const deployed = yield* store.instanceOf(instance.id)
      if (deployed !== undefined && row.generation !== null) {
        yield* store.recordInstance({
          ...deployed,
          generation: row.generation,
          adapter: components.some((component) => component.name === "napcat-ada") ? "process" : deployed.adapter,
          updated_at: isoOf(yield* Clock.currentTimeMillis)
        })
      }
      return Store.backupOf((yield* store.backup(backupId)) ?? row)
    }))
  })

  const deleteBackup = Effect.fn("Deployer.deleteBackup")(function*(backupId: string) {
    const row = yield* findBackup(backupId)
    yield* Effect.tryPromise({
      try: async () => {
        await Fs.promises.rm(row.directory, { recursive: true, force: true })
        if (row.previous_venv !== null) await Fs.promises.rm(row.previous_venv, { recursive: true, force: true })
      },
      catch: (error) => new DeployerError({ reason: new BackupFailed({ backupId, step: "delete", output: String(error) }) })
    })
    yield* store.removeBackup(backupId)
    return Store.backupOf(row)
  })

  /** Jobs whose MaiKit is gone: their tool is killed, what they created removed (an update restored), then `failed`. */
  const reconcile = Effect.gen(function*() {
    const active = yield* store.active
    for (const record of active) {
      if (running.has(record.status.id) || isOwnerAlive(record)) continue
      if (record.toolPid !== undefined && Tool.isRunning(record.toolPid, record.toolTicks)) {
        yield* Tool.killSession(record.toolPid).pipe(Effect.provideService(ProcessTree.ProcessTree, tree))
      }
      const job: Running = { record, fiber: undefined, cancelled: false, seq: record.status.logs.length + 1000, savedAt: 0 }
      const context = contextOf(job)
      if (record.status.kind === "update" && record.status.backupId !== null && ["checkout", "venv", "deps", "config", "napcat-ada", "swap", "register"].includes(record.status.step)) {
        const backup = yield* store.backup(record.status.backupId)
        if (backup !== undefined) {
          if (backup.previous_venv !== null && Files.kindOf(backup.previous_venv) === "directory") {
            yield* Effect.sync(() => {
              const venv = Path.join(record.status.path, "venv")
              Fs.rmSync(venv, { recursive: true, force: true })
              Fs.renameSync(backup.previous_venv as string, venv)
            })
            yield* store.setPreviousVenv(backup.id, null)
          }
          yield* Effect.ignore(Update.restoreFiles(context, record.status.path, backup))
          yield* context.log("warning", "↩️ 已恢复更新前的备份")
        }
      }
      const what = record.status.kind === "deploy" ? "部署" : "更新"
      yield* finish(job, Exit.fail(new StepFailed({ step: record.status.step, tool: "maikit", output: `${what}被中断：MaiKit 在任务进行中退出（可重试）` })))
    }
  })

  if (options.reconcile !== false) {
    yield* reconcile.pipe(Effect.catch((error) => Effect.logWarning(`deployer: cannot reconcile jobs: ${error.message}`)))
  }

  yield* Effect.addFinalizer(() =>
    Effect.forEach([...running.values()], (job) => (job.fiber === undefined ? Effect.void : Fiber.interrupt(job.fiber)), {
      concurrency: "unbounded",
      discard: true
    })
  )

  return Deployer.of({
    versions,
    deploy,
    status: jobStatus,
    jobs,
    watch,
    events: Stream.fromPubSub(pubsub),
    cancel,
    retry,
    update,
    backups,
    restoreBackup,
    deleteBackup
  })
})

export class Deployer extends Context.Service<Deployer, Service>()("@maikit/core/Deployer") {
  /** The deployer on the `SqlClient`, config and registry in context, with its tables migrated first. */
  static readonly layer = (options: Options = {}) =>
    Layer.effect(Deployer, make(options)).pipe(
      Layer.provide(Store.migrations),
      Layer.provide(ProcessTree.ProcessTree.layer)
    )
}
