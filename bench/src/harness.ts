/**
 * Shared benchmark plumbing: servers run in their own processes (so the load generator never shares their
 * event loop), load comes from autocannon on loopback, candidate and baseline alternate round by round, and
 * every result is printed as candidate / baseline / ratio from the same run.
 */
import autocannon from "autocannon"
import { spawn, type ChildProcess } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export const here = Path.dirname(fileURLToPath(import.meta.url))

export interface RunningServer {
  readonly name: string
  readonly port: number
  readonly process: ChildProcess
  readonly rssMb: () => number
  readonly stop: () => Promise<void>
}

/** Starts `script` under this Node with the `source` condition and waits for its `READY <port>` line. */
export const startServer = (name: string, script: string, env: Record<string, string> = {}) =>
  new Promise<RunningServer>((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=source", script], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"]
    })
    let buffered = ""
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s`)), 30_000)
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code} before it was ready`)))
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const match = /READY (\d+)/.exec(buffered)
      if (match === null) return
      clearTimeout(timer)
      child.stdout?.removeAllListeners("data")
      child.stdout?.resume()
      resolve({
        name,
        port: Number(match[1]),
        process: child,
        rssMb: () => {
          const status = Fs.readFileSync(`/proc/${child.pid}/status`, "utf8")
          return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
        },
        stop: () =>
          new Promise<void>((done) => {
            child.removeAllListeners("exit")
            child.once("exit", () => done())
            child.kill("SIGTERM")
          })
      })
    })
  })

export interface LoadResult {
  readonly requestsPerSecond: number
  readonly p50: number
  readonly p99: number
  readonly non2xx: number
  readonly errors: number
  /** Requests answered with a 2xx. */
  readonly ok: number
}

export interface LoadOptions {
  readonly url: string
  readonly method?: "GET" | "POST"
  readonly body?: string
  readonly connections?: number
  readonly seconds: number
}

export const load = async (options: LoadOptions): Promise<LoadResult> => {
  const result = await autocannon({
    url: options.url,
    method: options.method ?? "GET",
    connections: options.connections ?? 50,
    duration: options.seconds,
    ...(options.body === undefined
      ? {}
      : { body: options.body, headers: { "content-type": "application/json" } })
  })
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    ok: result["2xx"]
  }
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = values.toSorted((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

export const seconds = Number(process.env["BENCH_SECONDS"] ?? 10)
export const rounds = Number(process.env["BENCH_ROUNDS"] ?? 3)

export const printTable = (title: string, header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`
  console.log(`\n## ${title}\n`)
  console.log(line(header))
  console.log(`|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`)
  for (const row of rows) console.log(line(row))
}

export const format = (value: number, digits = 0) =>
  value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
