/**
 * The console's own routes, beside the static files: what the page learns about the server it was served by
 * (`GET /api/console/info`) and the sign-in (`POST` / `DELETE /api/console/session`). Schemas only, so the
 * console derives its types from them.
 */
import { Schema } from "effect"

export const infoPath = "/api/console/info"
export const sessionPath = "/api/console/session"

export const Access = Schema.Struct({
  /** The server has an access token. */
  required: Schema.Boolean,
  /** This request presented it (header, query or the console's cookie), or none is needed. */
  signed_in: Schema.Boolean
})

/** `GET /api/console/info`. The families and their routes are told only to a request that is signed in. */
export const ConsoleInfo = Schema.Struct({
  title: Schema.String,
  version: Schema.String,
  access: Access,
  /** Names of the API families this server mounts (`launcher`, `launcher-instances`, `control-plane`, …). */
  families: Schema.Array(Schema.String),
  /** Every route as `METHOD /path/:param`, so that pages for routes not served are not shown. */
  routes: Schema.Array(Schema.String)
}).annotate({ identifier: "ConsoleInfo" })
export type ConsoleInfo = typeof ConsoleInfo.Type

/** `POST /api/console/session`. */
export const SessionRequest = Schema.Struct({ token: Schema.String.check(Schema.isMaxLength(4096)) })
  .annotate({ identifier: "ConsoleSessionRequest" })

/** The answer to a sign-in or sign-out. */
export const SessionAnswer = Schema.Struct({ signed_in: Schema.Boolean })

/** Every error of these routes. */
export const ConsoleError = Schema.Struct({ detail: Schema.String }).annotate({ identifier: "ConsoleError" })
