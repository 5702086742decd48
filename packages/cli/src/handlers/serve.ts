/** What `maikit serve` does (the definition is in `Cli.ts`): the all-in-one server until it is stopped. */
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as AllInOne from "../AllInOne.ts"
import type { serveFlags } from "../Cli.ts"
import type { Input } from "../commands/flags.ts"

export const serve = (flags: Input<typeof serveFlags>) =>
  Layer.launch(AllInOne.layer({
    host: Option.getOrUndefined(flags.host),
    port: Option.getOrUndefined(flags.port),
    dataDir: Option.getOrUndefined(flags.dataDir),
    accessToken: Option.getOrUndefined(flags.token),
    configFile: Option.getOrUndefined(flags.config),
    logLevel: Option.getOrUndefined(flags.logLevel),
    allowedHosts: flags.allowedHost,
    allowedOrigins: flags.allowedOrigin
  }))
