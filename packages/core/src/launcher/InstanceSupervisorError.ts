/**
 * Typed failures of `InstanceSupervisor`. Messages are the original launcher's (Chinese) where it had one, so
 * an adapter can hand them to its clients unchanged.
 */
import { Schema } from "effect"

/**
 * A request to register an instance that cannot be honoured: a path that does not exist or is not a
 * directory, a missing `bot.py`, an invalid name, port or command. `field` names the offending input.
 */
export class InstanceRequestInvalid extends Schema.TaggedError<InstanceRequestInvalid>()("InstanceRequestInvalid", {
  field: Schema.String,
  message: Schema.String
}) {}

/** The instance exists but has no component of that name (nor an alias of it). */
export class ComponentNotFound extends Schema.TaggedError<ComponentNotFound>()("ComponentNotFound", {
  instanceId: Schema.String,
  component: Schema.String,
  message: Schema.String
}) {}

/** Starting failed: a component could not be spawned, or did not reach `running`. */
export class InstanceStartFailed extends Schema.TaggedError<InstanceStartFailed>()("InstanceStartFailed", {
  instanceId: Schema.String,
  name: Schema.String,
  message: Schema.String
}) {}

/** The instance's processes could not be set up: an unreadable stored command or an unwritable history folder. */
export class InstanceRuntimeError extends Schema.TaggedError<InstanceRuntimeError>()("InstanceRuntimeError", {
  instanceId: Schema.String,
  message: Schema.String
}) {}
