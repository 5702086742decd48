/**
 * How a request presents MaiKit's access token, for every server and socket that checks it: `Authorization:
 * Bearer`, `X-Maikit-Token`, `?token=`, or the web console's sign-in cookie; and the constant-time comparison.
 * Pure functions of a request's headers (Effect's or Node's) and URL, so the HTTP and WebSocket adapters share
 * one rule.
 *
 * The console's sign-in: a browser cannot set headers on a WebSocket or an `EventSource`, and a token kept in
 * page storage is readable by any script that runs there, so the console holds the token in a cookie instead:
 * `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it), `Secure` when served over
 * TLS, set by `POST /api/console/session` once the token is checked. `SameSite` stops other sites, but another
 * port on the same host (`http://127.0.0.1:3000`) is the same site, and some launcher routes act on `GET`
 * (`/instance/{id}/start`). So the cookie counts only for requests the browser marks as the console's own:
 * `Sec-Fetch-Site` absent, `same-origin` or `none` (typed into the address bar), and `Origin` absent or naming
 * the host the request was sent to. Every other request must present the token itself.
 */
import { Redacted } from "effect"
import * as Crypto from "node:crypto"

/**
 * The cookie's name for a `Host`. Cookies ignore ports, so two MaiKit servers on one host (`maikit serve` on
 * 23456, the light relay on 8045) would otherwise overwrite each other's sign-in.
 */
export const cookieName = (host: string | undefined): string => {
  const port = host === undefined ? undefined : /:(\d+)$/.exec(host)?.[1]
  return port === undefined ? "maikit_console" : `maikit_console_${port}`
}

/** How long a sign-in lasts. */
export const maxAgeSeconds = 30 * 24 * 60 * 60

/** A request's headers, Effect's or Node's (whose repeated headers are arrays). */
export type Headers = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

const single = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

/** The value of a cookie in a `Cookie` header. */
export const cookieValue = (header: string | undefined, name: string): string | undefined => {
  if (header === undefined) return undefined
  for (const part of header.split(";")) {
    const separator = part.indexOf("=")
    if (separator === -1 || part.slice(0, separator).trim() !== name) continue
    const raw = part.slice(separator + 1).trim()
    try {
      return decodeURIComponent(raw)
    } catch {
      return undefined
    }
  }
  return undefined
}

/** Whether the browser says the request comes from a page of this very origin (or from no page at all). */
export const isSameOrigin = (headers: Headers): boolean => {
  const site = single(headers["sec-fetch-site"])
  if (site !== undefined && site !== "same-origin" && site !== "none") return false
  const origin = single(headers["origin"])
  if (origin === undefined) return true
  const host = single(headers["host"])
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase()
  } catch {
    return false
  }
}

/** The token the console's cookie carries, when the request may use it. */
export const fromCookie = (headers: Headers): string | undefined =>
  isSameOrigin(headers)
    ? cookieValue(single(headers["cookie"]), cookieName(single(headers["host"])))
    : undefined

/** `Set-Cookie` for a sign-in on `host`. */
export const setCookie = (host: string | undefined, token: string, secure: boolean): string =>
  `${cookieName(host)}=${encodeURIComponent(token)}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${
    secure ? "; Secure" : ""
  }`

/** `Set-Cookie` that signs out of `host`. */
export const clearCookie = (host: string | undefined, secure: boolean): string =>
  `${cookieName(host)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`

/** The token a request presents, if any: Bearer, `X-Maikit-Token`, `?token=` in `url`, or the console's cookie. */
export const presented = (headers: Headers, url: string): string | undefined => {
  const authorization = single(headers["authorization"])
  if (authorization !== undefined && /^bearer /i.test(authorization)) return authorization.slice(7).trim()
  const header = single(headers["x-maikit-token"])
  if (header !== undefined) return header
  const query = url.indexOf("?")
  const fromQuery = query === -1 ? undefined : new URLSearchParams(url.slice(query + 1)).get("token") ?? undefined
  return fromQuery ?? fromCookie(headers)
}

const digest = (text: string) => Crypto.createHash("sha256").update(text).digest()

/** Whether `candidate` is the token, compared in constant time (of equal-length digests, so lengths leak nothing). */
export const matches = (candidate: string, expected: string | Redacted.Redacted<string>): boolean =>
  Crypto.timingSafeEqual(digest(candidate), digest(typeof expected === "string" ? expected : Redacted.value(expected)))
