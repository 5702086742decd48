import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { botFolder, isGone, tempDir } from "../../core/test/helpers/instances.ts"

const bin = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "../src/bin.ts")

interface Result {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The real `maikit` binary, run from source; once it is attached, `input` goes to its stdin chunk by chunk. */
const maikit = (args: ReadonlyArray<string>, input: ReadonlyArray<string> = []) =>
  Effect.promise(() =>
    new Promise<Result>((resolve) => {
      const child = spawn(process.execPath, ["--conditions=source", bin, ...args], { stdio: ["pipe", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      child.once("exit", (status) => resolve({ status, stdout, stderr }))
      const feed = async () => {
        if (input.length === 0) return
        while (!stderr.includes("attached to")) await new Promise((wait) => setTimeout(wait, 50))
        for (const chunk of input) {
          child.stdin.write(chunk)
          await new Promise((wait) => setTimeout(wait, 800))
        }
      }
      void feed()
    })
  )

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const serve = (dataDir: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const port = await freePort()
      const child = spawn(process.execPath, ["--conditions=source", bin, "serve", "--port", String(port), "--data-dir", dataDir], {
        stdio: ["ignore", "ignore", "ignore"]
      })
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      for (let attempt = 0; attempt < 300; attempt++) {
        const up = await fetch(`http://127.0.0.1:${port}/api/v1/system/health`).then(() => true, () => false)
        if (up) break
        await new Promise((wait) => setTimeout(wait, 100))
      }
      return { url: `http://127.0.0.1:${port}`, child, exited }
    }),
    (server) => Effect.sync(() => server.child.kill("SIGKILL"))
  )

const idIn = (text: string) => /instance ([0-9a-f]{40})/.exec(text)?.[1] ?? ""

describe("maikit instances, logs and attach", () => {
  it.live("add, ls and rm on the local database; start, stop, logs and attach against `maikit serve`", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("cli-serve")
      const folder = botFolder()
      const server = yield* serve(dataDir)
      const [bad, added] = yield* Effect.all([
        maikit(["instances", "add", "/nonexistent/mai", "--data-dir", dataDir]),
        maikit(["instances", "add", folder, "--adapter", Path.join(folder, "napcat-ada"), "--data-dir", dataDir])
      ], { concurrency: "unbounded" })
      assert.strictEqual(bad.status, 1)
      assert.include(bad.stderr, "指定的安装路径不存在: /nonexistent/mai")
      assert.strictEqual(added.status, 0, added.stderr)
      const id = idIn(added.stdout)
      assert.match(id, /^[0-9a-f]{40}$/)

      const started = yield* maikit(["instances", "start", id, "--url", server.url])
      assert.strictEqual(started.status, 0, started.stderr)
      assert.strictEqual(started.stdout.trim(), `实例 ${Path.basename(folder)} 已启动`)

      const [listed, logs, attached, unknown] = yield* Effect.all([
        maikit(["instances", "ls", "--json", "--data-dir", dataDir]),
        maikit(["logs", id, "--url", server.url]),
        maikit(["attach", id, "napcat-ada", "--url", server.url], ["hello from the cli\r", "\u001d"]),
        maikit(["instances", "stop", "f".repeat(40), "--url", server.url])
      ], { concurrency: "unbounded" })
      const [instance] = JSON.parse(listed.stdout) as Array<{ id: string; status: string; components: Array<{ name: string }> }>
      assert.strictEqual(instance?.id, id)
      assert.strictEqual(instance?.status, "running", "the server keeps the database's status live")
      assert.deepStrictEqual(instance?.components.map((c) => c.name), ["main", "napcat-ada"])
      assert.strictEqual(logs.status, 0, logs.stderr)
      assert.match(logs.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO +\[main\] 麦麦 MaiBot 启动/m)
      assert.include(logs.stdout, "[napcat-ada] ready pid=")
      assert.strictEqual(attached.status, 0, attached.stderr)
      assert.include(attached.stdout, "echo:hello from the cli")
      assert.include(attached.stderr, "detached from napcat-ada")
      assert.strictEqual(unknown.status, 1)
      assert.include(unknown.stderr, `未找到实例 ${"f".repeat(40)}`)

      const pidsOf = Effect.promise(() =>
        fetch(`${server.url}/api/v1/instance/${id}/status`).then((r) => r.json() as Promise<{ components: Array<{ pid: number }> }>)
      ).pipe(Effect.map((body) => body.components.map((c) => c.pid)))
      const first = yield* pidsOf
      const stopped = yield* maikit(["instances", "stop", id, "--url", server.url])
      assert.strictEqual(stopped.stdout.trim(), `实例 ${Path.basename(folder)} 已停止`)
      assert.isTrue(first.every(isGone))

      yield* Effect.promise(() => fetch(`${server.url}/api/v1/instance/${id}/start`))
      const second = yield* pidsOf
      server.child.kill("SIGINT")
      assert.strictEqual(yield* Effect.promise(() => server.exited), 130)
      assert.isTrue(second.every(isGone), "the server's shutdown stops its instances")

      const removed = yield* maikit(["instances", "rm", id, "--data-dir", dataDir])
      assert.strictEqual(removed.status, 0, removed.stderr)
      assert.include(removed.stdout, `kept ${folder}`)
      assert.isTrue(Fs.existsSync(Path.join(folder, "bot.py")))
    }).pipe(Effect.scoped), 90_000)
})
