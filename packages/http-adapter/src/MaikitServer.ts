/**
 * Composes any set of API families into one HTTP application: their routes, one OpenAPI document at
 * `/openapi.json`, Swagger UI at `/docs` (assets bundled, so it works offline), a small home page at `/` (with
 * the `console` option, browsers get the web console instead), a `Host` allow-list and origin rules against
 * foreign web pages (`internal/browserPolicy.ts`), CORS for the allowed origins, a body size limit, an optional
 * access token, and error bodies in each family's own shape for everything that fails before a handler answers.
 * The same application can listen on its own
 * port (`layer`), or be mounted into a host's `node:http`, Express or Fastify server (`makeNodeHandler`,
 * `nodeHandler`) or any fetch-style runtime (`webHandler`). Node servers also answer the families' fast
 * routes (the relay's `POST /api/event`) before the application, for plain requests that succeed; every other
 * request, and every error, is the application's.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { ByteSize, Cause, Context, Effect, Exit, Layer, Option, Redacted, Schema, Scope } from "effect"
import {
  HttpIncomingMessage,
  HttpRouter,
  HttpServer,
  HttpServerRequest,
  HttpServerResponse
} from "effect/http"
import { HttpApi, type HttpApiGroup, HttpApiScalar, HttpApiSwagger, OpenApi } from "effect/http-api"
import { AccessToken, MaikitConfig, MaikitVersion } from "@maikit/core/platform"
import * as Http from "node:http"
import * as Https from "node:https"
import type { Duplex } from "node:stream"
import { WebSocketServer } from "ws"
import * as ApiFamily from "./ApiFamily.ts"
import * as BrowserPolicy from "./internal/browserPolicy.ts"
import * as Console from "./console/Console.ts"
import { classify } from "./internal/errorResponses.ts"
import * as FastLane from "./internal/fastLane.ts"
import { homePage } from "./internal/homePage.ts"
import { RouteTable } from "./internal/RouteTable.ts"
import { acceptUnknownFields } from "./internal/unknownFields.ts"

/**
 * Routes outside the families' `HttpApi`s (the launcher's WebSockets), served behind the same `Host` and origin
 * rules, CORS, token check and error shapes as the families.
 */
export interface Mount<R = never> {
  readonly routes: Layer.Layer<never, never, R | ApiFamily.ServerServices>
  /** Method and path of each route (find-my-way syntax), so that a wrong method is a 405, not a 404. */
  readonly paths: ReadonlyArray<{ readonly method: string; readonly path: string }>
  /**
   * Paths whose routes check the access token themselves: a WebSocket may take it in its first frame, since a
   * browser cannot set headers on one. The server lets requests for them through without a token.
   */
  readonly checksToken?: ((path: string) => boolean) | undefined
  /**
   * Runs when a listening server begins to stop, before it waits for open connections: long-lived ones
   * (WebSockets) say goodbye and close, so the wait ends (Node's `close` waits for upgraded sockets too).
   */
  readonly shutdown?: Effect.Effect<void> | undefined
}

export interface Options<Families extends ReadonlyArray<ApiFamily.ApiFamily<unknown>>, MountsR = never> {
  readonly families: Families
  readonly mounts?: ReadonlyArray<Mount<MountsR>>
  /** Largest accepted request body; larger ones get a 413 in the family's shape. Default 1 MiB. */
  readonly maxBodyBytes?: number
  /** When set, every route but the home page and the docs needs it (Bearer, `X-Maikit-Token` or `?token=`). */
  readonly accessToken?: Option.Option<Redacted.Redacted<string>>
  readonly title?: string
  /**
   * Whether Node servers answer the families' fast routes (the relay's `POST /api/event`) straight from the
   * request. Default true; false sends every request through the application.
   */
  readonly fastLane?: boolean
  /**
   * `Host` names answered beyond loopback (`localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`, always answered) and
   * the address `layer` listens on: `maikit.lan`, `.example.com` (with subdomains), `*.example.com`, `*` (any).
   * Others get 421. A server listening on a wildcard address (`0.0.0.0`, `::`) with an access token and no list
   * answers any name: the token is the gate. Hosts that mount MaiKit into their own server list their names here.
   */
  readonly allowedHosts?: ReadonlyArray<string> | undefined
  /**
   * Origins whose pages may call every route, with credentials: `https://console.example.com`, or
   * `http://localhost:*` for any port. Default `MaikitConfig.defaultAllowedOrigins` (loopback pages and the
   * launcher's Tauri shell); pages this server serves itself are always allowed. Browser requests from other
   * origins are refused with 403, except reads of public routes (the docs, and families with `openReads`).
   */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  /** The address the server listens on; set by `layer`, and by hosts that serve `routes` on their own listener. */
  readonly listenHost?: string | undefined
  /**
   * Serve the web console (`@maikit/console`) at `/console/`, and send browsers there from `/`. `true` serves the
   * installed build; `{ directory }` another one. Default off.
   */
  readonly console?: boolean | Console.Options | undefined
}

/** The services the families of `Options` need from the host. */
export type Requirements<Families extends ReadonlyArray<ApiFamily.ApiFamily<unknown>>> = ApiFamily.Requirements<
  Families[number]
>

/** The headers MaiLauncher's client sends on every request; allowed origins may send any other header too. */
export const clientHeaders = ["X-Client-Name", "X-Client-Version", "X-Request-Time"] as const

const bodyLimit = (options: { readonly maxBodyBytes?: number | undefined }) => options.maxBodyBytes ?? 1024 * 1024

/** The body limit for a whole server, so that the guard need not set it for every request. */
const serverBodyLimit = (options: { readonly maxBodyBytes?: number | undefined }) =>
  Layer.succeed(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(bodyLimit(options)))

const publicPaths = new Set(["/", "/docs", "/redoc", "/openapi.json"])

const withoutOrigin = { vary: "Origin" }

/** For a server without families (mounts only), which has no family's error shape to answer in. */
const plainError = (status: number, message: string) => HttpServerResponse.jsonUnsafe({ message }, { status })

const allowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

const isRead = (method: string) => method === "GET" || method === "HEAD"

/**
 * A request a browser sent from another site without saying from which origin: an image, a form's `GET`, a
 * link, a script (Fetch Metadata). Requests that say (`fetch`, XHR, forms that post, WebSockets) carry `Origin`.
 */
const isAnonymousCrossSite = (headers: Readonly<Record<string, string | undefined>>) => {
  const site = headers["sec-fetch-site"]
  return headers["origin"] === undefined && (site === "cross-site" || site === "same-site")
}

/** The server's `Host` and origin rules, built once; dies on an entry that is not a host name or an origin. */
const policyOf = (
  options: Pick<Options<ReadonlyArray<ApiFamily.ApiFamily<unknown>>>, "allowedHosts" | "allowedOrigins" | "listenHost" | "accessToken">
) =>
  Effect.map(
    Effect.orDie(Effect.all([
      Schema.decodeUnknownEffect(Schema.UndefinedOr(Schema.Array(MaikitConfig.AllowedHost)))(options.allowedHosts),
      Schema.decodeUnknownEffect(Schema.UndefinedOr(Schema.Array(MaikitConfig.AllowedOrigin)))(options.allowedOrigins)
    ])),
    ([allowedHosts, allowedOrigins]) =>
      BrowserPolicy.make({
        allowedHosts,
        allowedOrigins,
        boundHost: options.listenHost,
        hasToken: Option.isSome(options.accessToken ?? Option.none())
      })
  )

const accessTokenOf = (options: { readonly accessToken?: Option.Option<Redacted.Redacted<string>> | undefined }) =>
  Option.map(options.accessToken ?? Option.none(), Redacted.value)

/** The families' fast routes, built with their services; none when the options turn the lane off. */
const fastRoutesOf = <const Families extends ReadonlyArray<ApiFamily.ApiFamily<unknown>>, MountsR>(
  options: Options<Families, MountsR>
) =>
  options.fastLane === false
    ? Effect.succeed([])
    : Effect.map(
      Effect.forEach(options.families, (family) => family.fastRoutes ?? Effect.succeed([])),
      (routes) => routes.flat()
    ) as Effect.Effect<ReadonlyArray<ApiFamily.FastRoute>, never, Requirements<Families>>

const makeLane = <const Families extends ReadonlyArray<ApiFamily.ApiFamily<unknown>>, MountsR>(
  options: Options<Families, MountsR>,
  policy: BrowserPolicy.Policy,
  routes: ReadonlyArray<ApiFamily.FastRoute>,
  fallback: FastLane.LaneOptions["fallback"]
): FastLane.Lane | undefined => {
  if (routes.length === 0) return undefined
  const token = accessTokenOf(options)
  return FastLane.make({
    routes,
    maxBodyBytes: bodyLimit(options),
    hostAllowed: policy.hostAllowed,
    authorized: (request) => {
      if (Option.isNone(token)) return true
      const presented = AccessToken.presented(request.headers, request.url ?? "")
      return presented !== undefined && AccessToken.matches(presented, token.value)
    },
    headers: withoutOrigin,
    fallback
  })
}

/**
 * A Node server (HTTPS with `tls`) that offers each request to the lane before its `request` listeners (the
 * application). The lane sits in `emit`, not in a listener of its own, so that a request it answers never
 * reaches the application's listener at all; the instance's `emit` is replaced rather than subclassed so that
 * one definition covers both server classes.
 */
const laneServer = (
  tls: TlsOptions | undefined,
  makeLaneWith: (fallback: FastLane.LaneOptions["fallback"]) => FastLane.Lane | undefined
): Http.Server | Https.Server => {
  const server = tls === undefined ? Http.createServer() : Https.createServer({ cert: tls.cert, key: tls.key })
  const emit = server.emit.bind(server)
  const lane = makeLaneWith((request, response) => emit("request", request, response))
  if (lane === undefined) return server
  server.emit = ((event: string, ...args: Array<unknown>): boolean =>
    event === "request" && lane(args[0] as Http.IncomingMessage, args[1] as Http.ServerResponse)
      ? true
      : emit(event, ...args)) as typeof server.emit
  return server
}

const pathOf = (url: string) => {
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}

/**
 * FastAPI's three documents: Swagger UI, an API reference at `/redoc` and the OpenAPI document. FastAPI's
 * `/redoc` loads ReDoc from a CDN; MaiKit serves Scalar's reference there, bundled with Effect, so it works
 * offline like the rest.
 */
const docsRoutes = <Id extends string, Groups extends HttpApiGroup.Constraint>(api: HttpApi.HttpApi<Id, Groups>) =>
  Layer.mergeAll(
    onFirstRequest("/docs", () => HttpApiSwagger.layer(api, { path: "/docs" })),
    onFirstRequest("/redoc", () => HttpApiScalar.layer(api, { path: "/redoc" })),
    HttpRouter.add("GET", "/openapi.json", HttpServerResponse.jsonUnsafe(OpenApi.fromApi(api)))
  )

/**
 * `GET path`, served by the router `page` builds, built on the first request rather than with the server:
 * Swagger UI's and Scalar's bundled assets are megabytes of JavaScript that would otherwise delay every start.
 */
const onFirstRequest = (path: HttpRouter.PathInput, page: () => Layer.Layer<never, never, HttpRouter.HttpRouter>) =>
  HttpRouter.use((router) =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const handler = yield* Effect.cached(Scope.provide(HttpRouter.toHttpEffect(Layer.suspend(page)), scope))
      yield* router.add("GET", path, Effect.flatten(handler))
    })
  )

/** `/docs`, `/redoc` and `/openapi.json` describing all families as one API. */
const docs = (families: ReadonlyArray<ApiFamily.ApiFamily<unknown>>, title: string) => {
  const base = HttpApi.make("maikit").annotateMerge(OpenApi.annotations({
    title,
    version: MaikitVersion.current.version,
    description: "MaiKit: launcher, control plane and status relay for the MaiBot ecosystem. Request bodies may " +
      "carry fields beyond those documented (the original systems' clients send some): they are accepted and ignored.",
    transform: acceptUnknownFields
  }))
  const [first, ...rest] = families
  return first === undefined
    ? docsRoutes(base)
    : docsRoutes(rest.reduce((api, family) => api.addHttpApi(family.api), base.addHttpApi(first.api)))
}

/**
 * The application as router layers: the families' routes, the docs and the global middleware. Provide
 * `HttpRouter` (done by `layer`, `makeNodeHandler` and `webHandler`) and the families' own services.
 */
export const routes = <const Families extends ReadonlyArray<ApiFamily.ApiFamily<unknown>>, MountsR = never>(
  options: Options<Families, MountsR>
): Layer.Layer<never, never, ApiFamily.ServerServices | Requirements<Families> | MountsR> =>
  Layer.unwrap(Effect.map(policyOf(options), (policy) => routesWith(options, policy)))

const routesWith = <const Families extends ReadonlyArray<ApiFamily.ApiFamily<unknown>>, MountsR = never>(
  options: Options<Families, MountsR>,
  policy: BrowserPolicy.Policy
): Layer.Layer<never, never, ApiFamily.ServerServices | Requirements<Families> | MountsR> => {
  const families = options.families
  const mounts = options.mounts ?? []
  const limit = bodyLimit(options)
  const maxBodySize = ByteSize.bytes(limit)
  const token = accessTokenOf(options)
  const title = options.title ?? "MaiKit API"
  const console = options.console === true ? {} : options.console === false ? undefined : options.console
  const table = RouteTable.fromApis(families.map((family) => family.api), [
    { method: "GET", path: "/" },
    { method: "GET", path: "/docs" },
    { method: "GET", path: "/redoc" },
    { method: "GET", path: "/openapi.json" },
    ...mounts.flatMap((mount) => mount.paths),
    ...(console === undefined ? [] : Console.paths)
  ])
  const checksToken = (path: string) => mounts.some((mount) => mount.checksToken?.(path) === true)
  const fallback = families[0]?.errors
  const familyOf = (path: string) => families.find((family) => family.owns(path))
  const errorsFor = (path: string) => (familyOf(path) ?? families[0])?.errors

  /** A read of a route open to every origin: the docs, or a family with `openReads`; never a WebSocket. */
  const isOpenRead = (request: HttpServerRequest.HttpServerRequest, path: string) =>
    isRead(request.method) && request.headers["upgrade"] === undefined &&
    (publicPaths.has(path) || familyOf(path)?.openReads === true)

  /**
   * CORS for an answer: an allowed origin gets itself back with credentials, a foreign one reading an open route
   * gets `*` without credentials. Set in one `setHeaders`, because Effect's per-request header records and `Vary`
   * parsing are a measurable share of the hottest routes (the relay's `POST /api/event`).
   */
  const withCors = (
    request: HttpServerRequest.HttpServerRequest,
    response: HttpServerResponse.HttpServerResponse
  ): HttpServerResponse.HttpServerResponse => {
    const origin = request.headers["origin"]
    const vary = response.headers["vary"]
    const headers = origin === undefined
      ? withoutOrigin
      : policy.originAllowed(origin, request.headers["host"])
      ? { "access-control-allow-origin": origin, vary: "Origin", "access-control-allow-credentials": "true" }
      : isOpenRead(request, pathOf(request.url))
      ? { "access-control-allow-origin": "*", vary: "Origin" }
      : withoutOrigin
    if (vary === undefined) return HttpServerResponse.setHeaders(response, headers)
    const varies = vary.split(",").some((name) => name.trim().toLowerCase() === "origin" || name.trim() === "*")
    return HttpServerResponse.setHeaders(response, { ...headers, vary: varies ? vary : `${vary}, Origin` })
  }

  /** A `Host` this server does not answer for; a server with mounts only answers in a plain shape. */
  const misdirected = (request: HttpServerRequest.HttpServerRequest, path: string) => {
    const host = request.headers["host"]
    if (policy.hostAllowed(host)) return undefined
    const errors = errorsFor(path)
    return errors === undefined ? plainError(421, `this server does not answer for host ${host}`) : errors.misdirected(host ?? "")
  }

  const forbidden = (path: string, reason: string) => {
    const errors = errorsFor(path)
    return HttpServerResponse.setHeaders(errors === undefined ? plainError(403, reason) : errors.forbidden(reason), withoutOrigin)
  }

  /** A browser request from a page that may not make it. */
  const foreign = (request: HttpServerRequest.HttpServerRequest, path: string) => {
    const origin = request.headers["origin"]
    if (origin !== undefined && !policy.originAllowed(origin, request.headers["host"]) && !isOpenRead(request, path)) {
      return forbidden(path, `pages of ${origin} may not use this server`)
    }
    if (isAnonymousCrossSite(request.headers) && !isOpenRead(request, path)) {
      return forbidden(path, "a cross-site request must come from an allowed origin")
    }
    return undefined
  }

  /**
   * The router ends a path at `;` (for `/page;jsessionid=…`), so `/api/mqtt/2;drop` would address config 2. No
   * MaiKit route has a `;` in its path: such a request is refused rather than read as another one.
   */
  const ambiguous = (path: string) =>
    path.includes(";")
      ? errorsFor(path)?.invalidRequest([{ loc: ["path"], msg: "a path may not contain ';'", type: "value_error" }]) ??
        plainError(400, "a path may not contain ';'")
      : undefined

  /**
   * A CORS preflight: allowed origins may send any method and the headers they ask for (the launcher's client
   * asks for `Content-Type` and its `X-Client-*` headers); any origin may read an open route; others are refused.
   */
  const preflight = (request: HttpServerRequest.HttpServerRequest, path: string): HttpServerResponse.HttpServerResponse => {
    const origin = request.headers["origin"]
    if (origin === undefined) return HttpServerResponse.empty({ status: 204, headers: withoutOrigin })
    const method = (request.headers["access-control-request-method"] ?? "").toUpperCase()
    const requested = request.headers["access-control-request-headers"]
    const common = {
      vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
      "access-control-max-age": "600",
      ...(requested === undefined ? {} : { "access-control-allow-headers": requested })
    }
    if (policy.originAllowed(origin, request.headers["host"])) {
      return HttpServerResponse.empty({
        status: 204,
        headers: {
          ...common,
          "access-control-allow-origin": origin,
          "access-control-allow-credentials": "true",
          "access-control-allow-methods": allowedMethods
        }
      })
    }
    if (isRead(method) && (publicPaths.has(path) || familyOf(path)?.openReads === true)) {
      return HttpServerResponse.empty({
        status: 204,
        headers: { ...common, "access-control-allow-origin": "*", "access-control-allow-methods": "GET, HEAD" }
      })
    }
    return forbidden(path, `pages of ${origin} may not use this server`)
  }

  const shapeFailure = (request: HttpServerRequest.HttpServerRequest, cause: Cause.Cause<unknown>) =>
    Effect.gen(function*() {
      const errors = errorsFor(pathOf(request.url)) ?? fallback
      // An interrupted request (the client left, or the server is stopping) has nobody to answer.
      if (errors === undefined || Cause.hasInterruptsOnly(cause)) return yield* Effect.failCause(cause)
      const failure = classify(cause)
      switch (failure._tag) {
        case "RouteNotFound": {
          const allowed = table.allowedMethods(pathOf(request.url))
          return allowed.length > 0 ? errors.methodNotAllowed(allowed) : ApiFamily.respond(errors.notFound)
        }
        case "InvalidRequest":
          return errors.invalidRequest(failure.issues)
        case "PayloadTooLarge":
          return errors.payloadTooLarge(limit)
        case "Unexpected":
          yield* Effect.logError("request failed", failure.cause)
          return ApiFamily.respond(errors.internalError)
      }
    })

  /** Effect's `HttpApi` answers a body of a content type the route does not read with a plain-text 415. */
  const shapeAnswer = (request: HttpServerRequest.HttpServerRequest, response: HttpServerResponse.HttpServerResponse) => {
    if (response.status !== 415) return response
    const errors = errorsFor(pathOf(request.url)) ?? fallback
    return errors === undefined ? response : errors.unsupportedMediaType(request.headers["content-type"] ?? "(none)")
  }

  const unauthorized = (request: HttpServerRequest.HttpServerRequest, path: string) => {
    if (Option.isNone(token) || publicPaths.has(path) || checksToken(path)) return undefined
    if (console !== undefined && Console.isPublic(path)) return undefined
    const presented = AccessToken.presented(request.headers, request.url)
    if (presented !== undefined && AccessToken.matches(presented, token.value)) return undefined
    const errors = errorsFor(path) ?? fallback
    return errors === undefined ? undefined : withCors(request, ApiFamily.respond(errors.unauthorized))
  }

  const guarded = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) => {
    // Built once; a request only picks one of them.
    const answer = (inner: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
      inner.pipe(
        Effect.catchCause((cause) => HttpServerRequest.HttpServerRequest.use((request) => shapeFailure(request, cause))),
        Effect.flatMap((response) =>
          HttpServerRequest.HttpServerRequest.useSync((request) => withCors(request, shapeAnswer(request, response)))
        )
      )
    const answerWithinLimit = answer(app)
    const answerLimited = answer(Effect.provideService(app, HttpIncomingMessage.MaxBodySize, maxBodySize))
    return Effect.withFiber((fiber) => {
      const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
      const path = pathOf(request.url)
      const wrongHost = misdirected(request, path)
      if (wrongHost !== undefined) return Effect.succeed(wrongHost)
      if (request.method === "OPTIONS") return Effect.succeed(preflight(request, path))
      const refused = foreign(request, path)
      if (refused !== undefined) return Effect.succeed(refused)
      const unreadable = ambiguous(path)
      if (unreadable !== undefined) return Effect.succeed(withCors(request, unreadable))
      const missingToken = unauthorized(request, path)
      if (missingToken !== undefined) return Effect.succeed(missingToken)
      // `layer` and `makeNodeHandlers` set the limit for the whole server; elsewhere (`webHandler`, a host
      // serving `routes` itself) it is set here for the request.
      return fiber.getRef(HttpIncomingMessage.MaxBodySize) === maxBodySize ? answerWithinLimit : answerLimited
    })
  }

  const middleware = HttpRouter.middleware(guarded, { global: true })

  const page = HttpServerResponse.html(homePage(title, families.map((f) => f.name)))
  const root = families.find((family) => family.root !== undefined)?.root
  // Browsers ask for HTML and get the console (or the home page); API clients get the JSON of the family that
  // claims `/`, or the home page when none does.
  const browserPage = console === undefined ? page : Console.home
  const home = HttpRouter.add(
    "GET",
    "/",
    root === undefined && console === undefined
      ? page
      : HttpServerRequest.HttpServerRequest.use((request) =>
        (request.headers["accept"] ?? "").includes("text/html") ? Effect.succeed(browserPage) : root ?? Effect.succeed(page)
      )
  )

  return Layer.mergeAll(
    home,
    docs(families, title),
    middleware,
    ...families.map((family) => family.routes),
    ...mounts.map((mount) => mount.routes),
    ...(console === undefined ? [] : [Console.routes(console, {
      title,
      families,
      mounts: mounts.flatMap((mount) => mount.paths),
      tokenRequired: Option.isSome(token),
      matches: (presented) => Option.isSome(token) && AccessToken.matches(presented, token.value),
      presented: (request) => AccessToken.presented(request.headers, request.url)
    })])
  ) as Layer.Layer<never, never, ApiFamily.ServerServices | Requirements<Families> | MountsR>
}

/** A certificate and its private key, in PEM. */
export interface TlsOptions {
  readonly cert: string
  readonly key: string
}

export interface ListenOptions {
  readonly host: string
  readonly port: number
  /** Serves HTTPS with this certificate instead of HTTP. */
  readonly tls?: TlsOptions | undefined
  /**
   * Largest WebSocket message the server reads at all (a bigger one closes the socket with 1009); routes apply
   * their own, smaller limits below it. Default 1 MiB (the `ws` default, 100 MiB, would be buffered first).
   */
  readonly maxWebSocketMessageBytes?: number
  /**
   * How long a stopping server lets open requests finish before it closes their connections: a request that
   * never ends by itself (an SSE stream) would otherwise hold the stop until its client leaves. Default 2000 ms.
   */
  readonly shutdownGraceMs?: number
}

/**
 * Serves the application on its own `node:http` server; the listener closes with the layer's scope. The
 * `HttpServer` stays in the output so a caller that asked for port 0 can read the address.
 */
export const layer = <const Families extends ReadonlyArray<ApiFamily.ApiFamily<unknown>>, MountsR = never>(
  options: Options<Families, MountsR> & ListenOptions
) => {
  const listening = { ...options, listenHost: options.listenHost ?? options.host }
  return Layer.unwrap(Effect.gen(function*() {
    const policy = yield* policyOf(listening)
    const fastRoutes = yield* fastRoutesOf(listening)
    let node: Http.Server | Https.Server | undefined
    const server = HttpRouter.serve(routesWith(listening, policy), {
      disableLogger: true,
      disableListenLog: true,
      routerConfig: { ignoreTrailingSlash: true }
    }).pipe(
      Layer.provide(serverBodyLimit(options)),
      Layer.provideMerge(NodeHttpServer.layer(
        () => (node = laneServer(options.tls, (fallback) => makeLane(listening, policy, fastRoutes, fallback))),
        {
          host: options.host,
          port: options.port,
          websocket: { maxPayload: options.maxWebSocketMessageBytes ?? 1024 * 1024 }
        }
      ))
    )
    // Built after the server, so that its finalizer runs first: the server's own waits for connections to end.
    const goodbye = Layer.effectDiscard(Effect.addFinalizer(() =>
      Effect.andThen(
        Effect.forEach(options.mounts ?? [], (mount) => mount.shutdown ?? Effect.void, { discard: true }),
        Effect.sync(() => {
          const stopping = node
          if (stopping === undefined) return
          const timer = setTimeout(() => stopping.closeAllConnections(), options.shutdownGraceMs ?? 2_000).unref()
          stopping.once("close", () => clearTimeout(timer))
        })
      )
    ))
    return goodbye.pipe(Layer.provideMerge(server))
  }))
}

/** What a host's own `node:http` server hands to MaiKit. */
export interface NodeHandlers {
  /** For the server's `request` event (also Express middleware, or Fastify after `reply.hijack()`). */
  readonly request: Http.RequestListener
  /** For the server's `upgrade` event: the mounts' WebSockets (the launcher's terminals and logs). */
  readonly upgrade: (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => void
}

/**
 * Node listeners for a host's own server. The application lives in `scope`; closing it says goodbye to open
 * WebSockets (the mounts' `shutdown`) and releases the rest.
 */
export const makeNodeHandlers = <
  const Families extends ReadonlyArray<ApiFamily.ApiFamily<unknown>>,
  MountsR = never
>(
  options: Options<Families, MountsR> & Pick<ListenOptions, "maxWebSocketMessageBytes">
): Effect.Effect<NodeHandlers, never, Scope.Scope | Requirements<Families> | MountsR> =>
  Effect.gen(function*() {
    const scope = yield* Scope.Scope
    const policy = yield* policyOf(options)
    const app = yield* HttpRouter.toHttpEffect(
      routesWith(options, policy).pipe(Layer.provide(NodeHttpServer.layerHttpServices))
    )
    const limit = ByteSize.bytes(bodyLimit(options))
    const application = yield* NodeHttpServer.makeHandler(app, { scope }).pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, limit)
    )
    const lane = makeLane(options, policy, yield* fastRoutesOf(options), application)
    const request: Http.RequestListener = lane === undefined ? application : (incoming, response) => {
      if (!lane(incoming, response)) application(incoming, response)
    }
    const webSockets = yield* Effect.acquireRelease(
      Effect.sync(() => new WebSocketServer({ noServer: true, maxPayload: options.maxWebSocketMessageBytes ?? 1024 * 1024 })),
      (server) => Effect.callback<void>((resume) => server.close(() => resume(Effect.void)))
    )
    const upgrade = yield* NodeHttpServer.makeUpgradeHandler(Effect.succeed(webSockets), app, { scope }).pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, limit)
    )
    // Added last, so it runs first: sessions close with a goodbye before their sockets are torn down.
    yield* Effect.addFinalizer(() =>
      Effect.forEach(options.mounts ?? [], (mount) => mount.shutdown ?? Effect.void, { discard: true })
    )
    return { request, upgrade }
  }) as Effect.Effect<NodeHandlers, never, Scope.Scope | Requirements<Families> | MountsR>

/**
 * A Node `request` listener for a host's own server. The application lives in `scope`; close the scope to
 * release it. Express: `app.use(handler)`; Fastify: `reply.hijack(); handler(req.raw, reply.raw)`. Mounted
 * WebSockets need the server's `upgrade` event too: use `makeNodeHandlers`.
 */
export const makeNodeHandler = <const Families extends ReadonlyArray<ApiFamily.ApiFamily<unknown>>, MountsR = never>(
  options: Options<Families, MountsR>
): Effect.Effect<Http.RequestListener, never, Scope.Scope | Requirements<Families> | MountsR> =>
  Effect.map(makeNodeHandlers(options), (handlers) => handlers.request)

/**
 * `makeNodeHandlers` for hosts that do not use Effect: builds `services` and the application, and returns the
 * listeners (`handler` for `request`, `upgrade` for `upgrade`) with a `dispose` that releases both.
 */
export const nodeHandler = async <const Families extends ReadonlyArray<ApiFamily.ApiFamily<unknown>>, E, MountsR = never>(
  options: Options<Families, MountsR> & Pick<ListenOptions, "maxWebSocketMessageBytes">,
  services: Layer.Layer<Requirements<Families> | MountsR, E>
): Promise<{
  readonly handler: Http.RequestListener
  readonly upgrade: NodeHandlers["upgrade"]
  readonly dispose: () => Promise<void>
}> => {
  const scope = Effect.runSync(Scope.make())
  const dispose = () => Effect.runPromise(Scope.close(scope, Exit.void))
  const handlers = await Effect.runPromise(
    Layer.buildWithScope(services, scope).pipe(
      Effect.flatMap((context) => makeNodeHandlers(options).pipe(Effect.provideContext(context))),
      Scope.provide(scope)
    )
  ).catch(async (error: unknown) => {
    await dispose()
    throw error
  })
  return { handler: handlers.request, upgrade: handlers.upgrade, dispose }
}

/** A fetch-style `(Request) => Promise<Response>` handler and its `dispose`, for non-Node runtimes and tests. */
export const webHandler = <const Families extends ReadonlyArray<ApiFamily.ApiFamily<unknown>>, E>(
  options: Options<Families>,
  services: Layer.Layer<Requirements<Families>, E>
) =>
  HttpRouter.toWebHandler(
    routes(options).pipe(Layer.provide(Layer.merge(services, HttpServer.layerServices))),
    { disableLogger: true, routerConfig: { ignoreTrailingSlash: true } }
  )
