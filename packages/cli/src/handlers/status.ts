/** What `maikit status` does (the definitions are in `commands/status.ts`). */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { StatusEvent } from "@maikit/core/relay"
import { StatusRelayClient } from "@maikit/http-adapter/relay"
import { LightRelayDefaults } from "@maikit/light-relay/defaults"
import type { Input } from "../commands/flags.ts"
import type { statusFlags } from "../commands/status.ts"
import { fail, oneLine } from "./output.ts"
import { onServer } from "./remote.ts"

export const send = (flags: Input<typeof statusFlags>) =>
  Effect.gen(function*() {
    const event = yield* StatusEvent.decodeEventInput({
      code: flags.code,
      ...Option.match(flags.session, { onNone: () => ({}), onSome: (session_id) => ({ session_id }) }),
      ...Option.match(flags.agent, { onNone: () => ({}), onSome: (agent) => ({ agent }) }),
      ...Option.match(flags.label, { onNone: () => ({}), onSome: (label) => ({ label }) })
    }).pipe(Effect.mapError(oneLine))
    const baseUrl = Option.getOrElse(flags.url, () => process.env["MAIKIT_RELAY_URL"] ?? LightRelayDefaults.url).replace(/\/+$/, "")
    const relay = {
      baseUrl,
      accessToken: Option.getOrElse(flags.token, () => process.env["MAIKIT_TOKEN"]),
      unreachable: `cannot reach the relay at ${baseUrl}`
    }
    yield* onServer(
      relay,
      StatusRelayClient.StatusRelayClient.layer,
      StatusRelayClient.StatusRelayClient.use((client) => client.statusRelayEvents.postEvent({ payload: event })).pipe(
        Effect.timeoutOrElse({ duration: "3 seconds", orElse: () => fail(`${relay.unreachable}: no answer within 3 seconds`) })
      )
    )
    if (!flags.quiet) yield* Console.log(`status ${event.code} sent to ${baseUrl}`)
  })
