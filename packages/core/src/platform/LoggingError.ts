import { Schema } from "effect"

/**
 * The log file cannot be set up or written: bad options, an unusable directory, or a failed write, rename or
 * delete. `path` names the file or directory involved so the message says where to look.
 */
export class LoggingError extends Schema.TaggedError<LoggingError>()("LoggingError", {
  path: Schema.String,
  message: Schema.String,
  cause: Schema.Defect()
}) {}
