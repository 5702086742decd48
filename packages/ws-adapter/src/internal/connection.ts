/**
 * One accepted WebSocket, with the limits every MaiKit socket applies: inbound frames capped in size and
 * rate-limited per connection (a token bucket), outbound writes that never let a client that does not read
 * grow the server's memory (past `highWaterBytes` buffered, the writer waits for the client to drain, and a
 * client that does not within `drainTimeoutMs` is dropped), and the access token checked from the request or,
 * since a browser cannot set headers on a WebSocket, from the first frame.
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { Array as Arr, Effect, Option, Redacted, Schema, type Scope } from "effect"
import type { HttpServerError, HttpServerRequest } from "effect/http"
import * as Socket from "effect/socket/Socket"
import type * as Net from "node:net"
import { WebSocket } from "ws"
import { AccessToken } from "@maikit/core/platform"

export interface Limits {
  /** Largest inbound frame handled; a bigger one is answered with an error and ignored. Default 64 KiB. */
  readonly maxFrameBytes: number
  /** Sustained inbound frames per second. Default 50. */
  readonly framesPerSecond: number
  /** Frames allowed in a burst above the sustained rate. Default 100. */
  readonly burst: number
  /** Bytes buffered for a client above which writing waits for it to read. Default 1 MiB. */
  readonly highWaterBytes: number
  /** How long a client may leave that buffer full before it is dropped. Default 5 s. */
  readonly drainTimeoutMs: number
  /** How long an unauthenticated client has to send its token. Default 5 s. */
  readonly authTimeoutMs: number
}

export const defaultLimits: Limits = {
  maxFrameBytes: 64 * 1024,
  framesPerSecond: 50,
  burst: 100,
  highWaterBytes: 1024 * 1024,
  drainTimeoutMs: 5_000,
  authTimeoutMs: 5_000
}

/** The client left too much unread for too long and was dropped. */
export class ClientTooSlow extends Schema.TaggedError<ClientTooSlow>()("ClientTooSlow", {}) {}

export const close = {
  normal: 1000,
  goingAway: 1001,
  unsupported: 1003,
  policy: 1008,
  tryAgainLater: 1013
} as const

/** An inbound frame within the limits, or why one was refused. */
export type Inbound =
  | { readonly _tag: "Frame"; readonly text: string }
  | { readonly _tag: "Refused"; readonly message: string }

/**
 * A text frame many clients get (a terminal's output), encoded to UTF-8 once: each client is sent the same
 * bytes as a text frame, where a string would be encoded again for every one of them.
 */
export class SharedText {
  readonly bytes: Buffer
  /** The frame's text, or its UTF-8 bytes. */
  constructor(content: string | Buffer) {
    this.bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content
  }
  /** The frame as text, for a socket that cannot send these bytes as a text frame. */
  get text(): string {
    return this.bytes.toString("utf8")
  }
}

export type Outbound = string | SharedText

export interface Connection {
  /** Sends at once, whatever is buffered: replies and status frames. */
  readonly send: (frame: string) => Effect.Effect<void>
  /** Sends a batch, then waits while the client has more than the high-water mark unread; false = dropped. */
  readonly sendAll: (frames: ReadonlyArray<Outbound>) => Effect.Effect<boolean>
  /** Whether `SharedText` frames go out as their shared bytes (else each is sent as its text). */
  readonly sharesBytes: boolean
  /** The next inbound frame; fails when the client has gone. */
  readonly next: Effect.Effect<Inbound, Socket.SocketError>
  /** Sends a close frame; a client that does not complete the handshake promptly is cut off. */
  readonly close: (code: number, reason: string) => Effect.Effect<void>
}

const isText = <A>(frame: string | A): frame is string => typeof frame === "string"

/**
 * The `ws` socket behind an upgraded connection. Effect's socket writer sends a `Uint8Array` as a binary frame,
 * which a terminal's clients would not read; `ws` itself sends bytes as a text frame when asked, through the same
 * sender as every other frame of the connection (so in order, compressed if negotiated, and nothing once closing).
 * `ws` keeps itself on the Node socket under its `websocket` symbol.
 */
export const webSocketOf = (transport: Net.Socket): WebSocket | undefined => {
  for (const key of Object.getOwnPropertySymbols(transport)) {
    if (key.description !== "websocket") continue
    const value: unknown = Reflect.get(transport, key)
    if (value instanceof WebSocket) return value
  }
  return undefined
}

/** A close reason fits in 123 bytes of UTF-8, or the close frame is refused altogether. */
export const closeReason = (reason: string): string => {
  let text = reason
  while (Buffer.byteLength(text) > 123) text = text.slice(0, -1)
  const last = text.charCodeAt(text.length - 1)
  return last >= 0xd800 && last <= 0xdbff ? text.slice(0, -1) : text
}
const decoder = new TextDecoder("utf-8", { fatal: false })

/** Whether the request asks for a WebSocket (anything else on a socket route gets an HTTP answer). */
export const isWebSocketRequest = (request: HttpServerRequest.HttpServerRequest): boolean =>
  (request.headers["upgrade"] ?? "").toLowerCase() === "websocket"

const AuthFrame = Schema.fromJsonString(Schema.Struct({ type: Schema.Literal("auth"), token: Schema.String }))
const decodeAuth = Schema.decodeUnknownOption(AuthFrame)

/** Completes the handshake and wraps the socket; the connection lives as long as the scope. */
export const accept = (
  request: HttpServerRequest.HttpServerRequest,
  limits: Limits
): Effect.Effect<Connection, HttpServerError.HttpServerError | Socket.SocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const socket = yield* request.upgrade
    const reader = yield* socket.reader
    const writer = yield* socket.writer
    const transport = NodeHttpServerRequest.toIncomingMessage(request).socket
    const webSocket = webSocketOf(transport)
    let pending: Array<string | Uint8Array> = []
    let tokens = limits.burst
    let refilledAt = Date.now()
    let closing = false

    const send = (frame: string) => Effect.ignore(writer.write(frame))

    const waitForDrain = Effect.callback<boolean>((resume) => {
      if (transport.destroyed) return resume(Effect.succeed(false))
      const onDrain = () => {
        cleanup()
        resume(Effect.succeed(true))
      }
      const onClose = () => {
        cleanup()
        resume(Effect.succeed(false))
      }
      const cleanup = () => {
        transport.off("drain", onDrain)
        transport.off("close", onClose)
      }
      transport.on("drain", onDrain)
      transport.on("close", onClose)
      return Effect.sync(cleanup)
    }).pipe(Effect.timeoutOption(limits.drainTimeoutMs), Effect.map(Option.getOrElse(() => false)))
    const drained = Effect.suspend(() =>
      transport.writableLength <= limits.highWaterBytes ? Effect.succeed(true) : waitForDrain
    )

    const writeFrames = webSocket === undefined
      ? (frames: Arr.NonEmptyReadonlyArray<Outbound>) =>
        Effect.ignore(writer.writeAll(Arr.map(frames, (frame) => isText(frame) ? frame : frame.text)))
      : (frames: Arr.NonEmptyReadonlyArray<Outbound>) =>
        Effect.ignore(Effect.try(() => {
          for (const frame of frames) {
            if (isText(frame)) webSocket.send(frame)
            else webSocket.send(frame.bytes, { binary: false })
          }
        }))

    // Corked, a batch leaves in one write system call instead of one per frame.
    const writeBatch = (frames: Arr.NonEmptyReadonlyArray<Outbound>) =>
      Effect.acquireUseRelease(
        Effect.sync(() => transport.cork()),
        () => writeFrames(frames),
        () => Effect.sync(() => transport.uncork())
      )

    const sendAll = (frames: ReadonlyArray<Outbound>) =>
      closing
        ? Effect.succeed(false)
        : Arr.isReadonlyArrayNonEmpty(frames)
        ? Effect.andThen(writeBatch(frames), drained)
        : Effect.succeed(true)

    const admit = (frame: string | Uint8Array): Inbound => {
      const now = Date.now()
      tokens = Math.min(limits.burst, tokens + ((now - refilledAt) / 1000) * limits.framesPerSecond)
      refilledAt = now
      if (tokens < 1) return { _tag: "Refused", message: `消息过于频繁（上限每秒 ${limits.framesPerSecond} 条），已丢弃` }
      tokens -= 1
      const size = isText(frame) ? Buffer.byteLength(frame) : frame.byteLength
      if (size > limits.maxFrameBytes) {
        return { _tag: "Refused", message: `消息过大: ${size} 字节（上限 ${limits.maxFrameBytes} 字节），已忽略` }
      }
      return { _tag: "Frame", text: isText(frame) ? frame : decoder.decode(frame) }
    }

    const next: Effect.Effect<Inbound, Socket.SocketError> = Effect.suspend(() => {
      const frame = pending.shift()
      if (frame !== undefined) return Effect.succeed(admit(frame))
      return Effect.flatMap(reader.pull, (batch) => {
        pending = [...batch]
        return next
      })
    })

    const closeWith = (code: number, reason: string) =>
      Effect.gen(function*() {
        if (closing) return
        closing = true
        yield* Effect.ignore(writer.write(new Socket.CloseEvent(code, closeReason(reason))))
        // `ws` waits 30 s for the client's half of the handshake; a client that does not read never sends it.
        const timer = setTimeout(() => transport.destroy(), 1_000)
        transport.once("close", () => clearTimeout(timer))
      })

    return { send, sendAll, sharesBytes: webSocket !== undefined, next, close: closeWith }
  })

/**
 * Checks the access token when one is configured: from the request, or else from a first frame
 * `{"type":"auth","token":"…"}` within `authTimeoutMs`. On failure the client gets `reject(message)` and a
 * 1008 close, and this answers false.
 */
export const authenticate = (
  connection: Connection,
  request: HttpServerRequest.HttpServerRequest,
  token: Option.Option<Redacted.Redacted<string>>,
  limits: Limits,
  reject: (message: string) => string
): Effect.Effect<boolean, Socket.SocketError> =>
  Effect.gen(function*() {
    if (Option.isNone(token)) return true
    const presented = AccessToken.presented(request.headers, request.url)
    const refuse = (message: string) =>
      Effect.as(Effect.andThen(connection.send(reject(message)), connection.close(close.policy, message)), false)
    if (presented !== undefined) return AccessToken.matches(presented, token.value) ? true : yield* refuse("访问令牌无效")
    const first = yield* Effect.timeoutOption(connection.next, limits.authTimeoutMs)
    if (Option.isNone(first)) return yield* refuse("需要访问令牌：请在 URL 中加 ?token= 或先发送 {\"type\":\"auth\",\"token\":…}")
    const auth = first.value._tag === "Frame" ? decodeAuth(first.value.text) : Option.none()
    if (Option.isNone(auth)) return yield* refuse("需要访问令牌：第一条消息必须是 {\"type\":\"auth\",\"token\":…}")
    return AccessToken.matches(auth.value.token, token.value) ? true : yield* refuse("访问令牌无效")
  })
