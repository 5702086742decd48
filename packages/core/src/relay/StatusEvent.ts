/**
 * The AI status light's vocabulary: the eight status codes AI coding tools report, the event they post,
 * the `{code, timestamp}` payload lights receive, the priority that picks one status out of many sessions
 * and the mode each code becomes on a BLE light.
 */
import { Schema } from "effect"

export const codes = ["idle", "busy", "reasoning", "using_tool", "tool_done", "permission", "error", "init"] as const

export const StatusCode = Schema.Literals(codes).annotate({
  identifier: "StatusCode",
  description: "idle, busy, reasoning, using_tool, tool_done, permission, error or init"
})
export type StatusCode = typeof StatusCode.Type

/**
 * Which session's status the light shows when several are live, highest first: what needs the user
 * (`permission`), then errors, then work (`using_tool` > `reasoning` > `busy` > `tool_done` > `init`), then
 * `idle`. Ties go to the session that reported most recently.
 */
export const priority: Readonly<Record<StatusCode, number>> = {
  permission: 70,
  error: 60,
  using_tool: 50,
  reasoning: 40,
  busy: 30,
  tool_done: 20,
  init: 10,
  idle: 0
}

/** The mode written to a BLE light for each code (seed 004's table). */
export const bleModes: Readonly<Record<StatusCode, string>> = {
  idle: "idle",
  busy: "busy",
  reasoning: "thinking",
  using_tool: "ai",
  tool_done: "success",
  permission: "alarm",
  error: "error",
  init: "init"
}

// RFC 3339 / ISO 8601 date-time; the zone may be omitted (then it is local time, as Python's isoformat()
// writes it) and fractions may carry up to nanoseconds (Go's RFC3339Nano). Captures the separator and the
// fraction's digits beyond milliseconds, the two things Date.parse needs rewritten.
const isoDateTime = /^\d{4}-\d{2}-\d{2}([Tt ])\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3}(\d{0,6}))?)?(?:[Zz]|[+-]\d{2}:?\d{2})?$/

/** Milliseconds since the epoch for an ISO 8601 timestamp, or `NaN` when it is not one. */
export const parseTimestamp = (timestamp: string): number => {
  const match = isoDateTime.exec(timestamp)
  if (match === null) return Number.NaN
  const beyondMillis = match[2]
  if (match[1] !== " " && (beyondMillis === undefined || beyondMillis === "")) return Date.parse(timestamp)
  // Date.parse keeps only milliseconds; trim longer fractions so nanosecond stamps parse everywhere.
  return Date.parse(timestamp.replace(/(\.\d{3})\d+/, "$1").replace(" ", "T"))
}

export const Timestamp = Schema.String.check(
  Schema.makeFilter((value: string) => !Number.isNaN(parseTimestamp(value)) || "expected an ISO 8601 date-time")
).annotate({ identifier: "Timestamp", description: "ISO 8601 date-time, e.g. 2026-06-27T14:30:00Z" })

// Printable text only: control characters in ids and labels break log lines, topics and terminals.
const printable = /^\P{Cc}*$/u

/** A bounded single-line string. */
export const Text = (maxLength: number, minLength = 0) =>
  Schema.String.check(
    Schema.isBetweenLength(minLength, maxLength),
    Schema.isPattern(printable, { message: "control characters are not allowed" })
  )

export const SessionId = Text(128, 1).annotate({ description: "The reporting session; events without one share \"default\"" })

/** What `POST /api/event` accepts: seed 004's `{code, timestamp}` plus optional session data. */
export const EventInput = Schema.Struct({
  code: StatusCode,
  timestamp: Schema.optional(Timestamp),
  session_id: Schema.optional(SessionId),
  agent: Schema.optional(Text(64).annotate({ description: "claude, codex, opencode, ..." })),
  label: Schema.optional(Text(160).annotate({ description: "A human name for the session" }))
}).annotate({ identifier: "StatusEventInput" })
export type EventInput = typeof EventInput.Type

export const decodeEventInput = Schema.decodeUnknownEffect(EventInput)

export const defaultSessionId = "default"

/** What MQTT topics and SSE `status` events carry: the aggregate status. */
export const StatusPayload = Schema.Struct({ code: StatusCode, timestamp: Schema.String })
export type StatusPayload = typeof StatusPayload.Type

/** One session's latest report. `updated_at` is when the relay received it. */
export const SessionState = Schema.Struct({
  session_id: Schema.String,
  code: StatusCode,
  timestamp: Schema.String,
  agent: Schema.optional(Schema.String),
  label: Schema.optional(Schema.String),
  updated_at: Schema.String
}).annotate({ identifier: "SessionState" })
export type SessionState = typeof SessionState.Type

/**
 * The aggregate status: `code`/`timestamp` of the winning session (or `idle` at the time the last session
 * went away), the winner's id, every live session by priority, and the sequence number of the last update.
 */
export const Snapshot = Schema.Struct({
  code: StatusCode,
  timestamp: Schema.String,
  session_id: Schema.NullOr(Schema.String),
  sessions: Schema.Array(SessionState),
  seq: Schema.Number
}).annotate({ identifier: "StatusSnapshot" })
export type Snapshot = typeof Snapshot.Type

/**
 * One accepted event (or a session forgotten after its TTL): the aggregate after it, whether the aggregate
 * code changed, and the session concerned. `seq` grows by one per update.
 */
export const StatusUpdate = Schema.Struct({
  seq: Schema.Number,
  reason: Schema.Literals(["event", "expired"]),
  code: StatusCode,
  timestamp: Schema.String,
  changed: Schema.Boolean,
  session: SessionState,
  sessions: Schema.Number
}).annotate({ identifier: "StatusUpdate" })
export type StatusUpdate = typeof StatusUpdate.Type
