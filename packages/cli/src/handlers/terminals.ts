/**
 * What `maikit logs` and `maikit attach` do (the definitions are in `commands/instances.ts`): WebSocket clients of
 * a server's log and terminal sockets.
 */
import * as CliError from "effect/cli/CliError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import { LogSocket, TerminalSocket } from "@maikit/ws-adapter"
import type { Input, Remote } from "../commands/flags.ts"
import type * as Commands from "../commands/instances.ts"
import { fail } from "./output.ts"
import { target } from "./remote.ts"

/** A WebSocket to the server, authenticated by the first frame (the token stays out of URLs and process lists). */
const openSocket = (flags: Remote, path: string) =>
  Effect.gen(function*() {
    const at = target(flags)
    const base = at.baseUrl.replace(/^http/, "ws")
    const socket = yield* Socket.makeWebSocket(`${base}${path}`)
    const reader = yield* socket.reader.pipe(
      Effect.mapError((error) =>
        new CliError.UserError({ cause: error, userMessage: `cannot open a WebSocket to ${base}${path}: ${error.message}` })
      )
    )
    const writer = yield* socket.writer
    const send = (frame: unknown) => Effect.ignore(writer.write(JSON.stringify(frame)))
    if (at.accessToken !== undefined) yield* send({ type: "auth", token: at.accessToken })
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

export const logs = (flags: Input<typeof Commands.logsFlags>) =>
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

const detachKey = 0x1d

export const attach = (flags: Input<typeof Commands.attachFlags>) =>
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
