import { Schema } from "effect"
import { Kind } from "./RelayConfig.ts"

/** No stored config of that kind has that id. */
export class RelayConfigNotFound extends Schema.TaggedError<RelayConfigNotFound>()("RelayConfigNotFound", {
  kind: Kind,
  id: Schema.Number,
  message: Schema.String
}) {}

/** The change would break a rule the relay keeps across configs, e.g. two connections with one client id. */
export class RelayConfigConflict extends Schema.TaggedError<RelayConfigConflict>()("RelayConfigConflict", {
  kind: Kind,
  message: Schema.String
}) {}

/** A config given as loose values (the CLI's `key=value`) does not decode. */
export class RelayConfigInvalid extends Schema.TaggedError<RelayConfigInvalid>()("RelayConfigInvalid", {
  kind: Kind,
  message: Schema.String
}) {}

/** The database failed; the change, if any, was rolled back. */
export class RelayConfigStoreError extends Schema.TaggedError<RelayConfigStoreError>()("RelayConfigStoreError", {
  message: Schema.String,
  cause: Schema.Defect()
}) {}
