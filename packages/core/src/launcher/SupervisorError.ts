/**
 * Typed failures of the process engine. Each carries the component (or path) it is about and a `message`
 * that reads well in a log line or an HTTP error body, so adapters can pass it on unchanged.
 */
import { Schema } from "effect"

/** The command could not be launched at all: bad working directory, executable missing or not executable. */
export class ComponentSpawnError extends Schema.TaggedError<ComponentSpawnError>()("ComponentSpawnError", {
  component: Schema.String,
  message: Schema.String
}) {}

/** Input was sent to a component that has no live process. */
export class ComponentNotRunning extends Schema.TaggedError<ComponentNotRunning>()("ComponentNotRunning", {
  component: Schema.String,
  state: Schema.String,
  message: Schema.String
}) {}

/**
 * A subscriber's bounded queue filled up, so it was dropped to protect the process and the other subscribers.
 * Its stream ends with this error after the events already queued; an adapter can tell the client and, if it
 * wants, subscribe again and replay the gap from history.
 */
export class SubscriberOverflow extends Schema.TaggedError<SubscriberOverflow>()("SubscriberOverflow", {
  component: Schema.String,
  capacity: Schema.Int,
  message: Schema.String
}) {}

/** The history file could not be written or read. */
export class HistoryError extends Schema.TaggedError<HistoryError>()("HistoryError", {
  path: Schema.String,
  message: Schema.String
}) {}

/** The process table could not be read (e.g. `ps` is missing). */
export class ProcessTreeError extends Schema.TaggedError<ProcessTreeError>()("ProcessTreeError", {
  message: Schema.String
}) {}

/** A command line that cannot be turned into an argv (empty, unbalanced quotes). */
export class CommandLineError extends Schema.TaggedError<CommandLineError>()("CommandLineError", {
  command: Schema.String,
  message: Schema.String
}) {}

/** A group whose dependencies name an unknown component or form a cycle, or whose dependency never got ready. */
export class DependencyError extends Schema.TaggedError<DependencyError>()("DependencyError", {
  component: Schema.String,
  message: Schema.String
}) {}
