/**
 * MaiKit's HTTP stack versus bare `node:http` doing the same work: `GET /api/v1/system/health` and a JSON
 * POST that is decoded and validated. Servers alternate round by round; the ratio is candidate / baseline of
 * the median req/s. Settings: BENCH_SECONDS (default 10), BENCH_ROUNDS (default 3).
 */
import * as Path from "node:path"
import { format, here, load, median, printTable, rounds, seconds, startServer, type LoadResult } from "./harness.ts"
import { instanceBody } from "./workload.ts"

const routes = [
  { name: "GET /api/v1/system/health", path: "/api/v1/system/health", method: "GET" as const },
  { name: "POST JSON (decode + validate)", path: "/api/v1/bench/instances", method: "POST" as const, body: instanceBody }
]

const candidate = await startServer("maikit", Path.join(here, "servers/maikit-http.ts"))
const baseline = await startServer("bare", Path.join(here, "servers/bare-http.ts"))

const rps = (results: ReadonlyArray<LoadResult>) => median(results.map((result) => result.requestsPerSecond))
const p99 = (results: ReadonlyArray<LoadResult>) => median(results.map((result) => result.p99))

const rows: Array<Array<string>> = []
try {
  for (const route of routes) {
    const runs: Record<"maikit" | "bare", Array<LoadResult>> = { maikit: [], bare: [] }
    const hit = (port: number, secondsToRun: number) =>
      load({
        url: `http://127.0.0.1:${port}${route.path}`,
        method: route.method,
        seconds: secondsToRun,
        ...(route.body === undefined ? {} : { body: route.body })
      })
    await hit(candidate.port, 2)
    await hit(baseline.port, 2)
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [candidate, baseline] : [baseline, candidate]
      for (const server of order) {
        const result = await hit(server.port, seconds)
        if (result.non2xx > 0 || result.errors > 0) {
          throw new Error(`${server.name} answered ${result.non2xx} non-2xx and ${result.errors} errors on ${route.name}`)
        }
        runs[server.name as "maikit" | "bare"].push(result)
      }
    }
    rows.push([
      route.name,
      format(rps(runs.maikit)),
      format(rps(runs.bare)),
      format(rps(runs.maikit) / rps(runs.bare), 2),
      `${format(p99(runs.maikit))} / ${format(p99(runs.bare))}`,
      `${format(candidate.rssMb())} / ${format(baseline.rssMb())}`
    ])
  }
} finally {
  await candidate.stop()
  await baseline.stop()
}

printTable(
  `HTTP: MaiKit vs bare node:http (${rounds} alternating rounds of ${seconds} s, 50 connections, median)`,
  ["route", "MaiKit req/s", "bare req/s", "ratio", "p99 ms (MaiKit / bare)", "RSS MB (MaiKit / bare)"],
  rows
)
