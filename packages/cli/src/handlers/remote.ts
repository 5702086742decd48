/**
 * Commands against a MaiKit server, through the typed clients of `@maikit/http-adapter`: the server of
 * `--server` (or the local one), the token of `--token` (or `$MAIKIT_TOKEN`), and every way a call fails as the one
 * line `maikit` prints: the route's own `{detail}` or `{message}`, a missing token, no server at all.
 */
import * as CliError from "effect/cli/CliError"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import type * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type { MaikitClient } from "@maikit/http-adapter/server"
import { defaultServer, type Remote } from "../commands/flags.ts"
import { userError } from "./output.ts"

/** The server a command asks and the token it presents. */
export interface Target {
  readonly baseUrl: string
  readonly accessToken: string | undefined
  /** What to say when nothing answers. */
  readonly unreachable: string
}

export const target = (flags: Remote): Target => {
  const baseUrl = Option.getOrElse(flags.server, () => defaultServer).replace(/\/+$/, "")
  return {
    baseUrl,
    accessToken: Option.getOrElse(flags.token, () => process.env["MAIKIT_TOKEN"]),
    unreachable: `no MaiKit server at ${baseUrl} (start one with \`maikit serve\`)`
  }
}

/** The server given with `--server`, if any: commands that work locally otherwise. */
export const given = (flags: Remote): Option.Option<Target> => Option.map(flags.server, () => target(flags))

/** FastAPI's 422 body, as the launcher's routes answer a request they cannot read. */
const isValidationDetail = Schema.is(Schema.Struct({
  detail: Schema.Array(Schema.Struct({ loc: Schema.Array(Schema.Unknown), msg: Schema.String }))
}))

/** What went wrong, in one line. */
export const describe = (at: Target, error: unknown): string => {
  if (HttpClientError.isHttpClientError(error)) {
    const reason = error.reason
    if (reason._tag === "TransportError") return at.unreachable
    if (reason._tag === "InvalidUrlError") return `not a server URL: ${at.baseUrl}`
    if (reason._tag === "EncodeError") return reason.message
    // A status the route does not declare, or a body that is not what it declares.
    const status = reason.response.status
    if (status === 401) {
      return at.accessToken === undefined
        ? `${at.baseUrl} needs an access token: pass --token or set MAIKIT_TOKEN`
        : `${at.baseUrl} refused the access token`
    }
    const call = `${reason.request.method} ${reason.request.url}`
    return status < 300 ? `unexpected answer from ${at.baseUrl} to ${call}` : `${at.baseUrl} answered ${status} to ${call}`
  }
  if (Schema.isSchemaError(error)) return `unexpected answer from ${at.baseUrl}: ${error.message}`
  if (Predicate.hasProperty(error, "detail") && typeof error.detail === "string") return error.detail
  if (isValidationDetail(error)) return error.detail.map((issue) => `${issue.loc.join(".")}: ${issue.msg}`).join("; ")
  if (Predicate.hasProperty(error, "message") && typeof error.message === "string") return error.message
  return `unexpected answer from ${at.baseUrl}`
}

/** Fails `call` with its failure in one line. */
export const worded = (at: Target) => <A, E>(call: Effect.Effect<A, E>) =>
  Effect.mapError(call, (error) => userError(describe(at, error), error))

/**
 * Runs `effect` with the clients `clients` makes for the server; a failure becomes one line, unless it is one
 * already (a `UserError` of the command itself).
 */
export const onServer = <ROut, A, E, R extends ROut>(
  at: Target,
  clients: (options: MaikitClient.Options) => Layer.Layer<ROut, never, HttpClient.HttpClient>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, CliError.UserError> =>
  effect.pipe(
    Effect.provide(clients(at)),
    Effect.provide(FetchHttpClient.layer),
    Effect.mapError((error) =>
      error instanceof CliError.UserError ? error : userError(describe(at, error), error)
    )
  )
