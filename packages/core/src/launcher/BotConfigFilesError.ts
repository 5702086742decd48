/**
 * Typed failures of `BotConfigFiles`. They carry structured fields (which instance, which file, which key) and
 * no wire text; each adapter words them in its own family's shape.
 */
import { Schema } from "effect"

const fileFields = {
  instanceId: Schema.String,
  /** `bot`, `model`, `lpmm`, `env` or `adapter`. */
  file: Schema.String,
  path: Schema.String
}

/** The file does not exist (and, for the adapter's, neither does the template it would be created from). */
export class ConfigFileNotFound extends Schema.TaggedError<ConfigFileNotFound>()("ConfigFileNotFound", {
  ...fileFields,
  template: Schema.NullOr(Schema.String)
}) {}

/** The file on disk does not parse; nothing is written over it. Line and column are 1-based. */
export class ConfigFileInvalid extends Schema.TaggedError<ConfigFileInvalid>()("ConfigFileInvalid", {
  ...fileFields,
  line: Schema.Int,
  column: Schema.Int,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.path}: line ${this.line}, column ${this.column}: ${this.reason}`
  }
}

/**
 * A submitted value cannot be written: `null`, a type that differs from the template's (or, without a
 * template, from the file's own), a value a `.env` line cannot hold. `key` is the dotted key path.
 */
export class ConfigValueInvalid extends Schema.TaggedError<ConfigValueInvalid>()("ConfigValueInvalid", {
  ...fileFields,
  key: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.key}: ${this.reason}`
  }
}

/** The write named a version the file no longer has: someone else saved it since it was read. */
export class ConfigVersionConflict extends Schema.TaggedError<ConfigVersionConflict>()("ConfigVersionConflict", {
  ...fileFields,
  expected: Schema.String,
  current: Schema.NullOr(Schema.String)
}) {
  override get message(): string {
    return `${this.path} is at version ${this.current ?? "(missing)"}, not ${this.expected}`
  }
}

/** No earlier version of the file by that id. */
export class ConfigVersionNotFound extends Schema.TaggedError<ConfigVersionNotFound>()("ConfigVersionNotFound", {
  ...fileFields,
  version: Schema.String
}) {}

/** The file, once symlinks are resolved, lies outside the folder it belongs to. */
export class ConfigPathEscapes extends Schema.TaggedError<ConfigPathEscapes>()("ConfigPathEscapes", {
  ...fileFields,
  root: Schema.String,
  resolved: Schema.String
}) {
  override get message(): string {
    return `${this.path} resolves to ${this.resolved}, outside ${this.root}`
  }
}

/** Reading, writing or keeping a version failed at the file system. */
export class ConfigFileError extends Schema.TaggedError<ConfigFileError>()("ConfigFileError", {
  ...fileFields,
  operation: Schema.Literals(["read", "write", "backup", "history"]),
  reason: Schema.String,
  cause: Schema.Defect()
}) {
  override get message(): string {
    return `${this.operation} ${this.path}: ${this.reason}`
  }
}
