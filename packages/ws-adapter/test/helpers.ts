/**
 * The terminal and log sockets on a real loopback server with a real supervisor, and WebSocket clients: Node's
 * built-in `WebSocket` (the browser's API, as the Vue client uses it) and `ws` (which can stop reading).
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import * as Http from "node:http"
import WsClient from "ws"
import { InstanceRegistry, InstanceSupervisor } from "@maikit/core/launcher"
import { eventually, supervisorLayer, tempDir } from "../../core/test/helpers/instances.ts"
import { LogSocket, TerminalSocket } from "../src/index.ts"

export interface ServeOptions {
  readonly terminal?: TerminalSocket.Options
  readonly log?: LogSocket.Options
  readonly supervisor?: InstanceSupervisor.Options
}

/** Serves both sockets for the test's scope; yields the `ws://` base, the services and the mounts. */
export const serveSockets = (options: ServeOptions = {}) =>
  Effect.gen(function*() {
    const terminal = TerminalSocket.mount(options.terminal)
    const log = LogSocket.mount(options.log)
    const context = yield* Layer.build(
      HttpRouter.serve(Layer.merge(terminal.routes, log.routes), { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { host: "127.0.0.1", port: 0 })),
        Layer.provideMerge(supervisorLayer(tempDir("sockets"), options.supervisor))
      )
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    const port = address._tag === "UnixPathAddress" ? 0 : address.port
    return {
      base: `ws://127.0.0.1:${port}`,
      http: `http://127.0.0.1:${port}`,
      supervisor: Context.get(context, InstanceSupervisor.InstanceSupervisor),
      registry: Context.get(context, InstanceRegistry.InstanceRegistry),
      terminal,
      log
    }
  })

export type Frame = Readonly<Record<string, unknown>>

export interface Client {
  readonly frames: Array<Frame>
  /** Every `output` frame's data, in order. */
  readonly output: () => string
  readonly send: (frame: Frame | string) => void
  /** Closes from the client's side (1000). */
  readonly end: () => void
  readonly close: { code: number; reason: string } | undefined
  readonly waitFor: (predicate: (frames: ReadonlyArray<Frame>) => boolean, timeoutMs?: number) => Effect.Effect<void>
  readonly waitForClose: (timeoutMs?: number) => Effect.Effect<{ readonly code: number; readonly reason: string }>
}

interface Transport {
  send(data: string): void
  close(): void
}

const makeClient = (transport: Transport, frames: Array<Frame>, closed: { value?: { code: number; reason: string } }): Client => ({
  frames,
  output: () => frames.map((frame) => (frame["type"] === "output" ? String(frame["data"]) : "")).join(""),
  send: (frame) => transport.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
  end: () => transport.close(),
  get close() {
    return closed.value
  },
  waitFor: (predicate, timeoutMs = 5_000) =>
    Effect.asVoid(eventually(Effect.sync(() => predicate(frames)), (met) => met, timeoutMs)),
  waitForClose: (timeoutMs = 5_000) =>
    Effect.map(
      eventually(Effect.sync(() => closed.value), (value) => value !== undefined, timeoutMs),
      (value) => value ?? { code: 0, reason: "" }
    )
})

const parse = (text: string): Frame => {
  try {
    return JSON.parse(text) as Frame
  } catch {
    return { raw: text }
  }
}

/** Connects with Node's built-in (browser-compatible) `WebSocket`; closed with the scope. */
export const connect = (url: string) =>
  Effect.acquireRelease(
    Effect.callback<Client>((resume) => {
      const socket = new WebSocket(url)
      const frames: Array<Frame> = []
      const closed: { value?: { code: number; reason: string } } = {}
      socket.addEventListener("message", (event) => frames.push(parse(String(event.data))))
      socket.addEventListener("close", (event) => {
        closed.value = { code: event.code, reason: event.reason }
        resume(Effect.succeed(makeClient(socket, frames, closed)))
      })
      socket.addEventListener("error", () => {
        closed.value ??= { code: 1006, reason: "handshake failed" }
        resume(Effect.succeed(makeClient(socket, frames, closed)))
      })
      socket.addEventListener("open", () => resume(Effect.succeed(makeClient(socket, frames, closed))))
    }),
    (client) =>
      client.close === undefined
        ? Effect.andThen(Effect.sync(() => client.end()), Effect.ignore(Effect.timeout(client.waitForClose(), "2 seconds")))
        : Effect.void
  )

/** Connects with `ws`, whose reading can be paused like a client that stalls; closed with the scope. */
export const connectWs = (url: string) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly client: Client; readonly socket: WsClient }>((resume) => {
      const socket = new WsClient(url)
      const frames: Array<Frame> = []
      const closed: { value?: { code: number; reason: string } } = {}
      socket.on("message", (data: Buffer) => frames.push(parse(data.toString("utf8"))))
      socket.on("close", (code: number, reason: Buffer) => (closed.value = { code, reason: reason.toString() }))
      socket.on("error", () => {})
      socket.on("open", () => resume(Effect.succeed({ client: makeClient(socket, frames, closed), socket })))
    }),
    ({ socket }) => Effect.sync(() => socket.terminate())
  )

/** How a WebSocket handshake ended: open (101, with a client), or refused with an HTTP answer. */
export type Handshake =
  | { readonly _tag: "Open"; readonly client: Client }
  | { readonly _tag: "Refused"; readonly status: number; readonly body: string }

/**
 * Opens a `ws` connection sending `headers` as a browser would (`Origin`) or as a DNS-rebinding page does (a
 * `Host` of another name); closed with the scope.
 */
export const handshake = (url: string, headers: Readonly<Record<string, string>>) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly result: Handshake; readonly socket: WsClient }>((resume) => {
      const { origin, ...rest } = headers
      const socket = new WsClient(url, { headers: rest, ...(origin === undefined ? {} : { origin }) })
      const frames: Array<Frame> = []
      const closed: { value?: { code: number; reason: string } } = {}
      socket.on("message", (data: Buffer) => frames.push(parse(data.toString("utf8"))))
      socket.on("close", (code: number, reason: Buffer) => (closed.value = { code, reason: reason.toString() }))
      socket.on("error", () => {})
      socket.on("unexpected-response", (_request, response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (body += chunk))
        response.on("end", () =>
          resume(Effect.succeed({ result: { _tag: "Refused", status: response.statusCode ?? 0, body }, socket })))
      })
      socket.on("open", () => resume(Effect.succeed({ result: { _tag: "Open", client: makeClient(socket, frames, closed) }, socket })))
    }),
    ({ socket }) => Effect.sync(() => socket.terminate())
  ).pipe(Effect.map(({ result }) => result))
