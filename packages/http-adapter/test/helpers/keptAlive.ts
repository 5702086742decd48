/**
 * Plain `node:http` requests over kept-alive connections, for the tests that hold a fast lane against the
 * application: a request the lane declines is followed by the next on the same socket, and each answer comes
 * back whole but for its `Date` header, ready to compare with another server's.
 */
import { Effect } from "effect"
import * as Http from "node:http"
import { afterAll } from "vitest"

export interface Answer {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: string
}

export interface Request {
  readonly path: string
  readonly method?: string
  readonly headers?: Record<string, string>
  /** The body: sent whole (with its `content-length`), or these pieces one write each (chunked, without one). */
  readonly body?: string | ReadonlyArray<string>
}

/** A client of its own (closed after the file's tests) sending `Request`s to any base URL. */
export const keptAliveClient = (maxSockets: number) => {
  const agent = new Http.Agent({ keepAlive: true, maxSockets })
  afterAll(() => agent.destroy())
  return (base: string, sent: Request) =>
    Effect.promise(() =>
      new Promise<Answer>((resolve, reject) => {
        const request = Http.request(new URL(sent.path, base), {
          method: sent.method ?? "GET",
          agent,
          headers: sent.headers
        }, (response) => {
          let body = ""
          response.setEncoding("utf8")
          response.on("data", (chunk: string) => (body += chunk))
          response.on("end", () => {
            const { date: _date, ...headers } = response.headers
            resolve({ status: response.statusCode ?? 0, headers, body })
          })
        })
        request.on("error", reject)
        if (typeof sent.body === "string" || sent.body === undefined) return request.end(sent.body)
        for (const piece of sent.body) request.write(piece)
        request.end()
      })
    )
}
