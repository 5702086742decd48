/**
 * Calls to the server the console was served by: same origin, so the sign-in cookie goes along; JSON in and
 * out. A failure becomes an `ApiError` with the HTTP status and what the server said, in whichever of the
 * families' error shapes it came (`detail`, `message`, or the control plane's `error`). A 401 tells the shell
 * to show the sign-in page.
 */
import { ref } from "vue"

export class ApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** Set when the server answered 401: the sign-in cookie is missing or no longer matches the server's token. */
export const signedOut = ref(false)

const describe = (body: unknown, fallback: string): string => {
  if (typeof body !== "object" || body === null) return fallback
  const record = body as Record<string, unknown>
  if (typeof record["detail"] === "string") return record["detail"]
  if (Array.isArray(record["detail"])) {
    return record["detail"].map((issue) => (typeof issue === "object" && issue !== null && "msg" in issue ? String(issue.msg) : "")).join("; ")
  }
  if (record["success"] === false && typeof record["error"] === "string") return `${String(record["message"] ?? "")} ${record["error"]}`.trim()
  if (typeof record["message"] === "string") return record["message"]
  return fallback
}

/** A successful answer: its parsed body (text when it is not JSON), and its `ETag` if it has one. */
export interface Answer {
  readonly body: unknown
  readonly etag: string | undefined
}

export interface Send {
  /** JSON, or a `string` sent as `text/plain`. */
  readonly body?: unknown
  /** The version a write is based on (`If-Match`): the server answers 409 when the file has changed since. */
  readonly ifMatch?: string | undefined
}

export const exchange = async (method: string, path: string, send: Send = {}): Promise<Answer> => {
  const headers: Record<string, string> = { accept: "application/json, text/plain" }
  if (typeof send.body === "string") headers["content-type"] = "text/plain; charset=utf-8"
  else if (send.body !== undefined) headers["content-type"] = "application/json"
  if (send.ifMatch !== undefined) headers["if-match"] = `"${send.ifMatch}"`
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      body: send.body === undefined ? null : typeof send.body === "string" ? send.body : JSON.stringify(send.body),
      credentials: "same-origin"
    })
  } catch (cause) {
    throw new ApiError(0, cause instanceof Error ? cause.message : String(cause))
  }
  const text = await response.text()
  let parsed: unknown = undefined
  try {
    parsed = text === "" ? undefined : JSON.parse(text)
  } catch {
    parsed = text
  }
  if (response.status === 401) signedOut.value = true
  if (!response.ok) throw new ApiError(response.status, describe(parsed, `HTTP ${response.status}`))
  const etag = response.headers.get("etag")
  return { body: response.headers.get("content-type")?.startsWith("text/plain") ? text : parsed, etag: etag === null ? undefined : etag.replace(/^W\//, "").replaceAll("\"", "") }
}

export const request = async <A>(method: string, path: string, body?: unknown): Promise<A> =>
  (await exchange(method, path, { body })).body as A

export const get = <A>(path: string) => request<A>("GET", path)
export const post = <A>(path: string, body?: unknown) => request<A>("POST", path, body ?? {})
export const put = <A>(path: string, body: unknown) => request<A>("PUT", path, body)
export const del = <A>(path: string) => request<A>("DELETE", path)

/** The control plane answers business errors with HTTP 200 and `success: false`: those fail too. */
export const envelope = async <D>(call: Promise<{ readonly success: boolean; readonly data: D | null; readonly message: string; readonly error: string | null; readonly error_code: string | null }>): Promise<D> => {
  const answer = await call
  if (!answer.success || answer.data === null) {
    throw new ApiError(200, `${answer.message}${answer.error === null ? "" : `: ${answer.error}`}${answer.error_code === null ? "" : ` (${answer.error_code})`}`)
  }
  return answer.data
}

/** The status relay answers `{code: 0, message, data}`. */
export const relayData = async <D>(call: Promise<{ readonly code: number; readonly data: D }>): Promise<D> => (await call).data

/** A WebSocket URL on this origin. */
export const socketUrl = (path: string) => `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`
