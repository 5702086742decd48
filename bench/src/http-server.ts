/**
 * MaiKit's HTTP stack versus bare `node:http` doing the same work, each route against the baseline in the same
 * run: the trivial route of each family as its server runs it (`GET /api/v1/system/health` and the control
 * plane's `GET /health` on `maikit serve`'s all-in-one server, the relay's `GET /api/health` on
 * `maikit light serve`'s; Node servers answer these three on the fast lane), the launcher's health on a bare
 * Effect `HttpApi` (the reference between the two), the control plane's `GET /info`, which has no fast route and
 * takes the application's whole request path, and a JSON POST that is decoded and validated. Servers alternate round by round; the ratio is candidate / baseline
 * of the median req/s. Settings: BENCH_SECONDS (default 10), BENCH_ROUNDS (default 3).
 */
import * as Path from "node:path"
import { format, here, load, median, printTable, rounds, seconds, startServer, type LoadResult, type RunningServer } from "./harness.ts"
import { instanceBody } from "./workload.ts"

const servers = {
  serve: Path.join(here, "servers/all-in-one.ts"),
  light: Path.join(here, "servers/light-relay.ts"),
  effect: Path.join(here, "servers/effect-http.ts"),
  maikit: Path.join(here, "servers/maikit-http.ts")
}

interface Route {
  readonly name: string
  readonly server: keyof typeof servers
  readonly path: string
  readonly method: "GET" | "POST"
  readonly body?: string
}

const routes: ReadonlyArray<Route> = [
  { name: "launcher GET /api/v1/system/health (maikit serve)", server: "serve", path: "/api/v1/system/health", method: "GET" },
  { name: "control plane GET /health (maikit serve)", server: "serve", path: "/health", method: "GET" },
  { name: "relay GET /api/health (maikit light serve)", server: "light", path: "/api/health", method: "GET" },
  { name: "bare Effect HttpApi GET /api/v1/system/health", server: "effect", path: "/api/v1/system/health", method: "GET" },
  // No fast route: the application's whole request path (middleware, router, handler, encoding).
  { name: "control plane GET /info (maikit serve, no fast route)", server: "serve", path: "/info", method: "GET" },
  { name: "POST JSON, decode + validate (launcher family)", server: "maikit", path: "/api/v1/bench/instances", method: "POST", body: instanceBody }
]

const rps = (results: ReadonlyArray<LoadResult>) => median(results.map((result) => result.requestsPerSecond))
const p99 = (results: ReadonlyArray<LoadResult>) => median(results.map((result) => result.p99))

const baseline = await startServer("bare", Path.join(here, "servers/bare-http.ts"))
const started = new Map<keyof typeof servers, RunningServer>()
const rows: Array<Array<string>> = []
try {
  for (const route of routes) {
    const candidate = started.get(route.server) ?? await startServer(route.server, servers[route.server])
    started.set(route.server, candidate)
    const runs: { candidate: Array<LoadResult>; bare: Array<LoadResult> } = { candidate: [], bare: [] }
    const hit = (server: RunningServer, secondsToRun: number) =>
      load({
        url: `http://127.0.0.1:${server.port}${route.path}`,
        method: route.method,
        seconds: secondsToRun,
        ...(route.body === undefined ? {} : { body: route.body })
      })
    await hit(candidate, 2)
    await hit(baseline, 2)
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [candidate, baseline] : [baseline, candidate]
      for (const server of order) {
        const result = await hit(server, seconds)
        if (result.non2xx > 0 || result.errors > 0) {
          throw new Error(`${server.name} answered ${result.non2xx} non-2xx and ${result.errors} errors on ${route.name}`)
        }
        runs[server === baseline ? "bare" : "candidate"].push(result)
      }
    }
    rows.push([
      route.name,
      format(rps(runs.candidate)),
      format(rps(runs.bare)),
      format(rps(runs.candidate) / rps(runs.bare), 2),
      `${format(p99(runs.candidate))} / ${format(p99(runs.bare))}`,
      `${format(candidate.rssMb())} / ${format(baseline.rssMb())}`
    ])
  }
} finally {
  for (const server of started.values()) await server.stop()
  await baseline.stop()
}

printTable(
  `HTTP: MaiKit vs bare node:http (${rounds} alternating rounds of ${seconds} s, 50 connections, median)`,
  ["route", "candidate req/s", "bare req/s", "ratio", "p99 ms (candidate / bare)", "RSS MB (candidate / bare)"],
  rows
)
