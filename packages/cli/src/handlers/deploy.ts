/**
 * What `maikit versions|deploy|backups …` and `maikit instances update` do (the definitions are in
 * `commands/deploy.ts`): the Deployer in this process on the local database, or a server's through its typed
 * client. A job here is followed through the Deployer's events; a server's job is polled, and Ctrl+C cancels it
 * there too.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { Deployer, InstanceRegistry } from "@maikit/core/launcher"
import { Database } from "@maikit/core/platform"
import { LauncherClient, LauncherDeployClient } from "@maikit/http-adapter/launcher"
import type * as Commands from "../commands/deploy.ts"
import type { Input, Local } from "../commands/flags.ts"
import { onDatabase, settings } from "./local.ts"
import { fail, printJson, printOutcome, table } from "./output.ts"
import { given, onServer, type Target } from "./remote.ts"

/** Runs `effect` with the deployer on the local database. */
const onDeployer = <A, E extends { readonly message: string; readonly _tag: string }>(
  flags: Local,
  effect: Effect.Effect<A, E, Deployer.Deployer>
) =>
  onDatabase(
    Deployer.Deployer.layer().pipe(
      Layer.provide(InstanceRegistry.InstanceRegistry.layer),
      Layer.provide(Database.layer),
      Layer.provide(settings(flags))
    ),
    effect
  )

type Clients = LauncherDeployClient.LauncherDeployClient | LauncherClient.LauncherInstancesClient

/** Runs `effect` with the server's deploy and instance clients. */
const onServerDeployer = <A, E>(at: Target, effect: Effect.Effect<A, E, Clients>) =>
  onServer(
    at,
    (options) =>
      Layer.mergeAll(
        LauncherDeployClient.LauncherDeployClient.layer(options),
        LauncherClient.LauncherInstancesClient.layer(options)
      ),
    effect
  )

const deployClient = Effect.map(Effect.service(LauncherDeployClient.LauncherDeployClient), (client) => client.launcherDeploy)

// ---------------------------------------------------------------------------------------------------------
// following a job

const tty = () => process.stdout.isTTY === true

const bar = (percent: number, width = 30) => {
  const filled = Math.round((percent / 100) * width)
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(percent).padStart(3)}%`
}

/** Redraws the bar in place, cut to the terminal's width. */
const draw = (percent: number, message: string) =>
  Effect.sync(() => {
    const columns = process.stdout.columns ?? 100
    const line = `${bar(percent)} ${message}`.slice(0, Math.max(20, columns - 1))
    process.stdout.write(`\r\x1b[2K${line}`)
  })

/** How a job's progress reaches the screen: a bar redrawn in place on a terminal, a line per change elsewhere. */
const makeProgress = () => {
  const onTerminal = tty()
  let shown = ""
  const clearBar = onTerminal ? Effect.sync(() => process.stdout.write("\r\x1b[2K")) : Effect.void
  return {
    clearBar,
    progress: (percent: number, message: string) => {
      if (onTerminal) return draw(percent, message)
      const line = `[${String(percent).padStart(3)}%] ${message}`
      if (line === shown) return Effect.void
      shown = line
      return Console.log(line)
    },
    /** A log line: on a terminal only warnings and errors, under the bar. */
    log: (level: Deployer.LogLevel, message: string) =>
      onTerminal && level !== "warning" && level !== "error" ? Effect.void : Effect.andThen(clearBar, Console.log(`  ${message}`)),
    service: (name: string, status: string, message: string) =>
      onTerminal ? Effect.void : Console.log(`  [${name}] ${status} ${message}`)
  }
}

/** Follows a job of the local Deployer to its end. */
const follow = (jobId: string) =>
  Effect.gen(function*() {
    const deployer = yield* Deployer.Deployer
    const screen = makeProgress()
    yield* deployer.watch(jobId).pipe(
      Stream.runForEach((event) => {
        switch (event._tag) {
          case "Progress":
            return screen.progress(event.progress, event.message)
          case "Log":
            return screen.log(event.entry.level, event.entry.message)
          case "Service":
            return screen.service(event.service.name, event.service.status, event.service.message)
          case "Finished":
            return screen.clearBar
        }
      })
    )
    return yield* deployer.status(jobId)
  })

/** Follows a server's job to its end by polling its install status; interrupted (Ctrl+C), it cancels the job. */
const followRemote = (jobId: string) =>
  Effect.gen(function*() {
    const deploy = yield* deployClient
    const screen = makeProgress()
    let logsShown = 0
    while (true) {
      const status = yield* deploy.installStatus({ params: { id: jobId } })
      yield* Effect.forEach(status.logs.slice(logsShown), (entry) => screen.log(entry.level, entry.message), { discard: true })
      logsShown = status.logs.length
      yield* screen.progress(status.progress, status.message)
      if (status.status === "completed" || status.status === "failed") {
        yield* screen.clearBar
        return status
      }
      yield* Effect.sleep("1 second")
    }
  }).pipe(
    Effect.onInterrupt(() => Effect.ignore(Effect.flatMap(deployClient, (deploy) => deploy.cancel({ params: { id: jobId } }))))
  )

const report = (status: {
  readonly status: Deployer.JobStatusName
  readonly message: string
  readonly removed: ReadonlyArray<string>
  readonly kept: ReadonlyArray<string>
}) =>
  Effect.gen(function*() {
    if (status.status === "completed") return yield* Console.log(`✔ ${status.message}`)
    for (const path of status.removed) yield* Console.error(`  removed ${path}`)
    for (const path of status.kept) yield* Console.error(`  kept ${path}`)
    return yield* fail(status.message)
  })

// ---------------------------------------------------------------------------------------------------------
// versions, deploy, update

const printListing = (listing: {
  readonly versions: ReadonlyArray<string>
  readonly latest: string | null
  readonly source: "remote" | "cache" | "builtin"
  readonly remote: string | null
  readonly fetchedAt: string | null
}) =>
  Effect.gen(function*() {
    const source = listing.source === "builtin"
      ? "built-in list (no remote reachable, no cache)"
      : `${listing.source === "cache" ? "cache of " : ""}${listing.remote ?? "?"}${listing.fetchedAt === null ? "" : ` at ${listing.fetchedAt}`}`
    yield* Console.log(listing.versions.map((version) => version === "latest" ? `latest (${listing.latest ?? "?"})` : version).join("\n"))
    yield* Console.error(`from ${source}`)
  })

export const versions = (flags: Input<typeof Commands.versionsFlags>) =>
  Option.match(given(flags), {
    onNone: () =>
      onDeployer(flags, Effect.gen(function*() {
        const listing = yield* Deployer.Deployer.use((deployer) => deployer.versions({ refresh: flags.refresh }))
        yield* flags.json ? printJson(listing) : printListing(listing)
      })),
    onSome: (at) =>
      onServerDeployer(at, Effect.gen(function*() {
        const listing = yield* (yield* deployClient).versions({ query: flags.refresh ? { refresh: "true" } : {} })
        yield* flags.json ? printJson(listing) : printListing({ ...listing, fetchedAt: listing.fetched_at })
      }))
  })

export const deploy = (flags: Input<typeof Commands.deployFlags>) =>
  Option.match(given(flags), {
    onNone: () =>
      onDeployer(flags, Effect.gen(function*() {
        const job = yield* Deployer.Deployer.use((deployer) =>
          deployer.deploy({
            name: flags.name,
            version: flags.version,
            path: flags.path,
            port: flags.port,
            webuiPort: Option.getOrUndefined(flags.webuiPort),
            services: flags.service.map((name) => ({ name }))
          })
        )
        if (!flags.json) yield* Console.error(`maikit: deploying ${flags.version} to ${job.path} as instance ${job.id} (Ctrl+C cancels)`)
        const status = yield* follow(job.id)
        if (flags.json) yield* printJson({ ...status, logs: undefined })
        yield* report(status)
      })),
    onSome: (at) =>
      onServerDeployer(at, Effect.gen(function*() {
        const started = yield* (yield* deployClient).deploy({
          payload: {
            instance_name: flags.name,
            version: flags.version,
            install_path: flags.path,
            port: flags.port,
            webui_port: Option.getOrNull(flags.webuiPort),
            install_services: flags.service.map((name) => ({ name }))
          }
        })
        if (!started.success || started.instance_id === null) return yield* fail(started.message)
        if (!flags.json) {
          yield* Console.error(`maikit: ${at.baseUrl} deploys ${flags.version} to ${flags.path} as instance ${started.instance_id} (Ctrl+C cancels)`)
        }
        const status = yield* followRemote(started.instance_id)
        if (flags.json) yield* printJson({ ...status, logs: undefined })
        yield* report(status)
      }))
  })

export const update = (flags: Input<typeof Commands.updateFlags>) =>
  Option.match(given(flags), {
    onNone: () =>
      onDeployer(flags, Effect.gen(function*() {
        const job = yield* Deployer.Deployer.use((deployer) => deployer.update(flags.id, flags.version))
        if (!flags.json) {
          yield* Console.error(`maikit: updating ${job.name} to ${flags.version}; backup ${job.backupId} first (Ctrl+C cancels and restores)`)
        }
        const status = yield* follow(job.id)
        if (flags.json) yield* printJson({ ...status, logs: undefined })
        yield* report(status)
      })),
    onSome: (at) =>
      onServerDeployer(at, Effect.gen(function*() {
        const started = yield* (yield* deployClient).update({ params: { id: flags.id }, payload: { version: flags.version } })
        if (!started.success) return yield* fail(started.message)
        if (!flags.json) yield* Console.error(`maikit: ${started.message} (Ctrl+C cancels and restores)`)
        const status = yield* followRemote(started.job_id)
        if (flags.json) yield* printJson({ ...status, logs: undefined })
        yield* report(status)
      }))
  })

// ---------------------------------------------------------------------------------------------------------
// backups

interface BackupRow {
  readonly id: string
  readonly instanceId: string
  readonly instanceName: string
  readonly version: string
  readonly sizeBytes: number
  readonly createdAt: string
  readonly reason: string
}

const printBackups = (backups: ReadonlyArray<BackupRow>) =>
  backups.length === 0
    ? Console.log("No backups. `maikit instances update` takes one before it changes anything.")
    : Console.log(table(
      ["ID", "INSTANCE", "VERSION", "SIZE", "CREATED", "REASON"],
      backups.map((backup) => [
        backup.id,
        `${backup.instanceName} (${backup.instanceId.slice(0, 8)})`,
        backup.version,
        `${(backup.sizeBytes / 1024 / 1024).toFixed(1)} MB`,
        backup.createdAt,
        backup.reason
      ])
    ))

/** A server's backups: one instance's, or every instance's (the routes list them per instance). */
const serverBackups = (instance: Option.Option<string>) =>
  Effect.gen(function*() {
    const client = yield* deployClient
    const instanceIds = Option.isSome(instance)
      ? [instance.value]
      : (yield* (yield* LauncherClient.LauncherInstancesClient).launcherInstances.listInstances()).instances.map((i) => i.id)
    const lists = yield* Effect.forEach(instanceIds, (id) => client.backups({ params: { id } }), { concurrency: 4 })
    return lists.flatMap((list) => list.backups).toSorted((a, b) => b.created_at.localeCompare(a.created_at))
  })

export const backupsList = (flags: Input<typeof Commands.backupsListFlags>) =>
  Option.match(given(flags), {
    onNone: () =>
      onDeployer(flags, Effect.gen(function*() {
        const backups = yield* Deployer.Deployer.use((deployer) => deployer.backups(Option.getOrUndefined(flags.instance)))
        yield* flags.json ? printJson(backups) : printBackups(backups)
      })),
    onSome: (at) =>
      onServerDeployer(at, Effect.gen(function*() {
        const backups = yield* serverBackups(flags.instance)
        yield* flags.json ? printJson(backups) : printBackups(backups.map((backup) => ({
          id: backup.id,
          instanceId: backup.instance_id,
          instanceName: backup.instance_name,
          version: backup.version,
          sizeBytes: backup.size_bytes,
          createdAt: backup.created_at,
          reason: backup.reason
        })))
      }))
  })

/** The instance a server's backup belongs to (the routes address a backup through its instance). */
const ownerOf = (backupId: string) =>
  Effect.flatMap(serverBackups(Option.none()), (backups) => {
    const backup = backups.find((candidate) => candidate.id === backupId)
    return backup === undefined ? fail(`no backup ${backupId}`) : Effect.succeed(backup.instance_id)
  })

export const backupsRestore = (flags: Input<typeof Commands.backupFlags>) =>
  Option.match(given(flags), {
    onNone: () =>
      onDeployer(flags, Effect.gen(function*() {
        const backup = yield* Deployer.Deployer.use((deployer) => deployer.restoreBackup(flags.id))
        yield* Console.log(`Restored ${backup.instanceName} to ${backup.version} from ${backup.id}`)
      })),
    onSome: (at) =>
      onServerDeployer(at, Effect.gen(function*() {
        const instance = yield* ownerOf(flags.id)
        yield* printOutcome(yield* (yield* deployClient).restoreBackup({ params: { id: instance, backup_id: flags.id } }))
      }))
  })

export const backupsRemove = (flags: Input<typeof Commands.backupFlags>) =>
  Option.match(given(flags), {
    onNone: () =>
      onDeployer(flags, Effect.gen(function*() {
        const backup = yield* Deployer.Deployer.use((deployer) => deployer.deleteBackup(flags.id))
        yield* Console.log(`Deleted backup ${backup.id} (${backup.directory}${backup.previousVenv === null ? "" : ` and ${backup.previousVenv}`})`)
      })),
    onSome: (at) =>
      onServerDeployer(at, Effect.gen(function*() {
        const instance = yield* ownerOf(flags.id)
        yield* printOutcome(yield* (yield* deployClient).deleteBackup({ params: { id: instance, backup_id: flags.id } }))
      }))
  })
