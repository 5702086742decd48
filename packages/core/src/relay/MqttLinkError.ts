import { Schema } from "effect"

/** No connected MQTT link can carry the message (none enabled, none connected, or the chosen one is down). */
export class MqttLinkUnavailable extends Schema.TaggedError<MqttLinkUnavailable>()("MqttLinkUnavailable", {
  message: Schema.String
}) {}

/** The broker did not acknowledge a QoS 1 publish in time, or refused it. */
export class MqttPublishError extends Schema.TaggedError<MqttPublishError>()("MqttPublishError", {
  broker: Schema.String,
  topic: Schema.String,
  message: Schema.String,
  cause: Schema.Defect()
}) {}

/** A disabled device config is never pushed. */
export class DeviceConfigDisabled extends Schema.TaggedError<DeviceConfigDisabled>()("DeviceConfigDisabled", {
  id: Schema.Number,
  message: Schema.String
}) {}
