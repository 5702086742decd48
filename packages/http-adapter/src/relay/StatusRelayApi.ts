/**
 * The status-relay family's contract: seed 004's routes and `{code: 0, message, data}` envelopes, errors as
 * `{code: -1, message}`, plus `GET /api/status`, the `GET /api/events` SSE stream and `POST /api/hook/:agent`.
 * Kept apart from the handlers so a host can derive a typed client or OpenAPI document without the server.
 *
 * HTTP statuses: 200 on success (create included, as the seed's relay answered); 400 malformed JSON, wrong
 * types, unknown codes, ids that are not canonical decimals (`02`, `2e0`, `+2`, `2;x`); 401 missing access token; 404 unknown route or id; 405 wrong method;
 * 409 a conflicting or disabled config; 413 body over the limit; 415 a body that is not JSON; 500 a database failure; 502/504 a broker
 * refused or did not acknowledge a device push; 503 no connected MQTT link for a push, or too many SSE clients.
 */
import { Schema, SchemaTransformation } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { AgentHooks, BleLink, MqttLink, RelayConfig, StatusEvent } from "@maikit/core/relay"
import { acceptUnknownFields } from "../internal/unknownFields.ts"

/** Every error body. */
export const ErrorBody = Schema.Struct({
  code: Schema.Literal(-1),
  message: Schema.String
}).annotate({ identifier: "StatusRelayError" })

const errors = (...statuses: ReadonlyArray<number>) =>
  statuses.map((status) => ErrorBody.pipe(HttpApiSchema.status(status)))

export const Ok = Schema.Struct({ code: Schema.Literal(0), message: Schema.String })

const okWith = <S extends Schema.Top>(data: S) => Schema.Struct({ code: Schema.Literal(0), message: Schema.String, data })

export const MqttConfigResponse = okWith(RelayConfig.MqttConfig)
export const MqttConfigsResponse = okWith(Schema.Array(RelayConfig.MqttConfig))
export const BleConfigResponse = okWith(RelayConfig.BleConfig)
export const BleConfigsResponse = okWith(Schema.Array(RelayConfig.BleConfig))
export const DeviceConfigResponse = okWith(RelayConfig.DeviceConfig)
export const DeviceConfigsResponse = okWith(Schema.Array(RelayConfig.DeviceConfig))

/** `GET /api/status`: the aggregate, every live session, each link's connection and what devices last reported. */
export const StatusResponse = okWith(Schema.Struct({
  ...StatusEvent.Snapshot.fields,
  mqtt: Schema.Array(MqttLink.LinkState),
  ble: BleLink.BleStatus,
  devices: Schema.Array(MqttLink.DeviceState),
  /** Clients connected to `GET /api/events`. */
  sse_clients: Schema.Number
}))

export const PushRequest = Schema.Struct({
  id: RelayConfig.Id,
  reset: Schema.optional(Schema.Boolean),
  /** Beyond the seed: push through this MQTT config's connection only. */
  mqtt_id: Schema.optional(Schema.Int)
}).annotate({ identifier: "DeviceConfigPush" })

export const PushResponse = okWith(Schema.Struct({
  topic: Schema.String,
  brokers: Schema.Array(Schema.Struct({ id: Schema.Number, broker: Schema.String }))
}))

export const HookResponse = okWith(Schema.Struct({
  accepted: Schema.Boolean,
  code: Schema.NullOr(StatusEvent.StatusCode),
  session_id: Schema.NullOr(Schema.String)
}))

/**
 * A config id in a path: canonical decimal only (`0` or no leading zero, no sign, fraction or exponent, at most
 * 16 digits), so that `02`, `2e0`, `+2` and `2.0` are refused instead of addressing config 2.
 */
export const IdParam = Schema.String.check(
  Schema.isPattern(/^(?:0|[1-9][0-9]{0,15})$/, {
    message: "expected an id in decimal digits, without sign, leading zeros, fraction or exponent"
  })
).pipe(
  Schema.decodeTo(
    Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    SchemaTransformation.numberFromString
  )
)

const byId = { id: IdParam }

export class StatusRelayEventsGroup extends HttpApiGroup.make("statusRelayEvents")
  .add(
    HttpApiEndpoint.post("postEvent", "/api/event", {
      payload: StatusEvent.EventInput,
      success: Ok,
      error: errors(400)
    }),
    HttpApiEndpoint.get("health", "/api/health", { success: Ok }),
    HttpApiEndpoint.get("status", "/api/status", { success: StatusResponse, error: errors(500) }),
    HttpApiEndpoint.get("events", "/api/events", {
      success: Schema.String.pipe(HttpApiSchema.asText({ contentType: "text/event-stream" })),
      error: errors(503)
    }).annotate(OpenApi.Description, "Server-Sent Events: `connected`, then `status` per update (ids for Last-Event-ID replay)"),
    HttpApiEndpoint.post("hook", "/api/hook/:agent", {
      params: { agent: AgentHooks.Agent },
      query: { event: Schema.optional(Schema.String) },
      success: HookResponse,
      error: errors(400)
    }).annotate(OpenApi.Description, "A Claude Code, Codex or opencode hook payload, mapped to a status event")
  )
  .annotateMerge(OpenApi.annotations({ title: "Status relay: events", description: "Ingest, health and live status" }))
{}

export class StatusRelayMqttGroup extends HttpApiGroup.make("statusRelayMqtt")
  .add(
    HttpApiEndpoint.get("list", "/api/mqtt", { success: MqttConfigsResponse, error: errors(500) }),
    HttpApiEndpoint.post("create", "/api/mqtt", {
      payload: RelayConfig.MqttConfigCreate,
      success: MqttConfigResponse,
      error: errors(400, 409, 500)
    }),
    HttpApiEndpoint.get("get", "/api/mqtt/:id", { params: byId, success: MqttConfigResponse, error: errors(404, 500) }),
    HttpApiEndpoint.put("update", "/api/mqtt/:id", {
      params: byId,
      payload: RelayConfig.MqttConfigUpdate,
      success: MqttConfigResponse,
      error: errors(400, 404, 409, 500)
    }),
    HttpApiEndpoint.delete("remove", "/api/mqtt/:id", { params: byId, success: Ok, error: errors(404, 500) })
  )
  .annotateMerge(OpenApi.annotations({ title: "Status relay: MQTT configs" }))
{}

export class StatusRelayBleGroup extends HttpApiGroup.make("statusRelayBle")
  .add(
    HttpApiEndpoint.get("list", "/api/ble", { success: BleConfigsResponse, error: errors(500) }),
    HttpApiEndpoint.post("create", "/api/ble", {
      payload: RelayConfig.BleConfigCreate,
      success: BleConfigResponse,
      error: errors(400, 500)
    }),
    HttpApiEndpoint.get("get", "/api/ble/:id", { params: byId, success: BleConfigResponse, error: errors(404, 500) }),
    HttpApiEndpoint.put("update", "/api/ble/:id", {
      params: byId,
      payload: RelayConfig.BleConfigUpdate,
      success: BleConfigResponse,
      error: errors(400, 404, 500)
    }),
    HttpApiEndpoint.delete("remove", "/api/ble/:id", { params: byId, success: Ok, error: errors(404, 500) })
  )
  .annotateMerge(OpenApi.annotations({ title: "Status relay: BLE configs" }))
{}

export class StatusRelayDeviceGroup extends HttpApiGroup.make("statusRelayDevice")
  .add(
    HttpApiEndpoint.get("list", "/api/device/config", { success: DeviceConfigsResponse, error: errors(500) }),
    HttpApiEndpoint.post("create", "/api/device/config", {
      payload: RelayConfig.DeviceConfigCreate,
      success: DeviceConfigResponse,
      error: errors(400, 500)
    }),
    HttpApiEndpoint.post("push", "/api/device/config/push", {
      payload: PushRequest,
      success: PushResponse,
      error: errors(400, 404, 409, 502, 503, 504)
    }),
    HttpApiEndpoint.get("get", "/api/device/config/:id", {
      params: byId,
      success: DeviceConfigResponse,
      error: errors(404, 500)
    }),
    HttpApiEndpoint.put("update", "/api/device/config/:id", {
      params: byId,
      payload: RelayConfig.DeviceConfigUpdate,
      success: DeviceConfigResponse,
      error: errors(400, 404, 500)
    }),
    HttpApiEndpoint.delete("remove", "/api/device/config/:id", { params: byId, success: Ok, error: errors(404, 500) })
  )
  .annotateMerge(OpenApi.annotations({ title: "Status relay: device configs", description: "Pushed to ESP32 lights over MQTT" }))
{}

export class StatusRelayApi extends HttpApi.make("statusRelay")
  .add(StatusRelayEventsGroup)
  .add(StatusRelayMqttGroup)
  .add(StatusRelayBleGroup)
  .add(StatusRelayDeviceGroup)
  .annotateMerge(OpenApi.annotations({
    title: "MaiKit status relay API",
    description: "The AI status light relay (seed 004): events in; MQTT, BLE and SSE out; configs",
    transform: acceptUnknownFields
  }))
{}
