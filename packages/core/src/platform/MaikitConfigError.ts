import { Schema } from "effect"

/**
 * A configuration value that cannot be used. `key` is the name the user wrote (TOML key, environment
 * variable or flag), and `message` starts with it, so the line printed at start-up says what to fix.
 */
export class MaikitConfigError extends Schema.TaggedError<MaikitConfigError>()("MaikitConfigError", {
  key: Schema.String,
  source: Schema.String,
  message: Schema.String
}) {
  static readonly of = (key: string, source: string, detail: string): MaikitConfigError =>
    new MaikitConfigError({ key, source, message: `invalid configuration: ${key} (${source}): ${detail}` })
}
