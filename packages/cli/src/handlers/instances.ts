/**
 * What `maikit instances …`, `maikit logs` and `maikit attach` do (the definitions are in
 * `commands/instances.ts`): on the local database, or through the launcher's typed client on a server.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Path from "node:path"
import { InstanceRegistry, InstanceSupervisor } from "@maikit/core/launcher"
import { Database } from "@maikit/core/platform"
import { LauncherClient } from "@maikit/http-adapter/launcher"
import { LogSocket } from "@maikit/ws-adapter"
import type { Input, Local, Remote } from "../commands/flags.ts"
import type * as Commands from "../commands/instances.ts"
import { onDatabase, settings } from "./local.ts"
import { fail, printJson, printOutcome, table } from "./output.ts"
import { given, onServer, type Target, target } from "./remote.ts"

/** The supervisor on the local database, without reconciling: a server may own the running instances. */
const onSupervisor = <A, E extends { readonly message: string; readonly _tag: string }>(
  flags: Local,
  effect: Effect.Effect<
    A,
    E,
    InstanceSupervisor.InstanceSupervisor | InstanceRegistry.InstanceRegistry
  >
) =>
  onDatabase(
    InstanceSupervisor.InstanceSupervisor.layer({ reconcile: false }).pipe(
      Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
      Layer.provide(Database.layer),
      Layer.provide(settings(flags))
    ),
    effect
  )

/** Runs `effect` with the launcher's instance client on the server `at`. */
const onLauncher = <A, E>(at: Target, effect: Effect.Effect<A, E, LauncherClient.LauncherInstancesClient>) =>
  onServer(at, LauncherClient.LauncherInstancesClient.layer, effect)

const instancesClient = Effect.service(LauncherClient.LauncherInstancesClient)

const duration = (seconds: number) =>
  seconds < 60 ? `${seconds}s` : seconds < 3600 ? `${Math.floor(seconds / 60)}m` : `${(seconds / 3600).toFixed(1)}h`

const isActive = (status: InstanceRegistry.InstanceStatus) =>
  status === "starting" || status === "running" || status === "stopping" || status === "crashed"

/** What `instances ls` shows of an instance; the registry's and a server's list both have it. */
interface Listed {
  readonly id: string
  readonly name: string
  readonly status: string
  readonly version: string
  readonly start_count: number
  readonly total_runtime: number
  readonly path: string
}

/** The instances as a table, with the names of their services besides MaiBot. */
const printInstances = <I extends Listed>(instances: ReadonlyArray<I>, services: (instance: I) => ReadonlyArray<string>) =>
  instances.length === 0
    ? Console.log("No instances. Add one with `maikit instances add <path>`.")
    : Console.log(table(
      ["ID", "NAME", "STATUS", "VERSION", "STARTS", "RUNTIME", "SERVICES", "PATH"],
      instances.map((instance) => [
        instance.id,
        instance.name,
        instance.status,
        instance.version,
        String(instance.start_count),
        duration(instance.total_runtime),
        services(instance).join(",") || "-",
        instance.path
      ])
    ))

export const list = (flags: Input<typeof Commands.listFlags>) =>
  Option.match(given(flags), {
    onNone: () =>
      onSupervisor(flags, Effect.gen(function*() {
        const instances = yield* InstanceSupervisor.InstanceSupervisor.use((supervisor) => supervisor.list)
        yield* flags.json
          ? printJson(instances)
          : printInstances(instances, (instance) => instance.components.filter((c) => c.kind !== "main").map((c) => c.name))
      })),
    onSome: (at) =>
      onLauncher(at, Effect.gen(function*() {
        const { instances } = yield* (yield* instancesClient).launcherInstances.listInstances()
        yield* flags.json ? printJson(instances) : printInstances(instances, (instance) => instance.services.map((s) => s.name))
      }))
  })

export const add = (flags: Input<typeof Commands.addFlags>) =>
  Effect.gen(function*() {
    const napcat = Option.getOrUndefined(flags.napcat)
    const napcatCommand = Option.getOrUndefined(flags.napcatCommand)
    if (napcat !== undefined && napcatCommand === undefined) return yield* fail("--napcat needs --napcat-command")
    const adapter = Option.getOrUndefined(flags.adapter)
    const services = [
      ...(adapter === undefined
        ? []
        : [{ name: "napcat-ada", path: adapter, port: flags.adapterPort, command: flags.adapterCommand }]),
      ...(napcat === undefined || napcatCommand === undefined
        ? []
        : [{ name: "napcat", path: napcat, port: flags.napcatPort, command: napcatCommand }])
    ]
    const remote = given(flags)
    // A server's paths are its own: only a local folder is resolved against this directory.
    const root = Option.isSome(remote) ? flags.path : Path.resolve(flags.path)
    const name = Option.getOrElse(flags.name, () => Path.basename(root))
    if (Option.isSome(remote)) {
      return yield* onLauncher(remote.value, Effect.gen(function*() {
        const added = yield* (yield* instancesClient).launcherInstances.addInstance({
          payload: {
            instance_name: name,
            install_services: services.map((service) => ({ ...service, run_cmd: service.command })),
            install_path: root,
            port: flags.port,
            version: flags.version,
            maibot_path: adapter === undefined ? null : root,
            adapter_path: adapter ?? null,
            restart_policy: flags.restart
          }
        })
        if (!added.success) return yield* fail(added.message)
        yield* flags.json ? printJson(added) : Console.log(`Added instance ${added.instance_id} (${name})`)
      }))
    }
    yield* onSupervisor(flags, Effect.gen(function*() {
      const instance = yield* InstanceSupervisor.InstanceSupervisor.use((supervisor) =>
        supervisor.add({
          name,
          version: flags.version,
          installPath: root,
          port: flags.port,
          maibotPath: adapter === undefined ? undefined : root,
          adapterPath: adapter,
          restartPolicy: flags.restart,
          services
        })
      )
      yield* flags.json ? printJson(instance) : Console.log(`Added instance ${instance.id} (${instance.name})`)
    }))
  })

export const remove = (flags: Input<typeof Commands.removeFlags>) =>
  Option.match(given(flags), {
    onNone: () =>
      onSupervisor(flags, Effect.gen(function*() {
        const instance = yield* InstanceRegistry.InstanceRegistry.use((registry) => registry.get(flags.id))
        if (isActive(instance.status)) {
          return yield* fail(`instance ${flags.id} is ${instance.status}; stop it first: maikit instances stop ${flags.id}`)
        }
        const result = yield* InstanceSupervisor.InstanceSupervisor.use((supervisor) =>
          supervisor.remove(flags.id, { deleteFiles: flags.deleteFiles })
        )
        yield* Console.log(`Removed instance ${flags.id} (${result.instance.name})`)
        for (const path of result.deleted) yield* Console.log(`  deleted ${path}`)
        for (const path of result.kept) yield* Console.log(`  kept ${path} (not created by MaiKit; --delete-files deletes it)`)
        for (const entry of result.failed) yield* Console.error(`  could not delete ${entry.path}: ${entry.message}`)
        for (const entry of result.refused) yield* Console.error(`  refused to delete ${entry.path}: ${entry.reason}`)
      }).pipe(Effect.catchTag("InstanceNotFound", () => fail(`no instance ${flags.id}`)))),
    onSome: (at) =>
      onLauncher(at, Effect.gen(function*() {
        const result = yield* (yield* instancesClient).launcherInstances.deleteInstance({
          params: { id: flags.id },
          query: flags.deleteFiles ? { delete_files: "true" } : {}
        })
        yield* printOutcome(result)
      }))
  })

/** `start`, `stop` or `restart` on the server: its message, or a failure with it. */
const action = (verb: "startInstance" | "stopInstance" | "restartInstance") => (flags: Remote & { readonly id: string }) =>
  onLauncher(target(flags), Effect.gen(function*() {
    yield* printOutcome(yield* (yield* instancesClient).launcherInstances[verb]({ params: { id: flags.id } }))
  }))

export const stop = action("stopInstance")
export const restart = action("restartInstance")

/** Supervises the instance in this process, printing every component's output, until Ctrl+C stops it. */
const foreground = (flags: Local & { readonly id: string }) =>
  onSupervisor(flags, Effect.gen(function*() {
    const registry = yield* InstanceRegistry.InstanceRegistry
    const supervisor = yield* InstanceSupervisor.InstanceSupervisor
    const instance = yield* registry.get(flags.id)
    if (isActive(instance.status)) {
      return yield* fail(`instance ${flags.id} is already ${instance.status} in another MaiKit process; use --server`)
    }
    for (const component of instance.components) {
      const terminal = yield* supervisor.attach(flags.id, component.name)
      const splitter = new LogSocket.LineSplitter()
      const print = (lines: ReadonlyArray<string>) =>
        Effect.forEach(lines, (line) => Console.log(`[${terminal.component}] ${line}`), { discard: true })
      yield* Effect.forkScoped(Stream.runForEach(terminal.events, (event) =>
        event._tag === "Output" ? print(splitter.push(event.data)) : print(splitter.flush())
      ))
    }
    const outcome = yield* supervisor.start(flags.id)
    yield* Console.error(`maikit: ${outcome.instance.name} is ${outcome.state}; Ctrl+C stops it`)
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.catchTag("InstanceNotFound", () => fail(`no instance ${flags.id}`))))

export const start = (flags: Input<typeof Commands.startFlags>) =>
  flags.foreground ? foreground(flags) : action("startInstance")(flags)

const seconds = (value: number) => duration(Math.round(value))
const megabytes = (bytes: number | null) => (bytes === null ? "-" : `${(bytes / 1024 / 1024).toFixed(1)} MB`)

export const status = (flags: Input<typeof Commands.statusFlags>) =>
  onLauncher(target(flags), Effect.gen(function*() {
    const result = yield* (yield* instancesClient).launcherInstances.instanceStatus({ params: { id: flags.id } })
    if (flags.json) return yield* printJson(result)
    yield* Console.log(`${result.instance_id} ${result.status}`)
    yield* Console.log(table(
      ["SERVICE", "STATE", "PID", "UPTIME", "CPU", "MEMORY", "STARTS", "RESTARTS"],
      result.components.map((component) => [
        component.name,
        component.state,
        component.pid === null ? "-" : String(component.pid),
        seconds(component.uptime_seconds),
        component.cpu_percent === null ? "-" : `${component.cpu_percent.toFixed(1)}%`,
        megabytes(component.memory_bytes),
        String(component.start_count),
        String(component.restart_count)
      ])
    ))
  }))
