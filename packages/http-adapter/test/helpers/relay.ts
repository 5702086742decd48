/**
 * The status-relay family on a real loopback port, over real services: a SQLite file in a temp dir, the
 * bus, the config store, the MQTT link and a BLE link without Bluetooth. Plus an SSE reader over node:http.
 */
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { Database } from "@maikit/core/platform"
import { BleLink, BleTransport, MqttLink, RelayConfigStore, StatusBus } from "@maikit/core/relay"
import { MaikitServer, StatusRelay } from "../../src/index.ts"

export const tempDir = (prefix: string) => Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))

/** A maker of temp dirs for one test file; they are removed after its tests. */
export const tempDirs = (prefix: string) => {
  const dirs: Array<string> = []
  afterAll(() => {
    for (const dir of dirs) Fs.rmSync(dir, { recursive: true, force: true })
  })
  return () => {
    const dir = tempDir(prefix)
    dirs.push(dir)
    return dir
  }
}

export const services = (directory: string) => {
  const base = Layer.mergeAll(StatusBus.StatusBus.layer(), RelayConfigStore.RelayConfigStore.layer({ externalChangeInterval: 0 }))
    .pipe(Layer.provide(Database.layerFile(Path.join(directory, "config.db"))))
  const links = Layer.mergeAll(
    MqttLink.MqttLink.layer({ initialBackoff: "50 millis", maxBackoff: "500 millis" }),
    BleLink.BleLink.layer().pipe(Layer.provide(BleTransport.BleTransport.layerUnsupported("no BLE in this test")))
  )
  return Layer.provideMerge(links, base)
}

export interface ServeOptions {
  readonly maxBodyBytes?: number
  readonly events?: StatusRelay.Options["events"]
  readonly fastLane?: boolean
  readonly accessToken?: string
}

/** Serves the family for the scope; yields the base URL. */
export const serveRelay = (directory: string, options: ServeOptions = {}) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      MaikitServer.layer({
        families: [StatusRelay.makeFamily({ events: options.events })],
        host: "127.0.0.1",
        port: 0,
        maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
        accessToken: Option.map(Option.fromUndefinedOr(options.accessToken), Redacted.make),
        ...(options.fastLane === undefined ? {} : { fastLane: options.fastLane })
      }).pipe(Layer.provideMerge(services(directory)))
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    return { base: address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${address.port}`, context }
  })

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: { readonly code: number; readonly message: string; readonly data?: unknown }
}

export const call = (url: string, init?: RequestInit) =>
  Effect.promise(async (): Promise<Reply> => {
    const response = await fetch(url, init)
    const text = await response.text()
    let json: Reply["json"]
    try {
      json = JSON.parse(text)
    } catch {
      json = { code: Number.NaN, message: text }
    }
    return { status: response.status, headers: response.headers, text, json }
  })

export const sendJson = (url: string, method: string, body: unknown) =>
  call(url, {
    method,
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

export interface SseEvent {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

export interface SseClient {
  readonly events: Array<SseEvent>
  readonly comments: Array<string>
  readonly retry: Array<number>
  readonly headers: Http.IncomingHttpHeaders
  readonly request: Http.ClientRequest
  readonly waitFor: (predicate: (events: ReadonlyArray<SseEvent>) => boolean, timeout?: number) => Effect.Effect<void>
}

/** An SSE client over node:http that parses frames as they arrive; closed with the scope. */
export const sse = (url: string, headers: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<SseClient>((resolve, reject) => {
        const events: Array<SseEvent> = []
        const comments: Array<string> = []
        const retry: Array<number> = []
        const request = Http.get(url, { headers: { accept: "text/event-stream", ...headers }, agent: false }, (response) => {
          let buffer = ""
          response.setEncoding("utf8")
          response.on("data", (chunk: string) => {
            buffer += chunk
            let end = buffer.indexOf("\n\n")
            while (end !== -1) {
              const block = buffer.slice(0, end)
              buffer = buffer.slice(end + 2)
              let id: string | undefined
              let event = "message"
              const data: Array<string> = []
              for (const line of block.split("\n")) {
                if (line.startsWith(":")) comments.push(line.slice(1).trim())
                else if (line.startsWith("id: ")) id = line.slice(4)
                else if (line.startsWith("event: ")) event = line.slice(7)
                else if (line.startsWith("data: ")) data.push(line.slice(6))
                else if (line.startsWith("retry: ")) retry.push(Number(line.slice(7)))
              }
              if (data.length > 0) events.push({ id, event, data: data.join("\n") })
              end = buffer.indexOf("\n\n")
            }
          })
          resolve({
            events,
            comments,
            retry,
            headers: response.headers,
            request,
            waitFor: (predicate, timeout = 5000) =>
              Effect.gen(function*() {
                const deadline = Date.now() + timeout
                while (!predicate(events)) {
                  if (Date.now() > deadline) {
                    return yield* Effect.die(new Error(`SSE timed out; got ${JSON.stringify(events.map((e) => e.event))}`))
                  }
                  yield* Effect.sleep("10 millis")
                }
              })
          })
        })
        request.on("error", reject)
      })
    ),
    (client) => Effect.sync(() => client.request.destroy())
  )
