/**
 * The real `maikit serve`, run from source in its own process on a free loopback port, for tests that kill it
 * (SIGKILL, SIGTERM, SIGINT) and start it again on the same data folder.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import * as Path from "node:path"

export const bin = Path.join(import.meta.dirname, "..", "..", "src", "bin.ts")

export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

export interface Server {
  readonly url: string
  readonly child: ChildProcess
  /** Resolves with the exit code, or the signal's name when a signal ended it. */
  readonly exited: Promise<number | string | null>
  /** Everything the server printed so far. */
  readonly output: () => string
}

/**
 * Starts `maikit serve --data-dir dataDir` and waits until it answers. `env` is laid over this process's. The
 * scope's end SIGKILLs it if it is still running.
 */
export const serve = (dataDir: string, env: Readonly<Record<string, string>> = {}) =>
  Effect.acquireRelease(
    Effect.promise(async (): Promise<Server> => {
      const port = await freePort()
      const child = spawn(
        process.execPath,
        ["--conditions=source", bin, "serve", "--port", String(port), "--data-dir", dataDir],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } }
      )
      let output = ""
      child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
      child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
      const exited = new Promise<number | string | null>((resolve) =>
        child.once("exit", (code, signal) => resolve(code ?? signal))
      )
      const url = `http://127.0.0.1:${port}`
      for (let attempt = 0; attempt < 300 && child.exitCode === null; attempt++) {
        const up = await fetch(`${url}/api/v1/system/health`).then(() => true, () => false)
        if (up) break
        await new Promise((wait) => setTimeout(wait, 100))
      }
      return { url, child, exited, output: () => output }
    }),
    (server) => Effect.sync(() => server.child.exitCode === null && server.child.signalCode === null && server.child.kill("SIGKILL"))
  )

/** Sends `signal` and waits for the server to exit. */
export const stop = (server: Server, signal: NodeJS.Signals) =>
  Effect.promise(() => {
    server.child.kill(signal)
    return server.exited
  })

/** JSON over HTTP: the status and the parsed body. */
export const json = <A = unknown>(url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      ...init,
      headers: init.body === undefined ? {} : { "content-type": "application/json" }
    })
    const text = await response.text()
    return { status: response.status, body: JSON.parse(text) as A, text }
  })
