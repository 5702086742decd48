import * as Http from "node:http"
import type { FastAnswer, FastRoute } from "../ApiFamily.ts"

/** Answers a request from Node's request and response; false when it is not its to answer. */
export type Lane = (request: Http.IncomingMessage, response: Http.ServerResponse) => boolean

export interface LaneOptions {
  readonly routes: ReadonlyArray<FastRoute>
  /** Largest body the lane buffers; bigger ones go to the application, which answers 413. */
  readonly maxBodyBytes: number
  /** The server's `Host` allow-list: a request naming another host goes to the application, which answers 421. */
  readonly hostAllowed: (host: string | undefined) => boolean
  /** Whether the request carries the server's access token, when there is one. */
  readonly authorized: (request: Http.IncomingMessage) => boolean
  /** Headers every answer of the application carries for a request without `Origin` (CORS). */
  readonly headers: Readonly<Record<string, string>>
  /** The application's own handler: gets every request the lane declines, with its body intact. */
  readonly fallback: (request: Http.IncomingMessage, response: Http.ServerResponse) => void
}

/**
 * A copy of `request` whose body is `body`, already read: the lane reads a body before it knows whether it
 * can answer, and a request it declines then reaches the application as if nothing had read it.
 */
const replay = (request: Http.IncomingMessage, body: Buffer): Http.IncomingMessage => {
  const copy = new Http.IncomingMessage(request.socket)
  copy.httpVersion = request.httpVersion
  copy.httpVersionMajor = request.httpVersionMajor
  copy.httpVersionMinor = request.httpVersionMinor
  copy.method = request.method
  copy.url = request.url
  copy.headers = request.headers
  copy.rawHeaders = request.rawHeaders
  // The message is whole; an incomplete one destroys its socket (an aborted request) once it is read.
  copy.complete = true
  copy.push(body)
  copy.push(null)
  return copy
}

/**
 * The happy path of a few hot routes, straight from Node's request: a `GET` without a body is answered at once;
 * otherwise a JSON body of known length is read, parsed and handed to the route, whose answer is written at
 * once. Everything unusual (an `Origin` to answer for CORS, a browser's cross-site request without one, a
 * `Host` the server does not answer for, a missing or wrong token, another content type, a chunked or oversize
 * body, malformed JSON, a body the route's schema refuses) goes to the application, so every error keeps its
 * one shape.
 */
export const make = (options: LaneOptions): Lane => {
  const routes = new Map(options.routes.map((route) => [`${route.method} ${route.path}`, route]))
  const write = (response: Http.ServerResponse, answer: FastAnswer) => {
    response.writeHead(answer.status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(answer.json),
      ...options.headers
    })
    response.end(answer.json)
  }
  return (request, response) => {
    const route = routes.get(`${request.method} ${request.url}`)
    if (route === undefined) return false
    const headers = request.headers
    // The application refuses a browser's cross-site request that does not say its origin, unless it only
    // reads an open route: such requests are its to judge.
    const site = headers["sec-fetch-site"]
    if (
      headers.origin !== undefined || headers.expect !== undefined || site === "cross-site" || site === "same-site" ||
      !options.hostAllowed(headers.host) || !options.authorized(request)
    ) {
      return false
    }
    if (request.method === "GET") {
      if (headers["content-length"] !== undefined || headers["transfer-encoding"] !== undefined) return false
      const answer = route.answer(undefined)
      // A `GET` is answered now or not at all.
      if (answer === undefined || answer instanceof Promise) return false
      write(response, answer)
      return true
    }
    const contentType = headers["content-type"]
    const length = Number(headers["content-length"])
    if ((contentType !== undefined && contentType !== "application/json") || !(length > 0 && length <= options.maxBodyBytes)) {
      return false
    }
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    // The client left before its body arrived: nobody to answer.
    request.once("error", () => response.destroy())
    request.once("end", () => {
      const body = Buffer.concat(chunks)
      const settle = (answer: FastAnswer | undefined) =>
        answer === undefined ? options.fallback(replay(request, body), response) : write(response, answer)
      let answer: ReturnType<FastRoute["answer"]>
      try {
        answer = route.answer(JSON.parse(body.toString("utf8")))
      } catch {
        answer = undefined
      }
      if (answer instanceof Promise) answer.then(settle, () => settle(undefined))
      else settle(answer)
    })
    return true
  }
}
