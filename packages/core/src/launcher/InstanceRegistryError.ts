import { Schema } from "effect"

export class InstanceNotFound extends Schema.TaggedError<InstanceNotFound>()("InstanceNotFound", {
  id: Schema.String
}) {}

/** The registry's storage failed; `operation` names what was being done. */
export class InstanceRegistryError extends Schema.TaggedError<InstanceRegistryError>()("InstanceRegistryError", {
  operation: Schema.String,
  message: Schema.String,
  cause: Schema.Defect()
}) {}
