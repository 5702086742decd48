/**
 * `maikit versions`, `maikit deploy`, `maikit instances update`, `maikit backups ls|restore|rm`: the Deployer
 * from the command line, on the local database (`--data-dir`), next to or without a server (a server's running
 * jobs belong to it and are left alone).
 *
 * `deploy` and `update` draw a progress bar on a terminal and print plain lines otherwise (logs, CI); Ctrl+C
 * cancels the job: its git or pip is killed and what it created is removed before the command exits.
 */
import { Console, Effect, Layer, Option, References, Stream } from "effect"
import { Argument, CliError, Command, Flag } from "effect/cli"
import { Deployer, InstanceRegistry } from "@maikit/core/launcher"
import { Database, MaikitConfig } from "@maikit/core/platform"
import { fail, printJson, table } from "./output.ts"

const dataDir = Flag.String("data-dir").pipe(Flag.withDescription("Directory of the database (default ./data)"), Flag.optional)
const config = Flag.String("config").pipe(
  Flag.withDescription("TOML configuration file (default ./maikit.toml when present)"),
  Flag.optional
)
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print JSON instead of text"), Flag.withDefault(false))

interface Local {
  readonly dataDir: Option.Option<string>
  readonly config: Option.Option<string>
}

const services = (flags: Local) =>
  Deployer.Deployer.layer().pipe(
    Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
    Layer.provide(Database.layer),
    Layer.provideMerge(MaikitConfig.MaikitConfig.layer({
      overrides: { dataDir: Option.getOrUndefined(flags.dataDir), configFile: Option.getOrUndefined(flags.config) }
    }))
  )

/** Runs `effect` with the deployer on the local database; its failures become one line. */
const withDeployer = <A, E extends { readonly message: string; readonly _tag: string }>(
  flags: Local,
  effect: Effect.Effect<A, E, Deployer.Deployer | InstanceRegistry.InstanceRegistry | MaikitConfig.MaikitConfig>
) =>
  effect.pipe(
    Effect.provide(services(flags)),
    Effect.provideService(References.MinimumLogLevel, "Warn"),
    Effect.mapError((error) =>
      error._tag === "MaikitConfigError" || error._tag === "UserError"
        ? error
        : new CliError.UserError({ cause: error, userMessage: error.message })
    )
  )

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

/** Follows a job to its end: a bar redrawn in place on a terminal, a line per change elsewhere. */
const follow = (jobId: string) =>
  Effect.gen(function*() {
    const deployer = yield* Deployer.Deployer
    const tty = process.stdout.isTTY === true
    let shown = ""
    const clearBar = tty ? Effect.sync(() => process.stdout.write("\r\x1b[2K")) : Effect.void
    yield* deployer.watch(jobId).pipe(
      Stream.runForEach((event) => {
        switch (event._tag) {
          case "Progress": {
            if (tty) return draw(event.progress, event.message)
            const line = `[${String(event.progress).padStart(3)}%] ${event.message}`
            if (line === shown) return Effect.void
            shown = line
            return Console.log(line)
          }
          case "Log":
            if (tty && event.entry.level !== "warning" && event.entry.level !== "error") return Effect.void
            return Effect.andThen(clearBar, Console.log(`  ${event.entry.message}`))
          case "Service":
            return tty ? Effect.void : Console.log(`  [${event.service.name}] ${event.service.status} ${event.service.message}`)
          case "Finished":
            return clearBar
        }
      })
    )
    return yield* deployer.status(jobId)
  })

const report = (status: Deployer.JobStatus) =>
  Effect.gen(function*() {
    if (status.status === "completed") {
      yield* Console.log(`✔ ${status.message}`)
      return
    }
    for (const path of status.removed) yield* Console.error(`  removed ${path}`)
    for (const path of status.kept) yield* Console.error(`  kept ${path}`)
    return yield* fail(status.message)
  })

export const versions = Command.make(
  "versions",
  {
    dataDir,
    config,
    json,
    refresh: Flag.Boolean("refresh").pipe(Flag.withDescription("Ask the remotes even if the cache is fresh"), Flag.withDefault(false))
  },
  (flags) =>
    withDeployer(flags, Effect.gen(function*() {
      const listing = yield* (yield* Deployer.Deployer).versions({ refresh: flags.refresh })
      if (flags.json) return yield* printJson(listing)
      const source = listing.source === "builtin"
        ? "built-in list (no remote reachable, no cache)"
        : `${listing.source === "cache" ? "cache of " : ""}${listing.remote ?? "?"}${listing.fetchedAt === null ? "" : ` at ${listing.fetchedAt}`}`
      yield* Console.log(listing.versions.map((version) => version === "latest" ? `latest (${listing.latest ?? "?"})` : version).join("\n"))
      yield* Console.error(`from ${source}`)
    }))
).pipe(Command.withDescription("List the MaiBot versions that can be deployed, newest first"))

export const deploy = Command.make(
  "deploy",
  {
    dataDir,
    config,
    json,
    version: Argument.String("version").pipe(Argument.withDescription("latest, main, dev, or a tag such as 1.2.1 or 0.12.3")),
    name: Flag.String("name").pipe(Flag.withDescription("Instance name")),
    path: Flag.String("path").pipe(Flag.withDescription("Folder to deploy into (absent or empty; ~ is your home)")),
    port: Flag.Int("port").pipe(Flag.withDescription("MaiBot's port")),
    webuiPort: Flag.Int("webui-port").pipe(Flag.withDescription("MaiBot's WebUI port (default 8001)"), Flag.optional),
    service: Flag.String("service").pipe(
      Flag.withDescription("A service to install too: napcat-ada (the adapter), napcat; repeat for both"),
      Flag.atLeast(0)
    )
  },
  (flags) =>
    withDeployer(flags, Effect.gen(function*() {
      const deployer = yield* Deployer.Deployer
      const job = yield* deployer.deploy({
        name: flags.name,
        version: flags.version,
        path: flags.path,
        port: flags.port,
        webuiPort: Option.getOrUndefined(flags.webuiPort),
        services: flags.service.map((name) => ({ name }))
      })
      if (!flags.json) yield* Console.error(`maikit: deploying ${flags.version} to ${job.path} as instance ${job.id} (Ctrl+C cancels)`)
      const status = yield* follow(job.id)
      if (flags.json) yield* printJson({ ...status, logs: undefined })
      yield* report(status)
    }))
).pipe(
  Command.withDescription("Deploy a MaiBot version (with its adapter, NapCat) into a new folder and register it"),
  Command.withExamples([
    {
      command: "maikit deploy latest --name mai --path ~/MaiBot/Deployments/mai --port 8000 --service napcat-ada",
      description: "Today's MaiBot with its NapCat adapter"
    }
  ])
)

export const update = Command.make(
  "update",
  {
    dataDir,
    config,
    json,
    id: Argument.String("id").pipe(Argument.withDescription("The instance's id")),
    version: Argument.String("version").pipe(Argument.withDescription("latest, main, dev or a tag"))
  },
  (flags) =>
    withDeployer(flags, Effect.gen(function*() {
      const job = yield* (yield* Deployer.Deployer).update(flags.id, flags.version)
      if (!flags.json) yield* Console.error(`maikit: updating ${job.name} to ${flags.version}; backup ${job.backupId} first (Ctrl+C cancels and restores)`)
      const status = yield* follow(job.id)
      if (flags.json) yield* printJson({ ...status, logs: undefined })
      yield* report(status)
    }))
).pipe(Command.withDescription("Update a stopped instance to another version or branch, after a backup; any failure restores it"))

const backupsList = Command.make(
  "ls",
  { dataDir, config, json, instance: Flag.String("instance").pipe(Flag.withDescription("Only this instance's backups"), Flag.optional) },
  (flags) =>
    withDeployer(flags, Effect.gen(function*() {
      const backups = yield* (yield* Deployer.Deployer).backups(Option.getOrUndefined(flags.instance))
      if (flags.json) return yield* printJson(backups)
      if (backups.length === 0) return yield* Console.log("No backups. `maikit instances update` takes one before it changes anything.")
      yield* Console.log(table(
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
    }))
).pipe(Command.withDescription("List backups"), Command.withAlias("list"))

const backupId = Argument.String("backup").pipe(Argument.withDescription("The backup's id (backup_…)"))

const backupsRestore = Command.make("restore", { dataDir, config, id: backupId }, (flags) =>
  withDeployer(flags, Effect.gen(function*() {
    const backup = yield* (yield* Deployer.Deployer).restoreBackup(flags.id)
    yield* Console.log(`Restored ${backup.instanceName} to ${backup.version} from ${backup.id}`)
  }))).pipe(Command.withDescription("Put a backup back: code, config, data, the venv it kept, the instance's version"))

const backupsRemove = Command.make("rm", { dataDir, config, id: backupId }, (flags) =>
  withDeployer(flags, Effect.gen(function*() {
    const backup = yield* (yield* Deployer.Deployer).deleteBackup(flags.id)
    yield* Console.log(`Deleted backup ${backup.id} (${backup.directory}${backup.previousVenv === null ? "" : ` and ${backup.previousVenv}`})`)
  }))).pipe(Command.withDescription("Delete a backup and the venv it kept aside"))

export const backups = Command.make("backups").pipe(
  Command.withDescription("Backups taken before instance updates"),
  Command.withSubcommands([backupsList, backupsRestore, backupsRemove])
)
