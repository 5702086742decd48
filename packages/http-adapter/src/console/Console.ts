/**
 * Serves MaiKit's web console (`@maikit/console`) from a MaiKit server: its files under `/console/` (a path no
 * API family uses, so the console never shadows a route), every other `/console/...` path answered with
 * `index.html` for the console's own client-side routes, browsers sent there from `/`, and the console's small
 * API: `GET /api/console/info` (the server's families and routes, so that the console shows only what this
 * server serves) and `POST`/`DELETE /api/console/session` (sign-in and sign-out; the cookie's rules are core's `AccessToken`).
 * `MaikitServer` mounts it with the `console` option; these paths need no token (the sign-in page has to load).
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { Effect, FileSystem, Layer, Option, Path, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApi } from "effect/http-api"
import { AccessToken, MaikitVersion } from "@maikit/core/platform"
import type * as ApiFamily from "../ApiFamily.ts"
import * as ConsoleApi from "./ConsoleApi.ts"
import * as ConsoleAssets from "./ConsoleAssets.ts"

export interface Options {
  /** The built console. Default: the `dist/` of the installed `@maikit/console`. */
  readonly directory?: string | undefined
}

export const prefix = "/console"

/** Where browsers asking for `/` are sent. */
export const entry = `${prefix}/`

/** The console's paths, for the server's route table (a wrong method is then a 405). */
export const paths: ReadonlyArray<{ readonly method: string; readonly path: string }> = [
  { method: "GET", path: prefix },
  { method: "GET", path: `${prefix}/*` },
  { method: "GET", path: ConsoleApi.infoPath },
  { method: "POST", path: ConsoleApi.sessionPath },
  { method: "DELETE", path: ConsoleApi.sessionPath }
]

/** Paths served without the access token: the console's files and its sign-in. */
export const isPublic = (path: string): boolean =>
  path === prefix || path.startsWith(entry) || path === ConsoleApi.infoPath || path === ConsoleApi.sessionPath

/** What the console routes need from the server that mounts them. */
export interface Server {
  readonly title: string
  readonly families: ReadonlyArray<ApiFamily.ApiFamily<unknown>>
  readonly mounts: ReadonlyArray<{ readonly method: string; readonly path: string }>
  /** The server has an access token. */
  readonly tokenRequired: boolean
  /** Whether `token` is the server's access token (constant time). */
  readonly matches: (token: string) => boolean
  /** The token a request presents, the console's cookie included. */
  readonly presented: (request: HttpServerRequest.HttpServerRequest) => string | undefined
}

/** Every route of the families and mounts as `METHOD /path`. */
const routeList = (server: Server): ReadonlyArray<string> => {
  const found = new Set<string>()
  for (const family of server.families) {
    HttpApi.reflect(family.api, {
      onGroup: () => {},
      onEndpoint: ({ endpoint }) => {
        found.add(`${endpoint.method} ${endpoint.path}`)
      }
    })
  }
  for (const mount of server.mounts) found.add(`${mount.method} ${mount.path}`)
  return [...found].toSorted()
}

const failure = (status: number, detail: string) => HttpServerResponse.jsonUnsafe({ detail }, { status })

/** Whether the request reached this server over TLS (directly, or through a proxy that says so). */
const overTls = (request: HttpServerRequest.HttpServerRequest): boolean => {
  if (request.headers["x-forwarded-proto"] === "https") return true
  const source: unknown = request.source
  if (source === null || typeof source !== "object" || !("socket" in source)) return false
  const socket: unknown = NodeHttpServerRequest.toIncomingMessage(request).socket
  return typeof socket === "object" && socket !== null && "encrypted" in socket && socket.encrypted === true
}

const notBuilt = (title: string) =>
  HttpServerResponse.text(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.6">
<h1>MaiKit</h1>
<p>控制台尚未构建：在仓库中运行 <code>pnpm build</code>。API 文档见 <a href="/docs">/docs</a>。</p>
<p lang="en">The console has not been built: run <code>pnpm build</code> in the repository. The API documentation is at <a href="/docs">/docs</a>.</p>
</body></html>`, { status: 503, contentType: "text/html; charset=utf-8" })

const decoded = (path: string): string => {
  try {
    return decodeURIComponent(path)
  } catch {
    return path
  }
}

const decodeSession = Schema.decodeUnknownOption(Schema.fromJsonString(ConsoleApi.SessionRequest))

const signOut = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.sync(() =>
    AccessToken.isSameOrigin(request.headers)
      ? HttpServerResponse.jsonUnsafe({ signed_in: false }, {
        headers: { "set-cookie": AccessToken.clearCookie(request.headers["host"], overTls(request)) }
      })
      : failure(403, "Sign out from the console's own page")
  )

/** The console's routes. */
export const routes = (options: Options, server: Server): Layer.Layer<never, never, ApiFamily.ServerServices> =>
  HttpRouter.use((router) =>
    Effect.gen(function*() {
      const directory = options.directory ?? ConsoleAssets.defaultDirectory()
      // Read on the first request, not here: a Node server already listens while its routes are built, and a
      // request that arrives before they are is never answered, so building them does no I/O.
      const assets = yield* Effect.cached(
        Effect.gen(function*() {
          const loaded = directory === undefined
            ? Option.none<ConsoleAssets.Assets>()
            : yield* Effect.orElseSucceed(ConsoleAssets.load(directory), () => Option.none<ConsoleAssets.Assets>())
          if (Option.isNone(loaded)) {
            yield* Effect.logWarning(`web console: no build in ${directory ?? "@maikit/console (not installed)"}; run pnpm build`)
          }
          return loaded
        }).pipe(
          Effect.provideService(FileSystem.FileSystem, yield* FileSystem.FileSystem),
          Effect.provideService(Path.Path, yield* Path.Path)
        )
      )
      const allRoutes = routeList(server)
      const version = MaikitVersion.current.version

      const file = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.map(assets, (built) => {
          if (Option.isNone(built)) return notBuilt(server.title)
          const path = request.url.replace(/[?#].*$/, "")
          const name = path.length > entry.length ? decoded(path.slice(entry.length)) : ""
          const asset = name === "" ? built.value.index : built.value.get(name)
          if (asset !== undefined) return ConsoleAssets.respond(asset, request.headers)
          // A missing hashed file is a 404; any other path is one of the console's own routes.
          if (name.startsWith("assets/") || /\.[a-z0-9]+$/i.test(name)) return failure(404, "Not Found")
          return ConsoleAssets.respond(built.value.index, request.headers)
        })

      const signedIn = (request: HttpServerRequest.HttpServerRequest) => {
        if (!server.tokenRequired) return true
        const presented = server.presented(request)
        return presented !== undefined && server.matches(presented)
      }

      const info = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.sync(() => {
          const known = signedIn(request)
          const body: ConsoleApi.ConsoleInfo = {
            title: server.title,
            version,
            access: { required: server.tokenRequired, signed_in: known },
            families: known ? server.families.map((family) => family.name) : [],
            routes: known ? allRoutes : []
          }
          return HttpServerResponse.jsonUnsafe(body, { headers: { "cache-control": "no-store" } })
        })

      const signIn = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.gen(function*() {
          if (!AccessToken.isSameOrigin(request.headers)) return failure(403, "Sign in from the console's own page")
          const text = yield* Effect.orElseSucceed(request.text, () => "")
          const body = decodeSession(text)
          if (Option.isNone(body)) return failure(400, "Expected a JSON body {\"token\": string}")
          if (!server.tokenRequired) return HttpServerResponse.jsonUnsafe({ signed_in: true })
          if (!server.matches(body.value.token)) return failure(401, "Wrong access token")
          return HttpServerResponse.jsonUnsafe({ signed_in: true }, {
            headers: {
              "set-cookie": AccessToken.setCookie(request.headers["host"], body.value.token, overTls(request)),
              "cache-control": "no-store"
            }
          })
        })

      // `/console` itself matches too (the server ignores trailing slashes).
      yield* router.add("GET", `${prefix}/*`, file)
      yield* router.add("GET", ConsoleApi.infoPath, info)
      yield* router.add("POST", ConsoleApi.sessionPath, signIn)
      yield* router.add("DELETE", ConsoleApi.sessionPath, signOut)
    })
  )

/** What a browser asking for `/` gets: the console. */
export const home = HttpServerResponse.redirect(entry, { status: 302 })
