import { Schema } from "effect"

/** A reading of the host or process statistics failed; `source` names the reading (e.g. `memory`, `disk`). */
export class SystemMetricsError extends Schema.TaggedError<SystemMetricsError>()("SystemMetricsError", {
  source: Schema.String,
  message: Schema.String,
  cause: Schema.Defect()
}) {}
