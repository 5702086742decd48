/**
 * The status-relay family: seed 004's routes served from the core services (StatusBus, RelayConfigStore,
 * MqttLink, BleLink), errors as `{code: -1, message}`, secrets masked on every read, and the SSE stream from
 * `StatusEvents`. Mount it alone (`MaikitServer.layer({ families: [StatusRelay.family] })`) or next to the
 * other families. The statuses each error gets are listed in `StatusRelayApi`.
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { type Cause, Deferred, Effect, Exit, Layer, Option, Queue, Schema, Stream } from "effect"
import { type HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import * as Http from "node:http"
import {
  AgentHooks,
  BleLink,
  type DeviceConfigDisabled,
  type HookPayloadInvalid,
  type MqttLinkUnavailable,
  type MqttPublishError,
  MqttLink,
  RelayConfig,
  type RelayConfigConflict,
  type RelayConfigNotFound,
  RelayConfigStore,
  type RelayConfigStoreError,
  StatusBus,
  StatusEvent
} from "@maikit/core/relay"
import * as ApiFamily from "../ApiFamily.ts"
import { StatusEvents } from "./StatusEvents.ts"
import { StatusRelayApi } from "./StatusRelayApi.ts"

const failure = (status: number, message: string, headers?: Record<string, string>) =>
  HttpServerResponse.jsonUnsafe({ code: -1, message }, { status, ...(headers === undefined ? {} : { headers }) })

const describeIssue = (issue: ApiFamily.RequestIssue) => {
  if (issue.type === "json_invalid") return "malformed JSON body"
  const where = issue.loc.slice(1).join(".")
  return where === "" ? issue.msg : `${where}: ${issue.msg}`
}

/** `{code: -1, message}` for everything that fails before a handler answers. */
export const errors: ApiFamily.ErrorShape = {
  invalidRequest: (issues) => failure(400, issues.map(describeIssue).join("; ") || "invalid request"),
  notFound: failure(404, "not found"),
  methodNotAllowed: (allowed) =>
    failure(405, `method not allowed; use ${allowed.join(", ")}`, { allow: allowed.join(", ") }),
  payloadTooLarge: (limitBytes) => failure(413, `request body too large: the limit is ${limitBytes} bytes`),
  unsupportedMediaType: (contentType) => failure(415, `unsupported content type ${contentType}: send application/json`),
  unauthorized: failure(401, "missing or wrong access token", { "www-authenticate": "Bearer" }),
  misdirected: (host) => failure(421, `this server does not answer for host ${host}`),
  forbidden: (reason) => failure(403, reason),
  internalError: failure(500, "internal error")
}

type RelayError =
  | RelayConfigNotFound
  | RelayConfigConflict
  | RelayConfigStoreError
  | DeviceConfigDisabled
  | MqttLinkUnavailable
  | MqttPublishError
  | HookPayloadInvalid

const toResponse = (error: RelayError) => {
  switch (error._tag) {
    case "RelayConfigNotFound":
      return Effect.succeed(failure(404, error.message))
    case "RelayConfigConflict":
    case "DeviceConfigDisabled":
      return Effect.succeed(failure(409, error.message))
    case "MqttLinkUnavailable":
      return Effect.succeed(failure(503, error.message))
    case "MqttPublishError":
      return Effect.succeed(failure(error.cause === undefined ? 504 : 502, error.message))
    case "HookPayloadInvalid":
      return Effect.succeed(failure(400, error.message))
    case "RelayConfigStoreError":
      return Effect.as(Effect.logError("status relay: database failure", error), failure(500, error.message))
  }
}

const answered = <A, R>(effect: Effect.Effect<A, RelayError, R>) => Effect.catch(effect, toResponse)

const ok = { code: 0, message: "ok" } as const
const okWith = <A>(message: string, data: A) => ({ code: 0 as const, message, data })

const created = "创建成功"
const updated = "更新成功"
const deleted = "删除成功"
const pushed = "配置已推送"

/**
 * The body of a hook request: JSON, or empty (Codex passes the event on the command line). A body over the
 * server's limit dies with the platform's error, which the server answers with the family's 413.
 */
const hookBody = (request: HttpServerRequest.HttpServerRequest, agent: AgentHooks.Agent) =>
  request.text.pipe(
    Effect.orDie,
    Effect.flatMap((text) =>
      text.trim() === ""
        ? Effect.succeed<unknown>({})
        : Schema.decodeUnknownEffect(Schema.fromJsonString(Schema.Unknown))(text).pipe(
          Effect.mapError(() => new AgentHooks.HookPayloadInvalid({ agent, message: "malformed JSON body" }))
        )
    )
  )

/** A Node response when the request came through a Node server; a fetch-style host has none. */
const nodeResponse = (request: HttpServerRequest.HttpServerRequest): Http.ServerResponse | undefined => {
  const response: unknown = NodeHttpServerRequest.toServerResponse(request)
  return response instanceof Http.ServerResponse ? response : undefined
}

/** For hosts without Node responses: the same frames through a bounded queue that drops its oldest. */
const webSink = Effect.gen(function*() {
  const queue = yield* Queue.sliding<string, Cause.Done>(256)
  let headers: Record<string, string> = {}
  const sink = {
    writeHead: (_status: number, written: Record<string, string>) => (headers = written),
    write: (chunk: string) => Queue.offerUnsafe(queue, chunk),
    writableLength: 0,
    once: () => undefined,
    end: () => Queue.endUnsafe(queue),
    destroy: () => Queue.shutdownUnsafe(queue)
  }
  return { sink, queue, headers: () => headers }
})

const eventsHandler = (events: StatusEvents["Service"], request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const url = new URL(request.url, "http://relay")
    const options = {
      lastEventId: request.headers["last-event-id"] ?? url.searchParams.get("lastEventId") ?? undefined,
      crossOrigin: request.headers["origin"] !== undefined
    }
    const response = nodeResponse(request)
    if (response !== undefined) {
      // Ending the response as it closes makes the platform see a finished response instead of an aborted
      // request, so a client leaving ends the handler normally rather than interrupting it.
      response.prependListener("close", () => {
        if (!response.writableEnded) response.end()
      })
      const closed = yield* Deferred.make<void>()
      const attached = yield* events.attach(response, { ...options, onClose: () => Deferred.doneUnsafe(closed, Exit.void) })
      if (!attached) return failure(503, "too many event stream clients")
      yield* Deferred.await(closed)
      return HttpServerResponse.empty()
    }
    const web = yield* webSink
    const attached = yield* events.attach(web.sink, options)
    if (!attached) return failure(503, "too many event stream clients")
    return HttpServerResponse.stream(Stream.fromQueue(web.queue).pipe(Stream.encodeText), {
      contentType: "text/event-stream",
      headers: web.headers()
    })
  })

/** The answer to every accepted event, encoded once: the hot route skips encoding `Ok` per request. */
const accepted = HttpServerResponse.jsonUnsafe(ok)
const acceptedJson = JSON.stringify(ok)

/**
 * `POST /api/event` and `GET /api/health` as fast routes: hooks post an event on every step of an AI tool and
 * monitors poll the health, so Node servers answer their happy paths without the application's per-request
 * work. The body is decoded by the endpoint's payload schema (`EventInput`); one it refuses goes to the
 * endpoint, which answers the error.
 */
const fastRoutes = Effect.gen(function*() {
  const bus = yield* StatusBus.StatusBus
  const run = Effect.runSyncWith(yield* Effect.context<never>())
  const decode = Schema.decodeUnknownExit(StatusEvent.EventInput)
  const route: ApiFamily.FastRoute = {
    method: "POST",
    path: "/api/event",
    answer: (body) => {
      const event = decode(body)
      if (Exit.isFailure(event)) return undefined
      run(bus.publish(event.value))
      return { status: 200, json: acceptedJson }
    }
  }
  // Monitors poll the health route; its answer never changes.
  const health: ApiFamily.FastRoute = { method: "GET", path: "/api/health", answer: () => ({ status: 200, json: acceptedJson }) }
  return [route, health]
})

export const EventsHandlers = ApiFamily.group(
  StatusRelayApi,
  "statusRelayEvents",
  Effect.fn(function*(handlers) {
    const bus = yield* StatusBus.StatusBus
    const mqtt = yield* MqttLink.MqttLink
    const ble = yield* BleLink.BleLink
    const events = yield* StatusEvents
    const opencode = AgentHooks.makeOpencodeMapper()
    return handlers
      .handle("postEvent", ({ payload }) => Effect.as(bus.publish(payload), accepted))
      .handle("health", () => Effect.succeed(ok))
      .handle("status", () =>
        answered(Effect.gen(function*() {
          const snapshot = yield* bus.current
          return okWith("ok", {
            ...snapshot,
            mqtt: yield* mqtt.states,
            ble: yield* ble.status,
            devices: yield* mqtt.devices,
            sse_clients: yield* events.clients
          })
        })))
      .handleRaw("events", ({ request }) => eventsHandler(events, request))
      .handleRaw("hook", ({ params, query, request }) =>
        answered(Effect.gen(function*() {
          const body = yield* hookBody(request, params.agent)
          const mapped = params.agent === "opencode"
            ? yield* opencode.map(body)
            : yield* AgentHooks.fromCommandHook(params.agent, body, query.event)
          if (Option.isNone(mapped)) return okWith("ignored", { accepted: false, code: null, session_id: null })
          yield* bus.publish(mapped.value)
          return okWith("ok", {
            accepted: true,
            code: mapped.value.code,
            session_id: mapped.value.session_id ?? null
          })
        })))
  })
)

export const MqttHandlers = ApiFamily.group(
  StatusRelayApi,
  "statusRelayMqtt",
  Effect.fn(function*(handlers) {
    const { mqtt } = yield* RelayConfigStore.RelayConfigStore
    return handlers
      .handle("list", () => answered(Effect.map(mqtt.list, (all) => okWith("ok", all.map(RelayConfig.maskMqtt)))))
      .handle("create", ({ payload }) =>
        answered(Effect.map(mqtt.create(payload), (config) => okWith(created, RelayConfig.maskMqtt(config)))))
      .handle("get", ({ params }) =>
        answered(Effect.map(mqtt.get(params.id), (config) => okWith("ok", RelayConfig.maskMqtt(config)))))
      .handle("update", ({ params, payload }) =>
        answered(Effect.map(mqtt.update(params.id, payload), (config) => okWith(updated, RelayConfig.maskMqtt(config)))))
      .handle("remove", ({ params }) => answered(Effect.as(mqtt.remove(params.id), { code: 0 as const, message: deleted })))
  })
)

export const BleHandlers = ApiFamily.group(
  StatusRelayApi,
  "statusRelayBle",
  Effect.fn(function*(handlers) {
    const { ble } = yield* RelayConfigStore.RelayConfigStore
    return handlers
      .handle("list", () => answered(Effect.map(ble.list, (all) => okWith("ok", all))))
      .handle("create", ({ payload }) => answered(Effect.map(ble.create(payload), (config) => okWith(created, config))))
      .handle("get", ({ params }) => answered(Effect.map(ble.get(params.id), (config) => okWith("ok", config))))
      .handle("update", ({ params, payload }) =>
        answered(Effect.map(ble.update(params.id, payload), (config) => okWith(updated, config))))
      .handle("remove", ({ params }) => answered(Effect.as(ble.remove(params.id), { code: 0 as const, message: deleted })))
  })
)

export const DeviceHandlers = ApiFamily.group(
  StatusRelayApi,
  "statusRelayDevice",
  Effect.fn(function*(handlers) {
    const { device } = yield* RelayConfigStore.RelayConfigStore
    const mqtt = yield* MqttLink.MqttLink
    return handlers
      .handle("list", () => answered(Effect.map(device.list, (all) => okWith("ok", all.map(RelayConfig.maskDevice)))))
      .handle("create", ({ payload }) =>
        answered(Effect.map(device.create(payload), (config) => okWith(created, RelayConfig.maskDevice(config)))))
      .handle("push", ({ payload }) =>
        answered(Effect.map(
          mqtt.pushDeviceConfig(payload.id, { reset: payload.reset ?? false, via: payload.mqtt_id }),
          (result) => okWith(pushed, result)
        )))
      .handle("get", ({ params }) =>
        answered(Effect.map(device.get(params.id), (config) => okWith("ok", RelayConfig.maskDevice(config)))))
      .handle("update", ({ params, payload }) =>
        answered(Effect.map(device.update(params.id, payload), (config) => okWith(updated, RelayConfig.maskDevice(config)))))
      .handle("remove", ({ params }) =>
        answered(Effect.as(device.remove(params.id), { code: 0 as const, message: deleted })))
  })
)

const prefixes = ["/api/event", "/api/health", "/api/status", "/api/mqtt", "/api/ble", "/api/device", "/api/hook"]

export type Requirements =
  | StatusBus.StatusBus
  | RelayConfigStore.RelayConfigStore
  | MqttLink.MqttLink
  | BleLink.BleLink

export interface Options {
  readonly events?: Parameters<typeof StatusEvents.layer>[0]
}

/** The family with its own SSE hub. Needs the bus, the config store and both links. */
export const makeFamily = (options: Options = {}): ApiFamily.ApiFamily<Requirements> =>
  ApiFamily.make({
    name: "status relay",
    api: StatusRelayApi,
    routes: HttpApiBuilder.layer(StatusRelayApi).pipe(
      Layer.provide([EventsHandlers, MqttHandlers, BleHandlers, DeviceHandlers]),
      Layer.provide(StatusEvents.layer(options.events))
    ),
    owns: (path) => prefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`) || path === `${prefix}s`),
    errors,
    fastRoutes,
    // Light dashboards on other origins read the status and its stream (seed 004 serves CORS).
    openReads: true
  })

export const family: ApiFamily.ApiFamily<Requirements> = makeFamily()
