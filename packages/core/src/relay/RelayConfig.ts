/**
 * The status relay's three kinds of stored configuration, with seed 004's fields and defaults: MQTT
 * connections the relay publishes through, BLE lights it writes to, and ESP32 device settings it pushes
 * over MQTT. Each kind has its stored shape, a create input (defaults filled in), an update input (every
 * field optional: absent fields keep their value) and a read view where secrets are masked.
 *
 * Secrets (`password`, `wifi_pass`, `mqtt_pass`) are write-only: a read returns `"********"` when one is
 * stored (and `""` when none is), and writing `"********"` back keeps the stored value.
 */
import { Schema, Struct } from "effect"
import { Text } from "./StatusEvent.ts"

export const kinds = ["mqtt", "ble", "device"] as const
export const Kind = Schema.Literals(kinds)
export type Kind = typeof Kind.Type

export const kindLabels: Readonly<Record<Kind, string>> = {
  mqtt: "MQTT config",
  ble: "BLE config",
  device: "device config"
}

export const secretMask = "********"

export const Id = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }))

const brokerSchemes = new Set(["mqtt:", "mqtts:", "tcp:", "ssl:", "tls:", "ws:", "wss:"])

const isBrokerUrl = (value: string): boolean => {
  if (!/^[a-z]+:\/\/[^\s@]+$/i.test(value)) return false
  try {
    const url = new URL(value)
    return brokerSchemes.has(url.protocol.toLowerCase()) && url.hostname !== ""
  } catch {
    return false
  }
}

/** `tcp://host:1883` as the seed writes it; also `mqtt://`, `mqtts://`, `ssl://`, `tls://`, `ws://`, `wss://`. */
export const Broker = Schema.String.check(
  Schema.isMaxLength(512),
  Schema.makeFilter((value: string) =>
    isBrokerUrl(value) || "expected a broker URL such as tcp://127.0.0.1:1883 (mqtt, mqtts, tcp, ssl, tls, ws or wss)"
  )
).annotate({ description: "Broker URL, e.g. tcp://127.0.0.1:1883" })

const noWildcards = Schema.isPattern(/^[^#+]*$/, { message: "a topic to publish on cannot contain + or #" })

/** A topic the relay publishes on or a device subscribes to: no wildcards, no control characters. */
export const Topic = Text(256, 1).check(noWildcards)
const OptionalTopic = Text(256).check(noWildcards)

/** Passwords may hold any character but NUL. */
export const Secret = Schema.String.check(
  Schema.isMaxLength(256),
  Schema.makeFilter((value: string) => !value.includes("\0") || "NUL characters are not allowed")
)

// 16-bit, 32-bit or 128-bit UUIDs, with or without dashes, as BLE stacks print them.
const uuidPattern = /^(?:[0-9a-f]{4}|[0-9a-f]{8}|[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})$/i
export const BleUuid = Schema.String.check(
  Schema.isPattern(uuidPattern, { message: "expected a BLE UUID: 4, 8 or 32 hex digits (dashes allowed)" })
).annotate({ description: "e.g. b8b7e001-7a6b-4f4f-9a8b-11c0ffee0001 or ffe0" })

/** Hostname or IP address the device connects to (no scheme). */
export const Host = Schema.String.check(
  Schema.isMaxLength(253),
  Schema.isPattern(/^[A-Za-z0-9._:[\]-]*$/, { message: "expected a host name or IP address, e.g. 192.168.1.100" })
)

const Port = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))
const Pin = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 48 }))

/** 802.11 limits an SSID to 32 bytes. */
const Ssid = Text(32).check(
  Schema.makeFilter((value: string) => Buffer.byteLength(value) <= 32 || "an SSID is at most 32 bytes")
)

/** WPA2: empty (open network), a passphrase of 8–63 characters or 64 hex digits. */
const WifiPass = Secret.check(
  Schema.makeFilter((value: string) =>
    value === "" || (value.length >= 8 && value.length <= 64) ||
    "a Wi-Fi password is empty or 8 to 64 characters"
  )
)

// ---------------------------------------------------------------------------------------------------------
// MQTT

export const mqttDefaults = { client_id: "opencode-monitor", topic: "opencode/status", enabled: true } as const

const mqttFields = {
  broker: Broker,
  client_id: Text(128, 1),
  username: Text(256),
  password: Secret,
  topic: Topic,
  enabled: Schema.Boolean
}

export const MqttConfig = Schema.Struct({ id: Id, ...mqttFields }).annotate({ identifier: "MqttConfig" })
export type MqttConfig = typeof MqttConfig.Type

export const MqttConfigCreate = Schema.Struct({
  ...Struct.map(mqttFields, Schema.optional),
  broker: Broker
}).annotate({ identifier: "MqttConfigCreate" })
export type MqttConfigCreate = typeof MqttConfigCreate.Type

export const MqttConfigUpdate = Schema.Struct(Struct.map(mqttFields, Schema.optional)).annotate({
  identifier: "MqttConfigUpdate"
})
export type MqttConfigUpdate = typeof MqttConfigUpdate.Type

// ---------------------------------------------------------------------------------------------------------
// BLE

export const bleDefaults = { enabled: true } as const

const bleFields = {
  device_name: Text(64, 1),
  service_uuid: BleUuid,
  char_uuid: BleUuid,
  enabled: Schema.Boolean
}

export const BleConfig = Schema.Struct({ id: Id, ...bleFields }).annotate({ identifier: "BleConfig" })
export type BleConfig = typeof BleConfig.Type

export const BleConfigCreate = Schema.Struct({
  ...bleFields,
  enabled: Schema.optional(Schema.Boolean)
}).annotate({ identifier: "BleConfigCreate" })
export type BleConfigCreate = typeof BleConfigCreate.Type

export const BleConfigUpdate = Schema.Struct(Struct.map(bleFields, Schema.optional)).annotate({
  identifier: "BleConfigUpdate"
})
export type BleConfigUpdate = typeof BleConfigUpdate.Type

// ---------------------------------------------------------------------------------------------------------
// Device

export const deviceDefaults = {
  config_topic: "agent/status/config",
  wifi_ssid: "",
  wifi_pass: "",
  mqtt_broker: "",
  mqtt_port: 1883,
  mqtt_user: "",
  mqtt_pass: "",
  mqtt_client: "",
  mqtt_topic: "",
  mqtt_status: "",
  pin_red: 4,
  pin_green: 3,
  pin_yellow: 2,
  enabled: true
} as const

const deviceFields = {
  device_name: Text(64, 1),
  config_topic: Topic,
  wifi_ssid: Ssid,
  wifi_pass: WifiPass,
  mqtt_broker: Host,
  mqtt_port: Port,
  mqtt_user: Text(128),
  mqtt_pass: Secret,
  mqtt_client: Text(128),
  mqtt_topic: OptionalTopic,
  mqtt_status: OptionalTopic,
  pin_red: Pin,
  pin_green: Pin,
  pin_yellow: Pin,
  enabled: Schema.Boolean
}

export const DeviceConfig = Schema.Struct({ id: Id, ...deviceFields }).annotate({ identifier: "DeviceConfig" })
export type DeviceConfig = typeof DeviceConfig.Type

export const DeviceConfigCreate = Schema.Struct({
  ...Struct.map(deviceFields, Schema.optional),
  device_name: Text(64, 1)
}).annotate({ identifier: "DeviceConfigCreate" })
export type DeviceConfigCreate = typeof DeviceConfigCreate.Type

export const DeviceConfigUpdate = Schema.Struct(Struct.map(deviceFields, Schema.optional)).annotate({
  identifier: "DeviceConfigUpdate"
})
export type DeviceConfigUpdate = typeof DeviceConfigUpdate.Type

// ---------------------------------------------------------------------------------------------------------
// Secrets

export const secretFields: Readonly<Record<Kind, ReadonlyArray<string>>> = {
  mqtt: ["password"],
  ble: [],
  device: ["wifi_pass", "mqtt_pass"]
}

const maskValue = (value: string) => (value === "" ? "" : secretMask)

/** The read view: every stored secret replaced by `"********"`. */
export const maskMqtt = (config: MqttConfig): MqttConfig => ({ ...config, password: maskValue(config.password) })

export const maskDevice = (config: DeviceConfig): DeviceConfig => ({
  ...config,
  wifi_pass: maskValue(config.wifi_pass),
  mqtt_pass: maskValue(config.mqtt_pass)
})

/**
 * What `POST /api/device/config/push` sends to the device's `config_topic`: every non-empty field (secrets
 * in clear, the device needs them) and `reset`. `id`, `enabled` and `config_topic` stay on the relay.
 */
export const devicePayload = (config: DeviceConfig, reset: boolean): Record<string, string | number | boolean> => {
  const payload: Record<string, string | number | boolean> = {}
  for (const [key, value] of Object.entries(config)) {
    if (key === "id" || key === "enabled" || key === "config_topic") continue
    if (typeof value === "string" && value === "") continue
    if (typeof value === "string" || typeof value === "number") payload[key] = value
  }
  payload["reset"] = reset
  return payload
}
