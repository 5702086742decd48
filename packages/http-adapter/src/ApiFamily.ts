/**
 * An API family is one of MaiKit's three HTTP conventions (launcher, control plane, status relay): its
 * `HttpApi` definition, the layer that registers its handlers on an `HttpRouter`, the paths it answers, and
 * how it shapes the errors that happen before a handler runs (bad body, unknown route, wrong method,
 * oversize body, missing token, a foreign `Host` or `Origin`). `MaikitServer` composes any set of families into one server.
 */
import { Context, Effect, type FileSystem, Layer, type Path, type Scope } from "effect"
import type { Etag, HttpPlatform, HttpRouter, HttpServerResponse } from "effect/http"
import { type HttpApi, HttpApiBuilder, type HttpApiGroup } from "effect/http-api"

/** One problem with a request, in the shape most clients understand (and Pydantic's field names). */
export interface RequestIssue {
  /** Where: `["body", "port"]`, `["path", "id"]`, `["query", "limit"]`. */
  readonly loc: ReadonlyArray<string | number>
  readonly msg: string
  readonly type: string
  readonly input?: unknown
}

export type RequestPart = "body" | "path" | "query" | "header"

/** A fixed response, or one made per request (for bodies that carry a timestamp or a request id). */
export type ErrorResponse = HttpServerResponse.HttpServerResponse | (() => HttpServerResponse.HttpServerResponse)

export const respond = (response: ErrorResponse): HttpServerResponse.HttpServerResponse =>
  typeof response === "function" ? response() : response

export interface ErrorShape {
  /** The body could not be parsed or did not match the endpoint's schema. */
  readonly invalidRequest: (issues: ReadonlyArray<RequestIssue>) => HttpServerResponse.HttpServerResponse
  readonly notFound: ErrorResponse
  readonly methodNotAllowed: (allowed: ReadonlyArray<string>) => HttpServerResponse.HttpServerResponse
  readonly payloadTooLarge: (limitBytes: number) => HttpServerResponse.HttpServerResponse
  /** The body's content type is not one the route reads (they read `application/json`). */
  readonly unsupportedMediaType: (contentType: string) => HttpServerResponse.HttpServerResponse
  readonly unauthorized: ErrorResponse
  /** 421: the `Host` header names a server this one is not (a DNS-rebinding page, or a missing `allowedHosts`). */
  readonly misdirected: (host: string) => HttpServerResponse.HttpServerResponse
  /** 403: a browser request from a page whose origin may not use this route. */
  readonly forbidden: (reason: string) => HttpServerResponse.HttpServerResponse
  /** A defect: answered without internals, which are logged instead. */
  readonly internalError: ErrorResponse
}

/** What every MaiKit server provides to the families it hosts. */
export type ServerServices =
  | HttpRouter.HttpRouter
  | Etag.Generator
  | HttpPlatform.HttpPlatform
  | FileSystem.FileSystem
  | Path.Path

export interface ApiFamily<R = never> {
  readonly name: string
  readonly api: HttpApi.Top
  /** Registers the family's routes; built by `HttpApiBuilder.layer(api)` with the handlers provided. */
  readonly routes: Layer.Layer<never, never, R | ServerServices>
  /** Whether this family answers for a path: decides whose error shape an unmatched request gets. */
  readonly owns: (path: string) => boolean
  readonly errors: ErrorShape
  /**
   * What the family answers at `/` for clients that do not ask for HTML (browsers get the server's home
   * page). The first family in a server that has one claims `/`.
   */
  readonly root?: Effect.Effect<HttpServerResponse.HttpServerResponse> | undefined
  /** Built once per server, with the family's services; Node servers answer these first. */
  readonly fastRoutes?: Effect.Effect<ReadonlyArray<FastRoute>, never, R> | undefined
  /**
   * Whether pages of any origin may read the family's routes (`GET`, `HEAD`): the answer then allows every
   * origin without credentials (`Access-Control-Allow-Origin: *`). Its other methods keep the server's origin
   * rules. For routes that only report, like the relay's status for light dashboards.
   */
  readonly openReads?: boolean | undefined
}

/** A fast route's answer: a status and its JSON body. */
export interface FastAnswer {
  readonly status: number
  readonly json: string
}

/**
 * A hot route's happy path, answered by a Node server straight from the request, without the application's
 * per-request work. The server hands it the parsed JSON body of a plain request (no `Origin`, the right
 * token, `application/json`, a known length within the limit), or `undefined` for a `GET` without a body; it
 * returns the answer, or `undefined` to let the family's own route answer, which every error and unusual
 * request gets anyway. A `POST` route may answer later (a promise), for work that sometimes waits (a database
 * read); it may decline then too, if what it did can be done again. The answer must be the one the family's
 * route gives: side-by-side tests of a server with and without the lane keep the two honest.
 */
export interface FastRoute {
  readonly method: "GET" | "POST"
  /** The exact request target: a query string or a trailing slash goes to the family's own route. */
  readonly path: string
  readonly answer: (body: unknown) => FastAnswer | undefined | Promise<FastAnswer | undefined>
}

/** The services a set of families needs from the host, beyond what the server provides. */
export type Requirements<F> = F extends ApiFamily<infer R> ? Exclude<R, ServerServices> : never

/**
 * Builds a family. `HttpApi` is invariant in its groups, so families with different APIs cannot share one
 * element type; the API is widened here, once, for the uses that only read it (docs, the route table).
 */
export const make = <Id extends string, Groups extends HttpApiGroup.Constraint, R>(options: {
  readonly name: string
  readonly api: HttpApi.HttpApi<Id, Groups>
  readonly routes: Layer.Layer<never, never, R | ServerServices>
  readonly owns: (path: string) => boolean
  readonly errors: ErrorShape
  readonly root?: Effect.Effect<HttpServerResponse.HttpServerResponse> | undefined
  readonly fastRoutes?: Effect.Effect<ReadonlyArray<FastRoute>, never, R> | undefined
  readonly openReads?: boolean | undefined
}): ApiFamily<R> => ({ ...options, api: options.api as unknown as HttpApi.Top })

/**
 * `HttpApiBuilder.group` for a family's handlers, built so that a request does not pay for the size of the
 * server. `HttpApiBuilder.group` keeps the context its layer was built in and merges it into the context of
 * every request of the group: two copies of every service the host provides, per request (in `maikit serve`,
 * with about thirty, a third of a trivial route's CPU and most of its garbage). Here the group's layer is built
 * in an empty context and only `build` sees the host's services, so handlers take what they need from them once,
 * when they are built, as every family does; at request time they run in the server's own context, which holds
 * the same services (they are the family's requirements) and the request.
 */
export const group = <
  ApiId extends string,
  Groups extends HttpApiGroup.Constraint,
  const Name extends HttpApiGroup.Identifier<Groups>,
  Return
>(
  api: HttpApi.HttpApi<ApiId, Groups>,
  name: Name,
  build: (
    handlers: HttpApiBuilder.Handlers.FromGroup<HttpApiGroup.WithIdentifier<Groups, Name>>
  ) => HttpApiBuilder.Handlers.ValidateReturn<Return>
): Layer.Layer<
  HttpApiGroup.Service<ApiId, Name>,
  HttpApiBuilder.Handlers.Error<Return>,
  Exclude<HttpApiBuilder.Handlers.Context<Return>, Scope.Scope>
> =>
  Layer.unwrap(Effect.map(Effect.context<never>(), (services) => {
    const built = HttpApiBuilder.group(api, name, (handlers) => {
      const result: unknown = build(handlers)
      return (Effect.isEffect(result) ? Effect.provideContext(result, services) : result) as HttpApiBuilder.Handlers.ValidateReturn<Return>
    })
    return Layer.fromBuild((memoMap, scope) => Effect.updateContext(buildOwn(built, memoMap, scope), () => Context.empty()))
  }))

/**
 * A layer's own build step, which every layer has at run time and Effect's declarations mark internal:
 * `Layer.buildWithMemoMap` would add the memo map to the context, and the group would keep it. What the group
 * layer requires is what its handlers need at request time; building it needs nothing once `build` has the
 * host's services, hence `never`.
 */
const buildOwn = <ROut, E>(layer: Layer.Layer<ROut, E, unknown>, memoMap: Layer.MemoMap, scope: Scope.Scope) =>
  (layer as unknown as {
    readonly build: (memoMap: Layer.MemoMap, scope: Scope.Scope) => Effect.Effect<Context.Context<ROut>, E>
  }).build(memoMap, scope)
