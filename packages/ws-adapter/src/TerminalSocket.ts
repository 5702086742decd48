/**
 * The launcher's terminal WebSocket, `/api/v1/ws/{instance_id}_{type}` (and the seed's `/ws/{…}`), speaking the
 * original's protocol (`shared/contracts/launcher-api.md` §2.1) on `InstanceSupervisor`'s terminals.
 *
 * - Connect: the socket is accepted first; a session id without `_` gets an `error` frame and close 1003, as does
 *   an unknown instance or component. Otherwise `{"type":"status","message":"已连接到 {type} 终端"}` (with
 *   ` (等待启动命令)` when the component is not running), then what it printed lately as `output`, then
 *   everything it prints, and a `status` frame on every state change. The terminal follows the component
 *   across stops, starts and crash restarts; it does not close when the instance stops.
 * - In: `input` (to the PTY, raw), `ping` (answered at once with `pong`, `timestamp` and `server_time`; the
 *   first one carrying `connectionStartTime` also gets the history since then), `request_history`
 *   (`fromTime`/`toTime`, or the docs' `from_time`/`to_time`), `resize`, and MaiKit's optional `flow` (see
 *   `FlowFrame`). A frame that is not JSON, has an unknown `type` or bad fields, is too big or comes too fast gets
 *   an `error` frame; the connection stays.
 * - Every output frame is encoded once and the same bytes go to every client. A client that reads more slowly
 *   than the process prints never slows the process or the other clients: once its socket has not drained for
 *   `slowAfterMs`, past `backlogChars` waiting for it the oldest output is skipped and it gets the newest after an
 *   `output` line saying how much was left out (the history keeps everything), so its screen and a typed line's
 *   echo stay current. A client that keeps up gets every byte of a burst of up to `burstChars`. A client that
 *   reads nothing for `limits.drainTimeoutMs` is told so (`status`) and closed with 1013. Server shutdown: `status` `服务器正在关闭，连接即将断开。` and close 1001. Instance deleted:
 *   `status` and close 1000.
 * - With an access token configured, the client presents it in the URL (`?token=`), a header, or a first frame
 *   `{"type":"auth","token":"…"}`; otherwise `error` and close 1008.
 */
import { Effect, Exit, Latch, Option, type Redacted, Result, Schema, Scope, Stream } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { ComponentProcess, InstanceSupervisor, type OutputHistory } from "@maikit/core/launcher"
import * as Connection from "./internal/connection.ts"
import * as OutputBacklog from "./internal/outputBacklog.ts"
import { describe } from "./internal/statusText.ts"

const prefixes = ["/api/v1/ws/", "/ws/"] as const
export const paths = prefixes.map((prefix) => `${prefix}:session` as const)

const Dimension = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))
const Millis = Schema.NullOr(Schema.Number)

export const InputFrame = Schema.Struct({ type: Schema.Literal("input"), data: Schema.String })
export const PingFrame = Schema.Struct({
  type: Schema.Literal("ping"),
  timestamp: Schema.optional(Schema.Number),
  connectionStartTime: Schema.optional(Schema.Number)
})
export const RequestHistoryFrame = Schema.Struct({
  type: Schema.Literal("request_history"),
  fromTime: Schema.optional(Millis),
  toTime: Schema.optional(Millis),
  from_time: Schema.optional(Millis),
  to_time: Schema.optional(Millis)
})
export const ResizeFrame = Schema.Struct({
  type: Schema.Literal("resize"),
  cols: Schema.optional(Dimension),
  rows: Schema.optional(Dimension)
})
export const AuthFrame = Schema.Struct({ type: Schema.Literal("auth"), token: Schema.String })
/** The languages the skip notice is worded in; Chinese is the original client's. */
export const NoticeLanguage = Schema.Literals(["zh", "en"])
export type NoticeLanguage = typeof NoticeLanguage.Type

/**
 * MaiKit's, optional: flow control for a client that shows output more slowly than a process can print it (a
 * browser terminal). `window` turns it on: the server then keeps at most that many characters of `output` sent
 * and not yet reported `consumed` (characters of `output` data the client has shown since it connected,
 * cumulative). Output that does not fit waits in the client's bounded backlog, where the oldest is skipped. For a
 * moment after each `input` the newest output is sent beyond the window (see `expressMs`). `lang` words the
 * notice of skipped output in the client's language (Chinese until told).
 */
export const FlowFrame = Schema.Struct({
  type: Schema.Literal("flow"),
  window: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1024, maximum: 64 * 1024 * 1024 }))),
  consumed: Schema.optional(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))),
  lang: Schema.optional(NoticeLanguage)
})

/** What a client may send. */
export const ClientFrame = Schema.Union([InputFrame, PingFrame, RequestHistoryFrame, ResizeFrame, AuthFrame, FlowFrame])
export type ClientFrame = typeof ClientFrame.Type

export const OutputFrame = Schema.Struct({ type: Schema.Literal("output"), data: Schema.String })
/** `component`, `state` and `pid` are MaiKit's; the original's client reads `message`. */
export const StatusFrame = Schema.Struct({
  type: Schema.Literal("status"),
  message: Schema.String,
  component: Schema.optional(Schema.String),
  state: Schema.optional(ComponentProcess.ComponentState),
  pid: Schema.optional(Schema.NullOr(Schema.Int))
})
export const ErrorFrame = Schema.Struct({ type: Schema.Literal("error"), message: Schema.String })
export const PongFrame = Schema.Struct({
  type: Schema.Literal("pong"),
  timestamp: Schema.Number,
  /** Epoch milliseconds with a fraction, as the original's `time.time() * 1000`. */
  server_time: Schema.Number
})
export const HistoryLogsFrame = Schema.Struct({
  type: Schema.Literal("history_logs"),
  logs: Schema.Array(Schema.Struct({ timestamp: Schema.Number, data: Schema.String })),
  session_id: Schema.String
})

/** What the server sends. */
export const ServerFrame = Schema.Union([OutputFrame, StatusFrame, ErrorFrame, PongFrame, HistoryLogsFrame])
export type ServerFrame = typeof ServerFrame.Type

export interface Options {
  /** The server's access token, if it has one; the socket then needs it too. */
  readonly accessToken?: Option.Option<Redacted.Redacted<string>> | undefined
  readonly limits?: Partial<Connection.Limits> | undefined
  /** Events a client's subscription may hold before it is dropped (only if the server itself falls behind). Default 256. */
  readonly capacity?: number | undefined
  /**
   * Output a client that reads more slowly than the process prints may have waiting, in characters, beyond what
   * its socket holds (`limits.highWaterBytes`); older output is skipped, with a notice in the terminal. Default 256 Ki.
   */
  readonly backlogChars?: number | undefined
  /**
   * How long a client's socket may stay above `limits.highWaterBytes` before the client counts as slower than the
   * process, and its backlog is cut to `backlogChars`. Default 250 ms.
   */
  readonly slowAfterMs?: number | undefined
  /**
   * Output a client that keeps up may have waiting, in characters. A flood's output reaches the server in bursts
   * (whatever the PTY thread read while the main thread was busy, a few MB at once), each more than `backlogChars`,
   * and a client that drains its socket as fast as it is written must not lose them. Default 16 Mi.
   */
  readonly burstChars?: number | undefined
  /** Recent output replayed on connect, in characters. Default 256 Ki. */
  readonly replayChars?: number | undefined
  /** Most a `history_logs` frame carries (the newest part of the range), in characters. Default 1 Mi. */
  readonly historyChars?: number | undefined
  /**
   * How long a flow-controlled client whose window is full is waited for to report what it has shown before it is
   * sent more anyway (a report refused by the frame rate limit must not stall its terminal). Default 1 s.
   */
  readonly flowStallMs?: number | undefined
}

const frameChars = 64 * 1024
/**
 * After an input, a flow-controlled client is sent the newest output at once for this long, window or not, a
 * window at a time at most every `expressEveryMs` and at most `expressWindows` windows in all (`expressLeastChars`
 * at least): what the program answers (a typed line's echo) then reaches it without waiting for the client to
 * report what it has shown, which a page busy drawing a flood does every few dozen milliseconds. The client skips
 * what it cannot show (as the console does). The budget bounds what an input adds in flight on a slow link.
 */
const expressMs = 150
const expressEveryMs = 8
const expressWindows = 6
/** The budget's floor: a page's first window is small (it has not measured itself), and a flood's first output is old. */
const expressLeastChars = 128 * 1024
const historyBurst = 3
const encode = (frame: ServerFrame): string => JSON.stringify(frame)
const errorFrame = (message: string) => encode({ type: "error", message })
const statusFrame = (message: string, status?: ComponentProcess.ComponentStatus) =>
  encode(
    status === undefined
      ? { type: "status", message }
      : { type: "status", message, component: status.name, state: status.state, pid: status.pid }
  )

/** The same output event reaches every client of a component: encoded once, the same bytes sent to all. */
const outputFrames = new WeakMap<ComponentProcess.OutputEvent, Connection.SharedText>()
const outputHead = Buffer.from("{\"type\":\"output\",\"data\":")
const outputTail = Buffer.from("}")

/** `encode({ type: "output", data })`, as bytes, made from the bytes the process wrote. */
const outputFrame = (event: ComponentProcess.OutputEvent): Connection.SharedText => {
  let frame = outputFrames.get(event)
  if (frame === undefined) {
    frame = new Connection.SharedText(ComponentProcess.dataAsJson(event, outputHead, outputTail))
    outputFrames.set(event, frame)
  }
  return frame
}

/** Said in the terminal itself where output was left out, so any client shows it (colours reset first). */
export const skippedNotice = (chars: number, language: NoticeLanguage = "zh"): string =>
  `\r\n\x1b[0m\x1b[33m[… ${
    language === "en"
      ? `output too fast: ${chars} characters skipped; the log and “Full history” have all of it`
      : `输出过快，已跳过 ${chars} 个字符；完整输出见日志或“完整历史”`
  } …]\x1b[0m\r\n`

/**
 * A client's frames for what it is sent next (one per event, output frames shared by every client), and the
 * characters of output data they carry.
 */
const framesOf = (taken: OutputBacklog.Taken, language: NoticeLanguage) => {
  const notice = taken.skippedChars > 0 ? skippedNotice(taken.skippedChars, language) : ""
  const frames: Array<Connection.Outbound> = notice === "" ? [] : [encode({ type: "output", data: notice })]
  let chars = notice.length
  for (const event of taken.events) {
    if (event._tag === "Output") {
      frames.push(outputFrame(event))
      chars += event.data.length
    } else {
      frames.push(statusFrame(describe(event.status), event.status))
    }
  }
  return { frames, chars }
}

/** The last `limit` characters, not starting inside a surrogate pair. */
const tail = (text: string, limit: number): string => {
  if (text.length <= limit) return text
  const cut = text.length - limit
  const code = text.charCodeAt(cut)
  return text.slice(code >= 0xdc00 && code <= 0xdfff ? cut + 1 : cut)
}

const chunks = (text: string): Array<string> => {
  const out: Array<string> = []
  for (let start = 0; start < text.length;) {
    let end = Math.min(text.length, start + frameChars)
    const code = text.charCodeAt(end - 1)
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--
    out.push(text.slice(start, end))
    start = end
  }
  return out
}

/** The newest records of `records` that fit in `limit` characters. */
const newest = (records: ReadonlyArray<OutputHistory.OutputRecord>, limit: number) => {
  let total = 0
  let first = records.length
  while (first > 0) {
    const size = records[first - 1]?.data.length ?? 0
    if (total + size > limit) break
    total += size
    first--
  }
  return records.slice(first)
}

const Envelope = Schema.fromJsonString(Schema.Struct({ type: Schema.String }))
const decodeEnvelope = Schema.decodeUnknownOption(Envelope)
const decodeFrame = Schema.decodeUnknownResult(Schema.fromJsonString(ClientFrame))
const knownTypes = new Set(["input", "ping", "request_history", "resize", "auth", "flow"])

/** A client frame, or the reason it is not one, worded for the client. */
export const parseFrame = (text: string): Result.Result<ClientFrame, string> => {
  const decoded = decodeFrame(text)
  if (Result.isSuccess(decoded)) return Result.succeed(decoded.success)
  const envelope = decodeEnvelope(text)
  if (Option.isNone(envelope)) return Result.fail("无法解析的消息：需要带 type 字段的 JSON")
  const type = envelope.value.type
  if (!knownTypes.has(type)) return Result.fail(`不支持的消息类型: ${type}`)
  return Result.fail(`消息格式无效 (${type}): ${decoded.failure.message}`)
}

const attachFailure = (instanceId: string) =>
(
  error:
    | InstanceSupervisor.InstanceNotFound
    | InstanceSupervisor.ComponentNotFound
    | InstanceSupervisor.InstanceRuntimeError
    | InstanceSupervisor.InstanceRegistryError
) => error._tag === "InstanceNotFound" ? `未找到实例 '${instanceId}'` : error.message

interface Attachment {
  readonly terminal: InstanceSupervisor.Terminal
  readonly scope: Scope.Closeable
}

/**
 * The terminal routes, for `MaikitServer`'s `mounts`. `shutdown` says goodbye to every open terminal (the server
 * runs it when it begins to stop, so it does not wait for them).
 */
export const mount = (options: Options = {}) => {
  const limits: Connection.Limits = { ...Connection.defaultLimits, ...options.limits }
  const token = options.accessToken ?? Option.none()
  const capacity = options.capacity ?? 256
  const replayChars = options.replayChars ?? 256 * 1024
  const historyChars = options.historyChars ?? 1024 * 1024
  const backlogChars = Math.max(1, options.backlogChars ?? 256 * 1024)
  const slowAfterMs = Math.max(0, options.slowAfterMs ?? 250)
  const burstChars = Math.max(backlogChars, options.burstChars ?? 16 * 1024 * 1024)
  const flowStallMs = options.flowStallMs ?? 1_000
  const goodbyes = new Set<Effect.Effect<void>>()

  const session = (
    supervisor: InstanceSupervisor.InstanceSupervisor["Service"],
    request: HttpServerRequest.HttpServerRequest,
    sessionId: string
  ) =>
    Effect.gen(function*() {
      const connection = yield* Connection.accept(request, limits)
      const goodbye = Effect.andThen(
        connection.send(statusFrame("服务器正在关闭，连接即将断开。")),
        connection.close(Connection.close.goingAway, "server shutting down")
      )
      goodbyes.add(goodbye)
      yield* Effect.addFinalizer(() => Effect.sync(() => goodbyes.delete(goodbye)))
      if (!(yield* Connection.authenticate(connection, request, token, limits, errorFrame))) return

      const refuse = (message: string) =>
        Effect.andThen(connection.send(errorFrame(message)), connection.close(Connection.close.unsupported, message))
      const cut = sessionId.lastIndexOf("_")
      if (cut === -1) return yield* refuse(`WebSocket 会话 ID 格式无效 (缺少类型部分): ${sessionId}`)
      const instanceId = sessionId.slice(0, cut)
      const type = sessionId.slice(cut + 1)
      const scope = yield* Effect.scope
      const attach = Effect.gen(function*() {
        const child = yield* Scope.fork(scope, "sequential")
        const terminal = yield* supervisor.attach(instanceId, type, { capacity }).pipe(
          Scope.provide(child),
          Effect.onError(() => Scope.close(child, Exit.void))
        )
        return { terminal, scope: child } satisfies Attachment
      })
      const first = yield* Effect.result(attach)
      if (Result.isFailure(first)) return yield* refuse(attachFailure(instanceId)(first.failure))
      let current = first.success

      // Flow control, once the client asks for it: output characters sent and reported shown, since connecting.
      let flowWindow: number | undefined
      let sentChars = 0
      let consumedChars = 0
      let noticeLanguage: NoticeLanguage = "zh"
      let expressUntil = 0
      let expressChars = 0
      /** Opened by a flow report and by an input: either may let a client waiting on its window be sent more. */
      const nudged = Latch.makeUnsafe(false)

      const replay = (backlog: ReadonlyArray<OutputHistory.OutputRecord>) => {
        const data = tail(backlog.map((record) => record.data).join(""), replayChars)
        sentChars += data.length
        return connection.sendAll(chunks(data).map((chunk) => encode({ type: "output", data: chunk })))
      }
      const waiting = current.terminal.status.state === "running" ? "" : " (等待启动命令)"
      yield* connection.send(statusFrame(`已连接到 ${type} 终端${waiting}`, current.terminal.status))
      yield* replay(current.terminal.backlog)

      let historySent = false
      let historyTokens = historyBurst
      let historyRefilledAt = Date.now()
      let rateErrorAt = 0
      // A query may read every rotated file (60 MiB): a client gets one a second, after a burst of three.
      const sendHistory = (fromMs: number, toMs: number) => {
        const now = Date.now()
        historyTokens = Math.min(historyBurst, historyTokens + (now - historyRefilledAt) / 1000)
        historyRefilledAt = now
        if (historyTokens < 1) return connection.send(errorFrame("历史记录请求过于频繁（每秒最多一次）"))
        historyTokens -= 1
        return current.terminal.history({ fromMs, toMs }).pipe(
          Effect.flatMap((records) => {
            const logs = newest(records, historyChars)
            return logs.length === 0
              ? Effect.void
              : connection.send(encode({
                type: "history_logs",
                logs: logs.map((record) => ({ timestamp: record.timestamp, data: record.data })),
                session_id: sessionId
              }))
          }),
          Effect.catchTag("HistoryError", (error) => connection.send(errorFrame(`读取历史记录失败: ${error.message}`)))
        )
      }

      const handle = (frame: ClientFrame) => {
        switch (frame.type) {
          case "input":
            expressUntil = Date.now() + expressMs
            expressChars = Math.max(expressWindows * (flowWindow ?? 0), expressLeastChars)
            nudged.openUnsafe()
            return current.terminal.write(frame.data).pipe(
              Effect.catchTag("ComponentNotRunning", (error) =>
                connection.send(errorFrame(`${error.component} 未运行（${error.state}），输入未送达`)))
            )
          case "ping": {
            const now = performance.timeOrigin + performance.now()
            const pong = connection.send(encode({ type: "pong", timestamp: frame.timestamp ?? Math.floor(now), server_time: now }))
            if (frame.connectionStartTime === undefined || historySent) return pong
            historySent = true
            return Effect.andThen(pong, sendHistory(frame.connectionStartTime, Number.MAX_SAFE_INTEGER))
          }
          case "request_history": {
            const from = frame.fromTime ?? frame.from_time
            const to = frame.toTime ?? frame.to_time
            return from === undefined || from === null || from === 0 || to === undefined || to === null || to === 0
              ? connection.send(errorFrame("request_history 需要 fromTime 和 toTime（毫秒）"))
              : sendHistory(from, to)
          }
          case "resize":
            return current.terminal.resize(frame.cols ?? 80, frame.rows ?? 25)
          case "auth":
            return Effect.void
          case "flow":
            return Effect.sync(() => {
              if (frame.window !== undefined) flowWindow = frame.window
              if (frame.lang !== undefined) noticeLanguage = frame.lang
              if (frame.consumed !== undefined) consumedChars = Math.max(consumedChars, frame.consumed)
              nudged.openUnsafe()
            })
        }
      }

      const inbound = Effect.forever(Effect.flatMap(connection.next, (inboundFrame) => {
        if (inboundFrame._tag === "Refused") {
          const now = Date.now()
          if (now - rateErrorAt < 1000) return Effect.void
          rateErrorAt = now
          return connection.send(errorFrame(inboundFrame.message))
        }
        const parsed = parseFrame(inboundFrame.text)
        return Result.isSuccess(parsed) ? handle(parsed.success) : connection.send(errorFrame(parsed.failure))
      }))

      /**
       * Sends one attachment's events until its stream ends (true) or the client is dropped (false). A reader
       * keeps the client's backlog current while the writer waits for the socket to drain, so a client that reads
       * slowly is sent the newest output after a notice of what it missed, and only one that reads nothing for the
       * drain timeout (or whose subscription overflowed) is dropped.
       */
      const deliver = (attachment: Attachment) =>
        Effect.gen(function*() {
          // A client with flow control has its window in flight; beyond that, it waits for at most another window
          // of the newest output, so its echo is never more than two windows behind.
          let drainingSince: number | undefined
          const backlog = new OutputBacklog.OutputBacklog(() =>
            flowWindow !== undefined
              ? Math.min(backlogChars, flowWindow)
              : drainingSince !== undefined && Date.now() - drainingSince >= slowAfterMs
              ? backlogChars
              : burstChars
          )
          const ready = Latch.makeUnsafe(false)
          let ended: "no" | "ended" | "overflowed" = "no"
          yield* Stream.runForEachArray(attachment.terminal.events, (batch) =>
            Effect.sync(() => {
              backlog.push(batch)
              ready.openUnsafe()
            })).pipe(
              Effect.exit,
              Effect.flatMap((exit) =>
                Effect.sync(() => {
                  ended = Exit.isFailure(exit) ? "overflowed" : "ended"
                  ready.openUnsafe()
                })
              ),
              Effect.forkIn(attachment.scope)
            )
          while (true) {
            if (backlog.isEmpty) {
              if (ended !== "no") return ended === "ended"
              yield* ready.await
              ready.closeUnsafe()
            } else if (flowWindow !== undefined && sentChars - consumedChars >= flowWindow) {
              const expressLeft = expressUntil - Date.now()
              if (expressLeft > 0 && expressChars > 0) {
                const { frames, chars } = framesOf(backlog.take(Math.min(flowWindow, expressChars)), noticeLanguage)
                sentChars += chars
                expressChars -= chars
                if (!(yield* connection.sendAll(frames))) return false
                yield* Effect.sleep(Math.min(expressEveryMs, expressLeft))
                continue
              }
              const reported = yield* Effect.timeoutOption(nudged.await, flowStallMs)
              nudged.closeUnsafe()
              if (Option.isNone(reported)) consumedChars = sentChars
            } else {
              const room = flowWindow === undefined ? undefined : flowWindow - (sentChars - consumedChars)
              const { frames, chars } = framesOf(backlog.take(room), noticeLanguage)
              sentChars += chars
              drainingSince = Date.now()
              const sent = yield* connection.sendAll(frames)
              drainingSince = undefined
              if (!sent) return false
            }
          }
        })

      const outbound = Effect.gen(function*() {
        while (true) {
          if (!(yield* deliver(current))) {
            yield* connection.send(statusFrame("客户端读取过慢，连接已断开，请重新连接"))
            return yield* connection.close(Connection.close.tryAgainLater, "client too slow")
          }
          // The stream ended: the instance's processes were rebuilt, or the instance is gone.
          yield* Scope.close(current.scope, Exit.void)
          const again = yield* Effect.result(attach)
          if (Result.isFailure(again)) {
            const message = `终端已关闭: ${attachFailure(instanceId)(again.failure)}`
            yield* connection.send(statusFrame(message))
            return yield* connection.close(Connection.close.normal, "terminal closed")
          }
          current = again.success
          yield* connection.send(statusFrame(`终端已重新连接到 ${current.terminal.component}`, current.terminal.status))
          yield* replay(current.terminal.backlog)
        }
      })

      yield* Effect.ignore(Effect.raceFirst(inbound, outbound))
    })

  const routes = HttpRouter.use((router) =>
    Effect.gen(function*() {
      const supervisor = yield* InstanceSupervisor.InstanceSupervisor
      const handler = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.gen(function*() {
          if (!Connection.isWebSocketRequest(request)) {
            return HttpServerResponse.jsonUnsafe({ detail: "需要 WebSocket 连接 (Upgrade: websocket)" }, { status: 426 })
          }
          const params = yield* HttpRouter.params
          yield* Effect.ignore(Effect.scoped(session(supervisor, request, params["session"] ?? "")))
          return HttpServerResponse.empty()
        })
      for (const path of paths) yield* router.add("GET", path, handler)
    })
  )

  return {
    routes,
    paths: paths.map((path) => ({ method: "GET", path })),
    checksToken: (path: string) => Option.isSome(token) && prefixes.some((prefix) => path.startsWith(prefix)),
    shutdown: Effect.suspend(() => Effect.forEach([...goodbyes], (goodbye) => goodbye, { discard: true }))
  }
}
