/**
 * The flags of `maikit serve` and `maikit light serve` that say which browsers may use the server: the `Host`
 * names it answers beyond loopback and the origins whose pages may call it (see SECURITY.md).
 */
import { Flag } from "effect/cli"

/** A repeatable flag whose values may also be comma-separated; none given leaves the setting to the config. */
const list = (name: string, description: string) =>
  Flag.String(name).pipe(
    Flag.withDescription(description),
    Flag.atLeast(0),
    Flag.map((values) => {
      const items = values.flatMap((value) => value.split(",")).map((item) => item.trim()).filter((item) => item !== "")
      return items.length === 0 ? undefined : items
    })
  )
export const allowedHost = list(
  "allowed-host",
  "A Host name answered beyond loopback and the listening address, e.g. maikit.lan, .example.com or * (repeatable; env MAIKIT_ALLOWED_HOSTS)"
)
export const allowedOrigin = list(
  "allowed-origin",
  "An origin whose pages may call every route, e.g. http://maikit.lan:5173 or http://localhost:* (repeatable; replaces the defaults; env MAIKIT_ALLOWED_ORIGINS)"
)
