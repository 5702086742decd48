/** Typed failures of `BotDatabase`, with structured fields and no wire text. */
import { Schema } from "effect"

/**
 * The instance's `data/MaiBot.db` cannot be used: it does not exist (MaiKit never creates it), resolves outside
 * the instance folder, is not SQLite, or has neither MaiBot generation's tables.
 */
export class BotDatabaseUnavailable extends Schema.TaggedError<BotDatabaseUnavailable>()("BotDatabaseUnavailable", {
  instanceId: Schema.String,
  path: Schema.String,
  reason: Schema.Literals(["missing", "outside", "unreadable", "not-maibot"]),
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.path}: ${this.detail}`
  }
}

export const RecordKind = Schema.Literals(["emoji", "person"])

/** No record by that key. */
export class BotRecordNotFound extends Schema.TaggedError<BotRecordNotFound>()("BotRecordNotFound", {
  instanceId: Schema.String,
  kind: RecordKind,
  /** `id`, `hash`, `person_id`, `record_id` or `platform`. */
  key: Schema.String,
  value: Schema.String
}) {}

/** A request the records cannot take: nothing to update, a duplicate `person_id`, a negative limit or offset. */
export class BotRecordRejected extends Schema.TaggedError<BotRecordRejected>()("BotRecordRejected", {
  instanceId: Schema.String,
  kind: RecordKind,
  reason: Schema.Literals(["nothing-to-update", "duplicate", "bad-page"]),
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

/** A statement failed (a constraint, a lock held past the busy timeout, a corrupt file). */
export class BotDatabaseError extends Schema.TaggedError<BotDatabaseError>()("BotDatabaseError", {
  instanceId: Schema.String,
  operation: Schema.String,
  reason: Schema.String,
  cause: Schema.Defect()
}) {
  override get message(): string {
    return this.reason
  }
}
