/**
 * How AI coding tools' hook events become status events. One table per tool, in one place, used by
 * `POST /api/hook/:agent` (the hook configs `maikit light install-hooks` writes just forward each payload
 * there), so a light behaves the same whichever tool drives it.
 *
 * Claude Code and Codex (`hooks.json`) send the same JSON on stdin: `hook_event_name`, `session_id`, `cwd`,
 * `tool_name`, and for `Notification` a `notification_type`. The traps the table avoids:
 * - `Notification` is overloaded: a permission prompt or an elicitation dialog needs the user
 *   (`permission`), an idle prompt means the turn is over (`idle`), anything else changes nothing. Claude
 *   versions without `notification_type` are told apart by their message.
 * - `SessionEnd` is often cancelled when the tool exits, and `Stop` does not fire on Ctrl-C: the relay's
 *   session TTL, not a hook, is what finally clears a dead session.
 * - `AskUserQuestion` and `ExitPlanMode` are tools that wait for the user: `permission`, not `using_tool`.
 * Codex's older `notify` program receives `{"type": "agent-turn-complete", "thread-id": ...}`: `idle`.
 *
 * opencode has no command hooks; its plugin (written by install-hooks) forwards each event reduced to
 * `{type, session_id, parent_id?, status?, tool?, title?}`. Its traps: `session.idle` is deprecated in favour of
 * `session.status` (both may fire; both map to `idle`), a sub-agent's child session goes idle while its
 * parent keeps working (child events count for the root session, and a child's idle is ignored), permission
 * events are `permission.asked` in newer versions and `permission.updated` in older ones, and the `question`
 * tool waits for the user.
 */
import { Effect, Option, Schema } from "effect"
import { HookPayloadInvalid } from "./AgentHooksError.ts"
import type * as StatusEvent from "./StatusEvent.ts"

export { HookPayloadInvalid } from "./AgentHooksError.ts"

export const agents = ["claude", "codex", "opencode"] as const
export const Agent = Schema.Literals(agents)
export type Agent = typeof Agent.Type

/** The fields of a Claude Code or Codex hook payload the mapping reads; the rest is ignored. */
export const CommandHookPayload = Schema.Struct({
  hook_event_name: Schema.optional(Schema.String),
  session_id: Schema.optional(Schema.String),
  cwd: Schema.optional(Schema.String),
  tool_name: Schema.optional(Schema.String),
  notification_type: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  /** Codex `notify`. */
  type: Schema.optional(Schema.String),
  "thread-id": Schema.optional(Schema.String)
})
export type CommandHookPayload = typeof CommandHookPayload.Type

/** What the opencode plugin sends. */
export const OpencodeEvent = Schema.Struct({
  type: Schema.String,
  session_id: Schema.String,
  parent_id: Schema.optional(Schema.String),
  status: Schema.optional(Schema.String),
  tool: Schema.optional(Schema.String),
  title: Schema.optional(Schema.String)
})
export type OpencodeEvent = typeof OpencodeEvent.Type

type Code = StatusEvent.StatusCode

/** The hook events install-hooks subscribes to, per tool. */
export const claudeEvents = [
  "SessionStart",
  "UserPromptSubmit",
  "PreToolUse",
  "PostToolUse",
  "PostToolUseFailure",
  "PermissionRequest",
  "Notification",
  "PreCompact",
  "SubagentStop",
  "Stop",
  "StopFailure",
  "SessionEnd"
] as const

export const codexEvents = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse", "PreCompact", "Stop"] as const

const waitsForUser = new Set(["AskUserQuestion", "ExitPlanMode"])

const notificationCode = (payload: CommandHookPayload): Code | undefined => {
  const type = payload.notification_type
  if (type === "permission_prompt" || type === "elicitation_dialog") return "permission"
  if (type === "idle_prompt") return "idle"
  if (type !== undefined) return undefined
  const message = payload.message ?? ""
  if (/permission|approv/i.test(message)) return "permission"
  if (/waiting for your input/i.test(message)) return "idle"
  return undefined
}

const commandCode = (event: string, payload: CommandHookPayload): Code | undefined => {
  switch (event) {
    case "SessionStart":
      return "init"
    case "UserPromptSubmit":
      return "reasoning"
    case "PreToolUse":
      return waitsForUser.has(payload.tool_name ?? "") ? "permission" : "using_tool"
    case "PostToolUse":
    case "PostToolUseFailure":
      return "tool_done"
    case "PermissionRequest":
      return "permission"
    case "Notification":
      return notificationCode(payload)
    case "PreCompact":
    case "PostCompact":
    case "SubagentStop":
      return "busy"
    case "Stop":
    case "SessionEnd":
      return "idle"
    case "StopFailure":
      return "error"
    case "agent-turn-complete":
      return "idle"
    case "approval-requested":
      return "permission"
    default:
      return undefined
  }
}

/** Session ids and labels must fit `StatusEvent.EventInput`: printable, bounded. */
const clean = (value: string, max: number) => {
  const printable = value.replace(/\p{Cc}/gu, "").slice(0, max)
  return printable === "" ? undefined : printable
}

const folderName = (cwd: string | undefined) =>
  cwd === undefined ? undefined : clean(cwd.replace(/[\\/]+$/, "").split(/[\\/]/).at(-1) ?? "", 160)

const eventInput = (code: Code, agent: Agent, sessionId: string | undefined, label: string | undefined) => {
  const session = sessionId === undefined ? undefined : clean(sessionId, 128)
  return {
    code,
    agent,
    ...(session === undefined ? {} : { session_id: session }),
    ...(label === undefined ? {} : { label })
  } satisfies StatusEvent.EventInput
}

const decode = <S extends Schema.Codec<unknown, unknown>>(agent: Agent, schema: S, payload: unknown) =>
  Schema.decodeUnknownEffect(schema)(payload).pipe(
    Effect.mapError((error) => new HookPayloadInvalid({ agent, message: `not a ${agent} hook payload: ${error.message}` }))
  )

/** Maps a Claude Code or Codex hook payload; `event` (from the hook's command line) wins over the payload's. */
export const fromCommandHook = (
  agent: "claude" | "codex",
  payload: unknown,
  event?: string
): Effect.Effect<Option.Option<StatusEvent.EventInput>, HookPayloadInvalid> =>
  Effect.map(decode(agent, CommandHookPayload, payload), (hook) => {
    const name = event ?? hook.hook_event_name ?? hook.type
    const code = name === undefined ? undefined : commandCode(name, hook)
    return code === undefined
      ? Option.none()
      : Option.some(eventInput(code, agent, hook.session_id ?? hook["thread-id"], folderName(hook.cwd)))
  })

const opencodeCode = (event: OpencodeEvent): Code | undefined => {
  switch (event.type) {
    case "session.created":
      return "init"
    case "session.status":
      return event.status === "idle" ? "idle" : event.status === "busy" || event.status === "retry" ? "busy" : undefined
    case "session.idle":
    case "session.deleted":
      return "idle"
    case "session.error":
      return "error"
    case "permission.asked":
    case "permission.updated":
    case "question.asked":
      return "permission"
    case "permission.replied":
    case "question.replied":
      return "busy"
    case "reasoning":
      return "reasoning"
    case "tool.execute.before":
      return event.tool === "question" ? "permission" : "using_tool"
    case "tool.execute.after":
      return event.tool === "question" ? "busy" : "tool_done"
    default:
      return undefined
  }
}

/** Remembers opencode's child sessions so a sub-agent counts for its root session. */
export interface OpencodeMapper {
  readonly map: (payload: unknown) => Effect.Effect<Option.Option<StatusEvent.EventInput>, HookPayloadInvalid>
}

const maxRemembered = 1024

export const makeOpencodeMapper = (): OpencodeMapper => {
  const parents = new Map<string, string>()
  const rootOf = (session: string) => {
    let current = session
    for (let depth = 0; depth < 16; depth++) {
      const parent = parents.get(current)
      if (parent === undefined) break
      current = parent
    }
    return current
  }
  return {
    map: (payload) =>
      Effect.map(decode("opencode", OpencodeEvent, payload), (event) => {
        if (event.parent_id !== undefined && event.parent_id !== event.session_id) {
          if (parents.size >= maxRemembered) parents.delete(parents.keys().next().value ?? "")
          parents.set(event.session_id, event.parent_id)
        }
        const code = opencodeCode(event)
        const root = rootOf(event.session_id)
        const isChild = root !== event.session_id
        if (code === undefined || (isChild && (code === "idle" || code === "init"))) return Option.none()
        return Option.some(eventInput(code, "opencode", root, isChild ? undefined : event.title === undefined ? undefined : clean(event.title, 160)))
      })
  }
}
