import { HttpApi } from "effect/http-api"

interface Route {
  readonly method: string
  readonly pattern: RegExp
}

const escape = (text: string) => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&")

/** A find-my-way path (`/a/:id/b`, `/files/*`) as an anchored regular expression. */
const compile = (path: string): RegExp => {
  const body = path.split("/").map((segment) =>
    segment === "*" ? ".*" : segment.startsWith(":") ? "[^/]+" : escape(segment)
  ).join("/")
  return new RegExp(`^${body}/?$`)
}

/**
 * Which methods a path answers to, across every family. The router only says "no route"; this tells a
 * wrong method (405, with `Allow`) from an unknown path (404).
 */
export class RouteTable {
  private readonly routes: ReadonlyArray<Route>

  private constructor(routes: ReadonlyArray<Route>) {
    this.routes = routes
  }

  static fromApis(
    apis: ReadonlyArray<HttpApi.Top>,
    extra: ReadonlyArray<{ readonly method: string; readonly path: string }>
  ): RouteTable {
    const routes: Array<Route> = extra.map((route) => ({ method: route.method, pattern: compile(route.path) }))
    for (const api of apis) {
      HttpApi.reflect(api, {
        onGroup: () => {},
        onEndpoint: ({ endpoint }) => {
          routes.push({ method: endpoint.method, pattern: compile(endpoint.path) })
        }
      })
    }
    return new RouteTable(routes)
  }

  allowedMethods(path: string): ReadonlyArray<string> {
    const methods = new Set<string>()
    for (const route of this.routes) {
      if (route.pattern.test(path)) methods.add(route.method)
    }
    if (methods.has("GET")) methods.add("HEAD")
    return [...methods]
  }
}
