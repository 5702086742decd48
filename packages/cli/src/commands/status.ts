/**
 * `maikit status <code>`: posts one status event to a running relay, for scripts and hooks of tools the
 * installer does not know. Fails (exit 1) with the relay's message when it refuses or cannot be reached.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { StatusEvent } from "@maikit/core/relay"
import { LightRelayDefaults } from "@maikit/light-relay/defaults"
import { onUse, optionalText } from "./flags.ts"

const handlers = onUse(() => import("../handlers/status.ts"))

export const statusFlags = {
  code: Argument.Literals("code", StatusEvent.codes).pipe(Argument.withDescription(StatusEvent.codes.join(", "))),
  session: optionalText("session", "Session id (events without one share the \"default\" session)"),
  agent: optionalText("agent", "The reporting tool, e.g. claude"),
  label: optionalText("label", "A human name for the session"),
  url: Flag.String("url").pipe(
    Flag.withDescription(`The relay's base URL (default $MAIKIT_RELAY_URL or ${LightRelayDefaults.url})`),
    Flag.optional
  ),
  token: optionalText("token", "Access token (default $MAIKIT_TOKEN)"),
  quiet: Flag.Boolean("quiet").pipe(Flag.withAlias("q"), Flag.withDescription("Print nothing on success"), Flag.withDefault(false))
}

export const status = Command.make("status", statusFlags, (flags) => handlers((run) => run.send(flags))).pipe(
  Command.withDescription("Send one status event to a running relay (for scripts and hooks)"),
  Command.withExamples([
    { command: "maikit status busy", description: "The default session is busy" },
    { command: "maikit status permission --session $SESSION --agent claude", description: "A session needs the user" }
  ])
)
