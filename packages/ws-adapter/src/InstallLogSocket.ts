/**
 * Seed 000's install log WebSocket, `/api/v1/logs/ws`: the log lines of deploy and update jobs as frames
 * `{"time":"2023-10-15 10:00:00","level":"INFO","message":"正在安装依赖...","source":"install"}` (plus MaiKit's
 * `job_id`). On connect the recent lines of the jobs still running come first (or, with `?job=<id>`, that job's
 * last 200 lines whether or not it still runs), then every new line as it is written.
 *
 * The limits, the token and the slow-client policy are the terminal socket's. Inbound frames other than `auth`
 * and `ping` (answered with `pong`) are ignored.
 */
import { Effect, Option, type Redacted, Schema, Stream } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { Deployer } from "@maikit/core/launcher"
import * as Connection from "./internal/connection.ts"
import { timeOf } from "./LogSocket.ts"

export const path = "/api/v1/logs/ws"

export const InstallLogLine = Schema.Struct({
  time: Schema.String,
  /** `INFO`, `WARNING`, `ERROR` or `SUCCESS`. */
  level: Schema.String,
  message: Schema.String,
  source: Schema.Literal("install"),
  job_id: Schema.String
})
export type InstallLogLine = typeof InstallLogLine.Type

export interface Options {
  readonly accessToken?: Option.Option<Redacted.Redacted<string>> | undefined
  readonly limits?: Partial<Connection.Limits> | undefined
}

export const frameOf = (jobId: string, entry: Deployer.LogEntry): string =>
  JSON.stringify({ time: timeOf(entry.at), level: entry.level.toUpperCase(), message: entry.message, source: "install", job_id: jobId } satisfies InstallLogLine)

const launcherLine = (message: string, level: string) =>
  JSON.stringify({ time: timeOf(Date.now()), level, message, source: "install", job_id: "" } satisfies InstallLogLine)

const PingFrame = Schema.fromJsonString(Schema.Struct({ type: Schema.Literal("ping"), timestamp: Schema.optional(Schema.Number) }))
const decodePing = Schema.decodeUnknownOption(PingFrame)

/** The install log route, for `MaikitServer`'s `mounts`. */
export const mount = (options: Options = {}) => {
  const limits: Connection.Limits = { ...Connection.defaultLimits, ...options.limits }
  const token = options.accessToken ?? Option.none()
  const goodbyes = new Set<Effect.Effect<void>>()

  const session = (
    deployer: Deployer.Deployer["Service"],
    request: HttpServerRequest.HttpServerRequest,
    only: string | undefined
  ) =>
    Effect.gen(function*() {
      const connection = yield* Connection.accept(request, limits)
      const goodbye = Effect.andThen(
        connection.send(launcherLine("服务器正在关闭，连接即将断开。", "WARNING")),
        connection.close(Connection.close.goingAway, "server shutting down")
      )
      goodbyes.add(goodbye)
      yield* Effect.addFinalizer(() => Effect.sync(() => goodbyes.delete(goodbye)))
      if (!(yield* Connection.authenticate(connection, request, token, limits, (message) => launcherLine(message, "ERROR")))) return

      // Subscribed before the backlog is read, so no line falls between the two.
      const live = yield* Stream.toPull(deployer.events)
      const backlogOf = (jobId: string) =>
        Effect.map(Effect.orElseSucceed(deployer.status(jobId), () => undefined), (status) =>
          status === undefined ? [] : status.logs.map((entry) => frameOf(jobId, entry)))
      const backlog = only !== undefined
        ? yield* backlogOf(only)
        : yield* Effect.orElseSucceed(deployer.jobs, () => []).pipe(
          Effect.flatMap((jobs) =>
            Effect.forEach(jobs.filter((job) => job.status === "preparing" || job.status === "installing"), (job) => backlogOf(job.id))
          ),
          Effect.map((frames) => frames.flat())
        )
      yield* connection.sendAll(backlog)

      const inbound = Effect.forever(Effect.flatMap(connection.next, (frame) => {
        if (frame._tag === "Refused") return Effect.void
        const ping = decodePing(frame.text)
        if (Option.isNone(ping)) return Effect.void
        const now = performance.timeOrigin + performance.now()
        return connection.send(JSON.stringify({ type: "pong", timestamp: ping.value.timestamp ?? Math.floor(now), server_time: now }))
      }))

      const outbound = Effect.gen(function*() {
        while (true) {
          const batch = yield* live
          const frames = batch.flatMap((event) =>
            event._tag === "Log" && (only === undefined || event.jobId === only) ? [frameOf(event.jobId, event.entry)] : []
          )
          if (!(yield* connection.sendAll(frames))) {
            yield* connection.send(launcherLine("客户端读取过慢，连接已断开，请重新连接", "WARNING"))
            return yield* connection.close(Connection.close.tryAgainLater, "client too slow")
          }
        }
      })

      yield* Effect.ignore(Effect.raceFirst(inbound, outbound))
    })

  const routes = HttpRouter.use((router) =>
    Effect.gen(function*() {
      const deployer = yield* Deployer.Deployer
      yield* router.add("GET", path, (request) =>
        Effect.gen(function*() {
          if (!Connection.isWebSocketRequest(request)) {
            return HttpServerResponse.jsonUnsafe({ detail: "需要 WebSocket 连接 (Upgrade: websocket)" }, { status: 426 })
          }
          const query = request.url.indexOf("?")
          const job = query === -1 ? undefined : new URLSearchParams(request.url.slice(query + 1)).get("job") ?? undefined
          yield* Effect.ignore(Effect.scoped(session(deployer, request, job)))
          return HttpServerResponse.empty()
        }))
    })
  )

  return {
    routes,
    paths: [{ method: "GET", path }],
    checksToken: (requested: string) => Option.isSome(token) && requested === path,
    shutdown: Effect.suspend(() => Effect.forEach([...goodbyes], (goodbye) => goodbye, { discard: true }))
  }
}
