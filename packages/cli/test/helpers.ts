/** The `maikit` binary from source, as the CLI's tests run it, and a `maikit serve` to run it against. */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { freePort } from "../../core/test/helpers/mqtt.ts"

export const bin = Path.join(import.meta.dirname, "../src/bin.ts")

export interface Result {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

export type Env = Record<string, string | undefined>

export interface Options {
  readonly env?: Env | undefined
  readonly cwd?: string | undefined
  /** Sends Ctrl+C once this says so (asked every 100 ms). */
  readonly interrupt?: (() => boolean) | undefined
}

/** `maikit <args>` from source, without a terminal (plain progress lines); yields what it printed. */
export const maikit = (args: ReadonlyArray<string>, options: Options = {}) =>
  Effect.promise(() =>
    new Promise<Result>((resolve) => {
      const child = spawn(process.execPath, ["--conditions=source", bin, ...args], {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      const interrupt = options.interrupt
      const timer = interrupt === undefined ? undefined : setInterval(() => {
        if (!interrupt()) return
        clearInterval(timer)
        child.kill("SIGINT")
      }, 100)
      child.once("exit", (status) => {
        clearInterval(timer)
        resolve({ status, stdout, stderr })
      })
    })
  )

/** `maikit serve <args>` on a free port until the scope closes, once it answers; yields its URL, process and exit code. */
export const serve = (args: ReadonlyArray<string>, env: Env = process.env) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const port = yield* freePort()
      const child = spawn(process.execPath, ["--conditions=source", bin, "serve", "--port", String(port), ...args], {
        env,
        stdio: "ignore"
      })
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      const url = `http://127.0.0.1:${port}`
      yield* Effect.promise(async () => {
        for (let attempt = 0; attempt < 300; attempt++) {
          if (await fetch(`${url}/api/v1/system/health`).then(() => true, () => false)) return
          await new Promise((wait) => setTimeout(wait, 100))
        }
      })
      return { url, child, exited }
    }),
    (server) => Effect.sync(() => server.child.kill("SIGKILL"))
  )
