import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Deployer from "../src/launcher/Deployer.ts"
import * as InstanceRegistry from "../src/launcher/InstanceRegistry.ts"
import {
  deployerLayer,
  deployerOptions,
  eventually,
  finished,
  fixtureWorld,
  processesMentioning,
  slowIndex,
  tempDir
} from "./helpers/deployer.ts"

describe("Deployer across a restart of MaiKit", () => {
  it.live("a MaiKit killed mid-pip: the next one kills the orphaned pip, removes the half folder, shows failed; retry completes", () =>
    Effect.gen(function*() {
      const world = fixtureWorld()
      const dataDir = Path.join(world.root, "data")
      const path = Path.join(tempDir("deployer-restart"), "mai")
      const index = yield* Effect.acquireRelease(Effect.promise(() => slowIndex(world.wheels)), (server) => Effect.promise(server.close))
      const host = ChildProcess.spawn(process.execPath, [
        "--conditions=source",
        Path.join(import.meta.dirname, "fixtures", "deployerHost.ts"),
        JSON.stringify({ world, dataDir, indexUrl: index.url, request: { name: "mai", version: "1.2.1", path, port: 18500 } })
      ], { stdio: ["ignore", "pipe", "inherit"] })
      let output = ""
      host.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
      const jobId = (yield* eventually(Effect.sync(() => /JOB ([0-9a-f]{40})/.exec(output)?.[1]), (id) => id !== undefined, 60_000)) ?? ""
      yield* eventually(Effect.sync(() => index.requests.length), (count) => count > 0, 90_000)
      const orphans = processesMentioning(path)
      assert.isAbove(orphans.length, 0, "pip is running")
      yield* Effect.promise(() =>
        new Promise<void>((resolve) => {
          host.once("exit", () => resolve())
          host.kill("SIGKILL")
        })
      )
      assert.isAbove(processesMentioning(path).length, 0, "pip outlived its MaiKit")
      assert.isTrue(Fs.existsSync(path))

      const layer = deployerLayer(dataDir, deployerOptions(world))
      yield* Effect.gen(function*() {
        const deployer = yield* Deployer.Deployer
        const interrupted = yield* deployer.status(jobId)
        assert.strictEqual(interrupted.status, "failed")
        assert.strictEqual(interrupted.step, "deps")
        assert.include(interrupted.message, "部署被中断：MaiKit 在任务进行中退出（可重试）")
        assert.deepStrictEqual(processesMentioning(path), [])
        assert.isFalse(Fs.existsSync(path))
        assert.include(interrupted.removed, path)

        const retried = yield* deployer.retry(jobId)
        assert.strictEqual(retried.id, jobId)
        const done = yield* finished(jobId)
        assert.strictEqual(done.status, "completed", done.message)
        const instance = yield* (yield* InstanceRegistry.InstanceRegistry).get(jobId)
        assert.strictEqual(instance.path, path)
        const again = yield* Effect.flip(deployer.retry(jobId))
        assert.strictEqual(again.reason._tag, "JobState")
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped), 180_000)
})
