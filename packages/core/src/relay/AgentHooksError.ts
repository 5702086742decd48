import { Schema } from "effect"

/** A hook payload that is not JSON or not the shape its agent sends. */
export class HookPayloadInvalid extends Schema.TaggedError<HookPayloadInvalid>()("HookPayloadInvalid", {
  agent: Schema.String,
  message: Schema.String
}) {}
