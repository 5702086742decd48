import { Schema } from "effect"

/** `--addr` is not `[host]:port`. */
export class AddressInvalid extends Schema.TaggedError<AddressInvalid>()("AddressInvalid", {
  address: Schema.String,
  message: Schema.String
}) {}

/** The TLS certificate or key cannot be read, generated or written. */
export class TlsSetupError extends Schema.TaggedError<TlsSetupError>()("TlsSetupError", {
  path: Schema.String,
  message: Schema.String,
  cause: Schema.Defect()
}) {}

/** The embedded MQTT broker cannot listen on its address. */
export class EmbeddedBrokerError extends Schema.TaggedError<EmbeddedBrokerError>()("EmbeddedBrokerError", {
  address: Schema.String,
  message: Schema.String,
  cause: Schema.Defect()
}) {}

/** A tool's settings file cannot be read, parsed or written; nothing was changed. */
export class HookInstallError extends Schema.TaggedError<HookInstallError>()("HookInstallError", {
  path: Schema.String,
  message: Schema.String,
  cause: Schema.Defect()
}) {}
