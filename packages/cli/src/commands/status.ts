/**
 * `maikit status <code>`: posts one status event to a running relay, for scripts and hooks of tools the
 * installer does not know. Fails (exit 1) with the relay's message when it refuses or cannot be reached.
 */
import { Console, Effect, Option } from "effect"
import { Argument, CliError, Command, Flag } from "effect/cli"
import { StatusEvent } from "@maikit/core/relay"
import { HookInstaller } from "@maikit/light-relay"

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

export interface Post {
  readonly url: string
  readonly token?: string | undefined
  readonly event: StatusEvent.EventInput
  readonly timeout?: number | undefined
}

/** Posts `event` to `<url>/api/event`; a refusal or a network failure is a `UserError` naming the cause. */
export const post = (options: Post) =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(`${options.url.replace(/\/+$/, "")}/api/event`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(options.token === undefined ? {} : { "x-maikit-token": options.token })
        },
        body: JSON.stringify(options.event),
        signal: AbortSignal.timeout(options.timeout ?? 3000)
      })
      return { status: response.status, body: await response.text() }
    },
    catch: (cause) => new CliError.UserError({ cause, userMessage: `cannot reach the relay at ${options.url}: ${describe(cause)}` })
  }).pipe(
    Effect.flatMap((reply) =>
      reply.status === 200
        ? Effect.void
        : Effect.fail(new CliError.UserError({ cause: reply, userMessage: `the relay answered ${reply.status}: ${reply.body}` }))
    )
  )

const optionalText = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.optional)

export const status = Command.make(
  "status",
  {
    code: Argument.Literals("code", StatusEvent.codes).pipe(Argument.withDescription(StatusEvent.codes.join(", "))),
    session: optionalText("session", "Session id (events without one share the \"default\" session)"),
    agent: optionalText("agent", "The reporting tool, e.g. claude"),
    label: optionalText("label", "A human name for the session"),
    url: Flag.String("url").pipe(
      Flag.withDescription(`The relay's base URL (default $MAIKIT_RELAY_URL or ${HookInstaller.defaultUrl})`),
      Flag.withDefault(process.env["MAIKIT_RELAY_URL"] ?? HookInstaller.defaultUrl)
    ),
    token: optionalText("token", "Access token (default $MAIKIT_TOKEN)"),
    quiet: Flag.Boolean("quiet").pipe(Flag.withAlias("q"), Flag.withDescription("Print nothing on success"), Flag.withDefault(false))
  },
  (flags) =>
    Effect.gen(function*() {
      const event = yield* Effect.mapError(
        StatusEvent.decodeEventInput({
          code: flags.code,
          ...Option.match(flags.session, { onNone: () => ({}), onSome: (session_id) => ({ session_id }) }),
          ...Option.match(flags.agent, { onNone: () => ({}), onSome: (agent) => ({ agent }) }),
          ...Option.match(flags.label, { onNone: () => ({}), onSome: (label) => ({ label }) })
        }),
        (error) => new CliError.UserError({ cause: error, userMessage: error.message })
      )
      yield* post({ url: flags.url, token: Option.getOrElse(flags.token, () => process.env["MAIKIT_TOKEN"]), event })
      if (!flags.quiet) yield* Console.log(`status ${event.code} sent to ${flags.url}`)
    })
).pipe(
  Command.withDescription("Send one status event to a running relay (for scripts and hooks)"),
  Command.withExamples([
    { command: "maikit status busy", description: "The default session is busy" },
    { command: "maikit status permission --session $SESSION --agent claude", description: "A session needs the user" }
  ])
)
