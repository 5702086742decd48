import { Schema } from "effect"

/** The MaiBot bot-config template is not configured, missing or not valid TOML. */
export class BotDefaultsUnavailable extends Schema.TaggedError<BotDefaultsUnavailable>()("BotDefaultsUnavailable", {
  path: Schema.NullOr(Schema.String),
  message: Schema.String
}) {}
