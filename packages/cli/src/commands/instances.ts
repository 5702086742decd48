/**
 * `maikit instances …`, `maikit logs`, `maikit attach`: MaiBot instances from the command line.
 *
 * - `instances ls|add|rm` work on the local database (`--data-dir`), with or without a server.
 * - Processes belong to the MaiKit process that supervises them, so `instances start|stop|restart` ask the
 *   server that runs them (`--url`, default `http://127.0.0.1:23456`, `--token`) — as `pm2` asks its daemon.
 *   `instances start --foreground` supervises the instance in this process instead, printing its output until
 *   Ctrl+C stops it.
 * - `logs` and `attach` are WebSocket clients of a server: `logs <id>` prints the instance's recent log lines
 *   (`-f` keeps following), `logs <id> <service>` one terminal's output; `attach` is an interactive terminal,
 *   detached with Ctrl+].
 */
import { Console, Effect, Layer, Option, Queue, References, Schema, Stream } from "effect"
import { Argument, CliError, Command, Flag } from "effect/cli"
import * as Socket from "effect/socket/Socket"
import * as Path from "node:path"
import { InstanceRegistry, InstanceSupervisor } from "@maikit/core/launcher"
import { Database, MaikitConfig } from "@maikit/core/platform"
import { LauncherApi } from "@maikit/http-adapter/launcher"
import { LogSocket, TerminalSocket } from "@maikit/ws-adapter"
import * as DeployCommands from "./deploy.ts"
import { fail, printJson, table } from "./output.ts"

const dataDir = Flag.String("data-dir").pipe(
  Flag.withDescription("Directory of the database (default ./data)"),
  Flag.optional
)
const config = Flag.String("config").pipe(
  Flag.withDescription("TOML configuration file (default ./maikit.toml when present)"),
  Flag.optional
)
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print JSON instead of text"), Flag.withDefault(false))
const url = Flag.String("url").pipe(
  Flag.withDescription("The MaiKit server that runs the instances"),
  Flag.withDefault("http://127.0.0.1:23456")
)
const token = Flag.String("token").pipe(
  Flag.withDescription("The server's access token (default $MAIKIT_TOKEN)"),
  Flag.optional
)
const instanceId = Argument.String("id").pipe(Argument.withDescription("The instance's id (40 hex characters)"))
const service = Argument.String("service").pipe(
  Argument.withDescription("A service of the instance (napcat-ada, napcat, …); default: main"),
  Argument.optional
)

interface Local {
  readonly dataDir: Option.Option<string>
  readonly config: Option.Option<string>
}

interface Remote {
  readonly url: string
  readonly token: Option.Option<string>
}


/** The supervisor on the local database, without reconciling: a server may own the running instances. */
const services = (flags: Local) =>
  InstanceSupervisor.InstanceSupervisor.layer({ reconcile: false }).pipe(
    Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
    Layer.provide(Database.layer),
    Layer.provideMerge(MaikitConfig.MaikitConfig.layer({
      overrides: { dataDir: Option.getOrUndefined(flags.dataDir), configFile: Option.getOrUndefined(flags.config) }
    }))
  )

type LocalServices = InstanceSupervisor.InstanceSupervisor | InstanceRegistry.InstanceRegistry | MaikitConfig.MaikitConfig

/** Runs `effect` on the local database; failures become one line, a bad configuration stays a config error. */
const onDatabase = <A, E extends { readonly message: string; readonly _tag: string }>(
  flags: Local,
  effect: Effect.Effect<A, E, LocalServices>
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



const duration = (seconds: number) =>
  seconds < 60 ? `${seconds}s` : seconds < 3600 ? `${Math.floor(seconds / 60)}m` : `${(seconds / 3600).toFixed(1)}h`

const isActive = (status: InstanceRegistry.InstanceStatus) =>
  status === "starting" || status === "running" || status === "stopping" || status === "crashed"

const list = Command.make(
  "ls",
  { dataDir, config, json },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
      const instances = yield* (yield* InstanceSupervisor.InstanceSupervisor).list
      if (flags.json) return yield* printJson(instances)
      if (instances.length === 0) return yield* Console.log("No instances. Add one with `maikit instances add <path>`.")
      yield* Console.log(table(
        ["ID", "NAME", "STATUS", "VERSION", "STARTS", "RUNTIME", "SERVICES", "PATH"],
        instances.map((instance) => [
          instance.id,
          instance.name,
          instance.status,
          instance.version,
          String(instance.start_count),
          duration(instance.total_runtime),
          instance.components.filter((c) => c.kind !== "main").map((c) => c.name).join(",") || "-",
          instance.path
        ])
      ))
    }))
).pipe(Command.withDescription("List the registered instances and their status"), Command.withAlias("list"))

const add = Command.make(
  "add",
  {
    dataDir,
    config,
    json,
    path: Argument.String("path").pipe(Argument.withDescription("The MaiBot folder (with bot.py)")),
    name: Flag.String("name").pipe(Flag.withDescription("Instance name (default: the folder's name)"), Flag.optional),
    port: Flag.Int("port").pipe(Flag.withDescription("MaiBot's port (default 8000)"), Flag.withDefault(8000)),
    version: Flag.String("version").pipe(Flag.withDescription("MaiBot version label"), Flag.withDefault("unknown")),
    adapter: Flag.String("adapter").pipe(Flag.withDescription("The NapCat adapter's folder (service napcat-ada)"), Flag.optional),
    adapterPort: Flag.Int("adapter-port").pipe(Flag.withDescription("The adapter's port"), Flag.withDefault(8095)),
    adapterCommand: Flag.String("adapter-command").pipe(
      Flag.withDescription("How to start the adapter"),
      Flag.withDefault("python main.py")
    ),
    napcat: Flag.String("napcat").pipe(Flag.withDescription("NapCat's folder (service napcat)"), Flag.optional),
    napcatCommand: Flag.String("napcat-command").pipe(
      Flag.withDescription("How to start NapCat, e.g. \"bash launcher.sh -q 123456\""),
      Flag.optional
    ),
    napcatPort: Flag.Int("napcat-port").pipe(Flag.withDescription("NapCat's port"), Flag.withDefault(3001)),
    restart: Flag.Literals("restart", ["no", "on-failure", "always"]).pipe(
      Flag.withDescription("Restart policy of every component"),
      Flag.withDefault("on-failure")
    )
  },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
      const napcat = Option.getOrUndefined(flags.napcat)
      const napcatCommand = Option.getOrUndefined(flags.napcatCommand)
      if (napcat !== undefined && napcatCommand === undefined) return yield* fail("--napcat needs --napcat-command")
      const adapter = Option.getOrUndefined(flags.adapter)
      const root = Path.resolve(flags.path)
      const instance = yield* (yield* InstanceSupervisor.InstanceSupervisor).add({
        name: Option.getOrElse(flags.name, () => Path.basename(root)),
        version: flags.version,
        installPath: root,
        port: flags.port,
        maibotPath: adapter === undefined ? undefined : root,
        adapterPath: adapter,
        restartPolicy: flags.restart,
        services: [
          ...(adapter === undefined
            ? []
            : [{ name: "napcat-ada", path: adapter, port: flags.adapterPort, command: flags.adapterCommand }]),
          ...(napcat === undefined || napcatCommand === undefined
            ? []
            : [{ name: "napcat", path: napcat, port: flags.napcatPort, command: napcatCommand }])
        ]
      })
      yield* flags.json ? printJson(instance) : Console.log(`Added instance ${instance.id} (${instance.name})`)
    }))
).pipe(Command.withDescription("Register an existing MaiBot folder (and its adapter, NapCat) as an instance"))

const remove = Command.make(
  "rm",
  {
    dataDir,
    config,
    id: instanceId,
    deleteFiles: Flag.Boolean("delete-files").pipe(
      Flag.withDescription("Also delete its folders (done anyway for folders MaiKit created)"),
      Flag.withDefault(false)
    )
  },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
      const instance = yield* (yield* InstanceRegistry.InstanceRegistry).get(flags.id)
      if (isActive(instance.status)) {
        return yield* fail(`instance ${flags.id} is ${instance.status}; stop it first: maikit instances stop ${flags.id}`)
      }
      const result = yield* (yield* InstanceSupervisor.InstanceSupervisor).remove(flags.id, { deleteFiles: flags.deleteFiles })
      yield* Console.log(`Removed instance ${flags.id} (${result.instance.name})`)
      for (const path of result.deleted) yield* Console.log(`  deleted ${path}`)
      for (const path of result.kept) yield* Console.log(`  kept ${path} (not created by MaiKit; --delete-files deletes it)`)
      for (const entry of result.failed) yield* Console.error(`  could not delete ${entry.path}: ${entry.message}`)
      for (const entry of result.refused) yield* Console.error(`  refused to delete ${entry.path}: ${entry.reason}`)
    }).pipe(Effect.catchTag("InstanceNotFound", () => fail(`no instance ${flags.id}`))))
).pipe(Command.withDescription("Unregister an instance (stopped); its folders stay unless MaiKit created them"))

const tokenOf = (flags: Remote) => Option.orElse(flags.token, () => Option.fromNullishOr(process.env["MAIKIT_TOKEN"]))

/** One launcher route on the server; a `{detail}` or unreachable server becomes a one-line error. */
const callServer = <S extends Schema.Top & Schema.ConstraintDecoder<unknown>>(flags: Remote, path: string, schema: S) =>
  Effect.gen(function*() {
    const headers: Record<string, string> = Option.match(tokenOf(flags), {
      onNone: () => ({}),
      onSome: (value) => ({ authorization: `Bearer ${value}` })
    })
    const base = flags.url.replace(/\/+$/, "")
    const response = yield* Effect.tryPromise({
      try: async () => {
        const reply = await fetch(`${base}${path}`, { headers })
        return { status: reply.status, body: await reply.text() }
      },
      catch: () =>
        new CliError.UserError({
          cause: base,
          userMessage: `no MaiKit server at ${base} (start one with \`maikit serve\`, or use --foreground to run here)`
        })
    })
    if (response.status === 401) return yield* fail(`${base} needs an access token: pass --token or set MAIKIT_TOKEN`)
    const parsed = yield* Effect.try({
      try: (): unknown => JSON.parse(response.body),
      catch: () => new CliError.UserError({ cause: response.body, userMessage: `unexpected answer from ${base}` })
    })
    if (response.status !== 200) {
      const detail = Schema.decodeUnknownOption(LauncherApi.Detail)(parsed)
      return yield* fail(Option.match(detail, { onNone: () => `HTTP ${response.status}`, onSome: (body) => body.detail }))
    }
    return yield* Schema.decodeUnknownEffect(schema)(parsed).pipe(
      Effect.mapError(() => new CliError.UserError({ cause: parsed, userMessage: `unexpected answer from ${base}` }))
    )
  })

const action = (verb: "start" | "stop" | "restart") => (flags: Remote & { readonly id: string }) =>
  Effect.gen(function*() {
    const result = yield* callServer(flags, `/api/v1/instance/${encodeURIComponent(flags.id)}/${verb}`, LauncherApi.ActionResponse)
    if (!result.success) return yield* fail(result.message)
    yield* Console.log(result.message)
  })

/** Supervises the instance in this process, printing every component's output, until Ctrl+C stops it. */
const foreground = (flags: Local & { readonly id: string }) =>
  onDatabase(flags, Effect.gen(function*() {
    const registry = yield* InstanceRegistry.InstanceRegistry
    const supervisor = yield* InstanceSupervisor.InstanceSupervisor
    const instance = yield* registry.get(flags.id)
    if (isActive(instance.status)) {
      return yield* fail(`instance ${flags.id} is already ${instance.status} in another MaiKit process; use --url`)
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

const start = Command.make(
  "start",
  {
    dataDir,
    config,
    url,
    token,
    id: instanceId,
    foreground: Flag.Boolean("foreground").pipe(
      Flag.withDescription("Supervise it in this process (local database) instead of asking the server"),
      Flag.withDefault(false)
    )
  },
  (flags) => (flags.foreground ? foreground(flags) : action("start")(flags))
).pipe(Command.withDescription("Start an instance: MaiBot, then its adapter, then NapCat"))

const stop = Command.make("stop", { url, token, id: instanceId }, action("stop")).pipe(
  Command.withDescription("Stop an instance and every process it started")
)

const restart = Command.make("restart", { url, token, id: instanceId }, action("restart")).pipe(
  Command.withDescription("Stop an instance, then start it")
)

export const instances = Command.make("instances").pipe(
  Command.withDescription("Manage MaiBot instances"),
  Command.withSubcommands([list, add, start, stop, restart, remove, DeployCommands.update])
)

/** A WebSocket to the server, authenticated by the first frame (the token stays out of URLs and process lists). */
const openSocket = (flags: Remote, path: string) =>
  Effect.gen(function*() {
    const base = flags.url.replace(/\/+$/, "").replace(/^http/, "ws")
    const socket = yield* Socket.makeWebSocket(`${base}${path}`)
    const reader = yield* socket.reader.pipe(
      Effect.mapError((error) =>
        new CliError.UserError({ cause: error, userMessage: `cannot open a WebSocket to ${base}${path}: ${error.message}` })
      )
    )
    const writer = yield* socket.writer
    const send = (frame: unknown) => Effect.ignore(writer.write(JSON.stringify(frame)))
    yield* Option.match(tokenOf(flags), { onNone: () => Effect.void, onSome: (value) => send({ type: "auth", token: value }) })
    return { pull: reader.pull, send }
  }).pipe(Effect.provide(Socket.layerWebSocketConstructorGlobal))

const decodeServerFrame = Schema.decodeUnknownOption(Schema.fromJsonString(TerminalSocket.ServerFrame))
const decodeLogLine = Schema.decodeUnknownOption(Schema.fromJsonString(LogSocket.LogLine))

/** Writes a terminal frame: output raw to stdout, status and errors as notes on stderr. */
const showTerminalFrame = (text: string, note: (message: string) => string) =>
  Effect.sync(() => {
    const frame = Option.getOrUndefined(decodeServerFrame(text))
    if (frame?.type === "output") process.stdout.write(frame.data)
    else if (frame?.type === "status" || frame?.type === "error") process.stderr.write(note(frame.message))
    return true
  })

const closeCodeOf = (error: Socket.SocketError) => (error.reason._tag === "SocketCloseError" ? error.reason.code : 1006)

/** Reads frames until `onFrame` says stop or the server closes; a close other than 1000/1001 is an error. */
const readFrames = (
  pull: Effect.Effect<ReadonlyArray<string | Uint8Array>, Socket.SocketError>,
  onFrame: (text: string) => Effect.Effect<boolean, CliError.UserError>
) =>
  Effect.gen(function*() {
    let lastError = ""
    while (true) {
      const batch = yield* Effect.result(pull)
      if (batch._tag === "Failure") {
        const code = closeCodeOf(batch.failure)
        if (code === 1000 || code === 1001) return
        return yield* fail(lastError === "" ? `the server closed the connection (${code})` : lastError)
      }
      for (const frame of batch.success) {
        const text = typeof frame === "string" ? frame : new TextDecoder().decode(frame)
        const error = decodeServerFrame(text)
        if (Option.isSome(error) && error.value.type === "error") lastError = error.value.message
        if (!(yield* onFrame(text))) return
      }
    }
  })

export const logs = Command.make(
  "logs",
  {
    url,
    token,
    id: instanceId,
    service,
    follow: Flag.Boolean("follow").pipe(
      Flag.withAlias("f"),
      Flag.withDescription("Keep printing new output"),
      Flag.withDefault(false)
    )
  },
  (flags) =>
    Effect.gen(function*() {
      const component = Option.getOrUndefined(flags.service)
      const path = component === undefined
        ? `/api/v1/logs/instance/${encodeURIComponent(flags.id)}/ws`
        : `/api/v1/ws/${encodeURIComponent(`${flags.id}_${component}`)}`
      const socket = yield* openSocket(flags, path)
      // Answered after what was recorded so far: without -f, the pong marks the end.
      if (!flags.follow) yield* socket.send({ type: "ping" })
      const done = (text: string) => !flags.follow && text.includes("\"type\":\"pong\"")
      yield* readFrames(socket.pull, (text) =>
        Effect.gen(function*() {
          if (done(text)) return false
          if (component === undefined) {
            const line = decodeLogLine(text)
            if (Option.isSome(line)) {
              const { time, level, source, message } = line.value
              yield* Console.log(`${time} ${level.padEnd(8)} [${source}] ${message}`)
            }
            return true
          }
          return yield* showTerminalFrame(text, (message) => `[maikit] ${message}\n`)
        }))
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Print an instance's recent log lines, or one service's terminal output (-f follows)"))

const detachKey = 0x1d

export const attach = Command.make(
  "attach",
  { url, token, id: instanceId, service },
  (flags) =>
    Effect.gen(function*() {
      const component = Option.getOrElse(flags.service, () => "main")
      const socket = yield* openSocket(flags, `/api/v1/ws/${encodeURIComponent(`${flags.id}_${component}`)}`)
      const stdin = process.stdin
      const stdout = process.stdout
      if (stdin.isTTY) {
        yield* Effect.acquireRelease(Effect.sync(() => stdin.setRawMode(true)), () => Effect.sync(() => stdin.setRawMode(false)))
      }
      yield* Console.error(`[maikit] attached to ${component} of ${flags.id}; detach with Ctrl+]`)
      const resize = socket.send({ type: "resize", cols: stdout.columns ?? 80, rows: stdout.rows ?? 25 })
      if (stdout.isTTY) {
        yield* resize
        const onResize = () => Effect.runFork(resize)
        yield* Effect.acquireRelease(Effect.sync(() => stdout.on("resize", onResize)), () =>
          Effect.sync(() => stdout.off("resize", onResize)))
      }
      const keystrokes = Stream.callback<Buffer>((queue) => {
        const onData = (chunk: Buffer) => Queue.offerUnsafe(queue, chunk)
        return Effect.acquireRelease(
          Effect.sync(() => {
            stdin.on("data", onData)
            stdin.resume()
          }),
          () =>
            Effect.sync(() => {
              stdin.off("data", onData)
              stdin.pause()
            })
        )
      })
      const typing = Stream.runForEachWhile(keystrokes, (chunk) => {
        const detach = chunk.indexOf(detachKey)
        const data = (detach === -1 ? chunk : chunk.subarray(0, detach)).toString("utf8")
        return Effect.as(data === "" ? Effect.void : socket.send({ type: "input", data }), detach === -1)
      })
      const showing = readFrames(socket.pull, (text) => showTerminalFrame(text, (message) => `\r\n[maikit] ${message}\r\n`))
      yield* Effect.raceFirst(typing, showing)
      yield* Console.error(`\n[maikit] detached from ${component}`)
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Open a service's terminal here (default: MaiBot's); Ctrl+] detaches"))
