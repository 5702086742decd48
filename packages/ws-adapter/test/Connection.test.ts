import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServer, HttpServerResponse } from "effect/http"
import * as Http from "node:http"
import WsClient from "ws"
import * as Connection from "../src/internal/connection.ts"

interface Received {
  readonly text: string
  readonly binary: boolean
}

/** A server whose one socket route sends `frames` in one batch, then its own `sharesBytes`, then closes. */
const serve = (frames: () => ReadonlyArray<Connection.Outbound>, websocket: { readonly perMessageDeflate?: boolean } = {}) =>
  Effect.gen(function*() {
    const route = HttpRouter.add("GET", "/socket", (request: HttpServerRequest.HttpServerRequest) =>
      Effect.scoped(Effect.gen(function*() {
        const connection = yield* Connection.accept(request, Connection.defaultLimits)
        yield* connection.send("first")
        yield* connection.sendAll(frames())
        yield* connection.send(`sharesBytes:${connection.sharesBytes}`)
        yield* connection.close(Connection.close.normal, "done")
        yield* Effect.sleep(200)
        return HttpServerResponse.empty()
      })).pipe(Effect.orDie))
    const context = yield* Layer.build(
      HttpRouter.serve(route, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { host: "127.0.0.1", port: 0, websocket }))
      )
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    return `ws://127.0.0.1:${address._tag === "UnixPathAddress" ? 0 : address.port}/socket`
  })

/** Every message until the close, with whether it came as a binary frame; and the negotiated extensions. */
const receive = (url: string) =>
  Effect.callback<{ readonly messages: ReadonlyArray<Received>; readonly extensions: string }>((resume) => {
    const socket = new WsClient(url)
    const messages: Array<Received> = []
    socket.on("message", (data: Buffer, binary: boolean) => messages.push({ text: data.toString("utf8"), binary }))
    socket.on("close", () => resume(Effect.succeed({ messages, extensions: socket.extensions })))
    socket.on("error", () => {})
  })

describe("Connection", () => {
  it.live("shared text goes out as text frames of the same bytes, in order with the connection's other frames", () =>
    Effect.gen(function*() {
      const shared = new Connection.SharedText("{\"type\":\"output\",\"data\":\"你好🙂\\r\\n\"}")
      const url = yield* serve(() => [shared, "between", shared, new Connection.SharedText("last")])
      const first = yield* receive(url)
      const second = yield* receive(url)
      const expected = ["first", shared.text, "between", shared.text, "last", "sharesBytes:true"]
      for (const { messages } of [first, second]) {
        assert.deepStrictEqual(messages.map((message) => message.text), expected)
        assert.isTrue(messages.every((message) => !message.binary), "every frame is a text frame")
      }
      assert.strictEqual(shared.bytes.toString("utf8"), shared.text, "encoded once, as UTF-8")
    }).pipe(Effect.scoped))

  it.live("with permessage-deflate negotiated, shared text is compressed by ws and still arrives in order", () =>
    Effect.gen(function*() {
      const big = new Connection.SharedText("x".repeat(200_000))
      const url = yield* serve(() => ["a", big, "b", big, "c"], { perMessageDeflate: true })
      const { messages, extensions } = yield* receive(url)
      assert.include(extensions, "permessage-deflate")
      assert.deepStrictEqual(messages.map((message) => message.text), ["first", "a", big.text, "b", big.text, "c", "sharesBytes:true"])
      assert.isTrue(messages.every((message) => !message.binary))
    }).pipe(Effect.scoped))
})
