/**
 * The instance log WebSocket of seed 000, `/api/v1/logs/instance/{id}/ws`: the output of every component of an
 * instance as log lines `{"time":"2023-10-15 10:00:00","level":"INFO","message":"…","source":"main"}`, the
 * recent lines of each first, then live, with a line for every state change of a component.
 *
 * Terminal output becomes lines: split on newlines (a line longer than 16 Ki characters is cut), escape sequences
 * and carriage returns removed, blank lines dropped. `level` is the first level word in the line (loguru's
 * `| INFO |`, Python's `WARNING:`…), `INFO` when there is none; `source` is the component. `time` is local, as
 * the seed shows it.
 *
 * The limits, the token and the slow-client policy are the terminal socket's. Inbound frames other than `auth`
 * and `ping` (answered with the terminal's `pong`) are ignored.
 */
import { Effect, Exit, Option, type Redacted, Result, Schema, Scope, Stream } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { type ComponentProcess, InstanceSupervisor } from "@maikit/core/launcher"
import * as Connection from "./internal/connection.ts"
import { describe } from "./internal/statusText.ts"

const prefix = "/api/v1/logs/instance/"
export const path = `${prefix}:id/ws` as const

export const LogLine = Schema.Struct({
  time: Schema.String,
  level: Schema.String,
  message: Schema.String,
  source: Schema.String
})
export type LogLine = typeof LogLine.Type

export interface Options {
  readonly accessToken?: Option.Option<Redacted.Redacted<string>> | undefined
  readonly limits?: Partial<Connection.Limits> | undefined
  /** Events a client may have queued per component before it is dropped. Default 256. */
  readonly capacity?: number | undefined
  /** Recent lines sent per component on connect. Default 200. */
  readonly backlogLines?: number | undefined
}

const maxLineChars = 16 * 1024
// CSI and OSC sequences and two-character escapes: terminal control, not text.
const escapes = new RegExp(String.raw`\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]`, "g")
const levelWord = /\b(TRACE|DEBUG|INFO|SUCCESS|WARNING|WARN|ERROR|CRITICAL|FATAL)\b/

export const levelOf = (message: string): string => {
  const found = levelWord.exec(message)?.[1]
  return found === "WARN" ? "WARNING" : found === "FATAL" ? "CRITICAL" : found ?? "INFO"
}

const pad = (value: number) => String(value).padStart(2, "0")

/** Local time as the seed writes it: `2023-10-15 10:00:00`. */
export const timeOf = (millis: number): string => {
  const date = new Date(millis)
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
}

const clean = (text: string): string => text.replace(escapes, "").replaceAll("\r", "").trimEnd()

/** Cuts a component's output into lines, keeping an unfinished last line for the next chunk. */
export class LineSplitter {
  private carry = ""

  push(data: string): Array<string> {
    const parts = (this.carry + data).split("\n")
    this.carry = parts.pop() ?? ""
    while (this.carry.length > maxLineChars) {
      parts.push(this.carry.slice(0, maxLineChars))
      this.carry = this.carry.slice(maxLineChars)
    }
    return parts.flatMap((line) => {
      const text = clean(line)
      if (text === "") return []
      const pieces: Array<string> = []
      for (let start = 0; start < text.length; start += maxLineChars) pieces.push(text.slice(start, start + maxLineChars))
      return pieces
    })
  }

  /** The unfinished line, if any; called when the component changes state, since no newline may follow. */
  flush(): Array<string> {
    const text = clean(this.carry)
    this.carry = ""
    return text === "" ? [] : [text]
  }
}

const encode = (line: LogLine): string => JSON.stringify(line)

const lineOf = (source: string, millis: number, message: string, level = levelOf(message)): string =>
  encode({ time: timeOf(millis), level, message, source })

const statusLine = (status: ComponentProcess.ComponentStatus): string =>
  lineOf(
    status.name,
    status.since,
    describe(status),
    status.state === "errored" ? "ERROR" : status.state === "backing-off" ? "WARNING" : "INFO"
  )

const launcherLine = (message: string, level = "INFO") => lineOf("launcher", Date.now(), message, level)

const failureOf = (instanceId: string, error: { readonly _tag: string; readonly message: string }) =>
  error._tag === "InstanceNotFound" ? `未找到实例 '${instanceId}'` : error.message

const PingFrame = Schema.fromJsonString(Schema.Struct({ type: Schema.Literal("ping"), timestamp: Schema.optional(Schema.Number) }))
const decodePing = Schema.decodeUnknownOption(PingFrame)

interface Attached {
  readonly terminals: ReadonlyArray<InstanceSupervisor.Terminal>
  readonly scope: Scope.Closeable
}

/** The log route, for `MaikitServer`'s `mounts`. */
export const mount = (options: Options = {}) => {
  const limits: Connection.Limits = { ...Connection.defaultLimits, ...options.limits }
  const token = options.accessToken ?? Option.none()
  const capacity = options.capacity ?? 256
  const backlogLines = options.backlogLines ?? 200
  const goodbyes = new Set<Effect.Effect<void>>()

  const session = (
    supervisor: InstanceSupervisor.InstanceSupervisor["Service"],
    request: HttpServerRequest.HttpServerRequest,
    instanceId: string
  ) =>
    Effect.gen(function*() {
      const connection = yield* Connection.accept(request, limits)
      const goodbye = Effect.andThen(
        connection.send(launcherLine("服务器正在关闭，连接即将断开。", "WARNING")),
        connection.close(Connection.close.goingAway, "server shutting down")
      )
      goodbyes.add(goodbye)
      yield* Effect.addFinalizer(() => Effect.sync(() => goodbyes.delete(goodbye)))
      const reject = (message: string) => launcherLine(message, "ERROR")
      if (!(yield* Connection.authenticate(connection, request, token, limits, reject))) return

      const scope = yield* Effect.scope
      const attach = Effect.gen(function*() {
        const child = yield* Scope.fork(scope, "sequential")
        const terminals = yield* supervisor.get(instanceId).pipe(
          Effect.flatMap((instance) =>
            Effect.forEach(instance.components, (component) => supervisor.attach(instanceId, component.name, { capacity }))
          ),
          Scope.provide(child),
          Effect.onError(() => Scope.close(child, Exit.void))
        )
        return { terminals, scope: child } satisfies Attached
      })
      const first = yield* Effect.result(attach)
      if (Result.isFailure(first)) {
        const message = failureOf(instanceId, first.failure)
        yield* connection.send(launcherLine(message, "ERROR"))
        return yield* connection.close(Connection.close.unsupported, message)
      }
      let current = first.success
      let splitters = new Map<string, LineSplitter>()

      const backlog = (terminals: ReadonlyArray<InstanceSupervisor.Terminal>) =>
        connection.sendAll(terminals.flatMap((terminal) => {
          const splitter = new LineSplitter()
          const lines = terminal.backlog.flatMap((record) =>
            splitter.push(record.data).map((message) => lineOf(terminal.component, record.timestamp, message))
          )
          return [...lines.slice(-backlogLines), statusLine(terminal.status)]
        }))
      yield* backlog(current.terminals)

      const linesOf = (component: string, event: ComponentProcess.ComponentEvent): Array<string> => {
        let splitter = splitters.get(component)
        if (splitter === undefined) {
          splitter = new LineSplitter()
          splitters.set(component, splitter)
        }
        if (event._tag === "Output") {
          return splitter.push(event.data).map((message) => lineOf(component, event.timestamp, message))
        }
        const pending = splitter.flush().map((message) => lineOf(component, event.status.since, message))
        return [...pending, statusLine(event.status)]
      }

      const inbound = Effect.forever(Effect.flatMap(connection.next, (frame) => {
        if (frame._tag === "Refused") return Effect.void
        const ping = decodePing(frame.text)
        if (Option.isNone(ping)) return Effect.void
        const now = performance.timeOrigin + performance.now()
        return connection.send(JSON.stringify({
          type: "pong",
          timestamp: ping.value.timestamp ?? Math.floor(now),
          server_time: now
        }))
      }))

      const outbound = Effect.gen(function*() {
        while (true) {
          const merged = Stream.mergeAll(
            current.terminals.map((terminal) =>
              Stream.map(terminal.events, (event) => ({ component: terminal.component, event }))
            ),
            { concurrency: "unbounded" }
          )
          const delivered = yield* Effect.exit(Stream.runForEachArray(merged, (batch) =>
            Effect.flatMap(
              connection.sendAll(batch.flatMap((item) => linesOf(item.component, item.event))),
              (kept) => kept ? Effect.void : Effect.fail(new Connection.ClientTooSlow())
            )))
          if (Exit.isFailure(delivered)) {
            yield* connection.send(launcherLine("客户端读取过慢，连接已断开，请重新连接", "WARNING"))
            return yield* connection.close(Connection.close.tryAgainLater, "client too slow")
          }
          yield* Scope.close(current.scope, Exit.void)
          const again = yield* Effect.result(attach)
          if (Result.isFailure(again)) {
            yield* connection.send(launcherLine(`日志已关闭: ${failureOf(instanceId, again.failure)}`))
            return yield* connection.close(Connection.close.normal, "log closed")
          }
          current = again.success
          splitters = new Map()
          yield* backlog(current.terminals)
        }
      })

      yield* Effect.ignore(Effect.raceFirst(inbound, outbound))
    })

  const routes = HttpRouter.use((router) =>
    Effect.gen(function*() {
      const supervisor = yield* InstanceSupervisor.InstanceSupervisor
      yield* router.add("GET", path, (request) =>
        Effect.gen(function*() {
          if (!Connection.isWebSocketRequest(request)) {
            return HttpServerResponse.jsonUnsafe({ detail: "需要 WebSocket 连接 (Upgrade: websocket)" }, { status: 426 })
          }
          const params = yield* HttpRouter.params
          yield* Effect.ignore(Effect.scoped(session(supervisor, request, params["id"] ?? "")))
          return HttpServerResponse.empty()
        }))
    })
  )

  return {
    routes,
    paths: [{ method: "GET", path }],
    checksToken: (requested: string) => Option.isSome(token) && requested.startsWith(prefix),
    shutdown: Effect.suspend(() => Effect.forEach([...goodbyes], (goodbye) => goodbye, { discard: true }))
  }
}
