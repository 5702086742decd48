/**
 * Which browsers may use a server. Loopback is no trust boundary on its own: any page the user opens can send
 * requests to 127.0.0.1, and DNS rebinding makes them look same-origin. So a request must name an allowed
 * `Host`, and a browser request from another origin must come from an allowed one — unless it only reads a
 * route that is open to every origin. The rules are documented in the package README and `SECURITY.md`.
 */
import { MaikitConfig } from "@maikit/core/platform"

export interface PolicyOptions {
  /** Names beyond loopback this server answers for: `example.com`, `.example.com` (and subdomains), `*.example.com`, `*`. */
  readonly allowedHosts?: ReadonlyArray<string> | undefined
  /** Origins whose pages may call every route, with credentials; unset means `MaikitConfig.defaultAllowedOrigins`. */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  /** The address the server listens on, when it listens itself: a named address is allowed as `Host`. */
  readonly boundHost?: string | undefined
  /** With a token and a wildcard bind, and no `allowedHosts`, any `Host` is accepted: the token is the gate. */
  readonly hasToken: boolean
}

export interface Policy {
  /** Whether the `Host` header names this server. A request without one (HTTP/1.0) is allowed. */
  readonly hostAllowed: (host: string | undefined) => boolean
  /** Whether a page of `origin` may call every route with credentials, for a request that named `host`. */
  readonly originAllowed: (origin: string, host: string | undefined) => boolean
}

const wildcardAddresses = new Set(["", "0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0"])

/** The name in a `Host` header or an allow-list entry: lower case, without port, brackets or a final dot. */
export const hostName = (host: string): string => {
  let name = host.trim().toLowerCase()
  if (name.startsWith("[")) {
    const end = name.indexOf("]")
    name = end === -1 ? name.slice(1) : name.slice(1, end)
  } else {
    const colon = name.lastIndexOf(":")
    // One colon is a port; more are an IPv6 address without brackets (an allow-list entry, never a header).
    if (colon !== -1 && name.indexOf(":") === colon) name = name.slice(0, colon)
  }
  return name.endsWith(".") ? name.slice(0, -1) : name
}

/** Loopback names and addresses; `*.localhost` resolves to loopback in browsers (RFC 6761). */
const isLoopbackName = (name: string): boolean => MaikitConfig.isLoopbackHost(name) || name.endsWith(".localhost")

type HostRule = (name: string) => boolean

const hostRule = (entry: string): HostRule => {
  const trimmed = entry.trim().toLowerCase()
  if (trimmed === "*") return () => true
  if (trimmed.startsWith("*.")) {
    const apex = hostName(trimmed.slice(2))
    return (name) => name.endsWith(`.${apex}`)
  }
  if (trimmed.startsWith(".")) {
    const apex = hostName(trimmed.slice(1))
    return (name) => name === apex || name.endsWith(`.${apex}`)
  }
  const exact = hostName(trimmed)
  return (name) => name === exact
}

interface OriginRule {
  readonly scheme: string
  readonly host: string
  /** `*` for any port; `""` for the scheme's default port. */
  readonly port: string
}

const defaultPorts: Readonly<Record<string, string>> = { http: "80", https: "443", ws: "80", wss: "443" }

/** `scheme://host[:port]`, with `:*` for any port; undefined when `text` is not one. */
export const parseOrigin = (text: string): OriginRule | undefined => {
  const match = MaikitConfig.originPattern.exec(text.trim())
  if (match === null) return undefined
  const scheme = (match[1] ?? "").toLowerCase()
  const port = match[3] ?? ""
  return {
    scheme,
    host: hostName(match[2] ?? ""),
    port: port === defaultPorts[scheme] ? "" : port
  }
}

const originMatches = (rule: OriginRule, origin: OriginRule) =>
  rule.scheme === origin.scheme && rule.host === origin.host && (rule.port === "*" || rule.port === origin.port)

/** A one-entry memo: the hot path (`POST /api/event` from hooks) sends the same `Host` every time. */
const remembered = (check: (value: string) => boolean) => {
  let lastAllowed: string | undefined
  return (value: string) => {
    if (value === lastAllowed) return true
    const allowed = check(value)
    if (allowed) lastAllowed = value
    return allowed
  }
}

export const make = (options: PolicyOptions): Policy => {
  const configured = (options.allowedHosts ?? []).map(hostRule)
  const bound = options.boundHost === undefined ? undefined : hostName(options.boundHost)
  const wildcard = bound !== undefined && wildcardAddresses.has(bound)
  const anyHost = wildcard && options.hasToken && configured.length === 0
  const nameAllowed = remembered((host) => {
    const name = hostName(host)
    return isLoopbackName(name) || (bound !== undefined && !wildcard && name === bound) ||
      configured.some((rule) => rule(name))
  })
  const hostAllowed = (host: string | undefined) => anyHost || host === undefined || nameAllowed(host)

  const origins = (options.allowedOrigins ?? MaikitConfig.defaultAllowedOrigins).flatMap((entry) => {
    const rule = parseOrigin(entry)
    return rule === undefined ? [] : [rule]
  })
  const listed = remembered((origin) => {
    const parsed = parseOrigin(origin)
    return parsed !== undefined && origins.some((rule) => originMatches(rule, parsed))
  })
  const originAllowed = (origin: string, host: string | undefined) => {
    if (listed(origin)) return true
    // Same origin: the page was served by this server, under a `Host` already checked.
    const parsed = host === undefined ? undefined : parseOrigin(origin)
    return parsed !== undefined && (parsed.scheme === "http" || parsed.scheme === "https") &&
      host !== undefined && `${parsed.host}:${parsed.port}` === hostAndPort(host, parsed.scheme)
  }
  return { hostAllowed, originAllowed }
}

/** `name:port` of a `Host` header, the port empty when it is absent or the scheme's default. */
const hostAndPort = (host: string, scheme: string): string => {
  const trimmed = host.trim()
  const match = /:(\d{1,5})$/.exec(trimmed)
  const port = match === null || (!trimmed.startsWith("[") && trimmed.indexOf(":") !== trimmed.lastIndexOf(":"))
    ? ""
    : match[1] ?? ""
  return `${hostName(trimmed)}:${port === defaultPorts[scheme] ? "" : port}`
}
