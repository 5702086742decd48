import { Schema } from "effect"

/** This host cannot do BLE: no adapter, no permission, or the optional driver is not installed. */
export class BleUnsupported extends Schema.TaggedError<BleUnsupported>()("BleUnsupported", {
  message: Schema.String
}) {}

/** A scan, connection or write failed; the link retries. */
export class BleError extends Schema.TaggedError<BleError>()("BleError", {
  operation: Schema.Literals(["scan", "connect", "discover", "write"]),
  message: Schema.String,
  cause: Schema.Defect()
}) {}
