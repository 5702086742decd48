import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Database, InstanceRegistry } from "../src/index.ts"

const databaseFile = () => Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-registry-")), "maikit.db")

const registryOn = (file: string) => InstanceRegistry.InstanceRegistry.layer.pipe(Layer.provide(Database.layerFile(file)))

const maibot = (name: string): InstanceRegistry.NewInstance => ({
  name,
  version: "0.7.0",
  path: `/srv/${name}`,
  host: "127.0.0.1",
  port: 8000,
  token: "",
  ownsPath: false,
  components: [
    {
      name: "main",
      kind: "main",
      path: `/srv/${name}`,
      port: 8000,
      command: "python bot.py",
      env: {},
      restart_policy: "on-failure"
    },
    {
      name: "napcat-ada",
      kind: "service",
      path: `/srv/${name}/napcat-ada`,
      port: 8095,
      command: "python main.py",
      env: { PYTHONUTF8: "1" },
      restart_policy: "always"
    }
  ]
})

describe("InstanceRegistry", () => {
  it.effect("adds an instance with its components and reads it back", () =>
    Effect.gen(function*() {
      const registry = yield* InstanceRegistry.InstanceRegistry
      const added = yield* registry.add(maibot("mai-1"))
      assert.match(added.id, /^[0-9a-f]{40}$/)
      assert.strictEqual(added.status, "stopped")
      assert.strictEqual(added.start_count, 0)
      assert.deepStrictEqual(added.components.map((component) => [component.name, component.position]), [
        ["main", 0],
        ["napcat-ada", 1]
      ])
      assert.deepStrictEqual(added.components[1]?.env, { PYTHONUTF8: "1" })
      assert.deepStrictEqual(yield* registry.get(added.id), added)
      const twin = yield* registry.add(maibot("mai-1"))
      assert.notStrictEqual(twin.id, added.id)
      assert.lengthOf(yield* registry.list, 2)
    }).pipe(Effect.provide(registryOn(databaseFile()))))

  it.effect("accumulates runtime across starts and stops", () =>
    Effect.gen(function*() {
      const registry = yield* InstanceRegistry.InstanceRegistry
      const { id } = yield* registry.add(maibot("mai-2"))
      const started = yield* registry.recordStart(id)
      assert.strictEqual(started.start_count, 1)
      assert.isNotNull(started.last_start_time)
      yield* TestClock.adjust("90 seconds")
      const stopped = yield* registry.recordStop(id)
      assert.strictEqual(stopped.total_runtime, 90)
      assert.strictEqual(stopped.last_start_time, started.last_start_time, "the time of the latest start stays")
      yield* registry.recordStart(id)
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual((yield* registry.get(id)).total_runtime, 120, "the run in progress counts")
      const again = yield* registry.recordStop(id)
      assert.strictEqual(again.total_runtime, 120)
      assert.strictEqual(again.start_count, 2)
      const noRun = yield* registry.recordStop(id)
      assert.strictEqual(noRun.total_runtime, 120)
    }).pipe(Effect.provide(registryOn(databaseFile()))))

  it.effect("status updates, removal, and unknown ids", () =>
    Effect.gen(function*() {
      const registry = yield* InstanceRegistry.InstanceRegistry
      const { id } = yield* registry.add(maibot("mai-3"))
      yield* registry.setStatus(id, "running")
      assert.strictEqual((yield* registry.get(id)).status, "running")
      yield* registry.remove(id)
      const missing = yield* Effect.flip(registry.get(id))
      assert.strictEqual(missing._tag, "InstanceNotFound")
      assert.strictEqual((yield* Effect.flip(registry.remove(id)))._tag, "InstanceNotFound")
      assert.strictEqual((yield* Effect.flip(registry.setStatus("nope", "running")))._tag, "InstanceNotFound")
      assert.lengthOf(yield* registry.list, 0)
    }).pipe(Effect.provide(registryOn(databaseFile()))))

  it.effect("reconcile stops every instance left active and closes its open run uncounted", () =>
    Effect.gen(function*() {
      const registry = yield* InstanceRegistry.InstanceRegistry
      const running = yield* registry.add(maibot("mai-5"))
      const errored = yield* registry.add(maibot("mai-6"))
      const idle = yield* registry.add(maibot("mai-7"))
      yield* registry.recordStart(running.id)
      yield* registry.setStatus(running.id, "running")
      yield* registry.setStatus(errored.id, "errored")
      const adopted = yield* registry.add(maibot("mai-8"))
      yield* registry.recordStart(adopted.id)
      yield* registry.setStatus(adopted.id, "running")
      yield* TestClock.adjust("1 hour")
      const changed = yield* registry.reconcile([adopted.id])
      assert.sameMembers([...changed], [running.id, errored.id])
      const after = yield* registry.get(running.id)
      assert.strictEqual(after.status, "stopped")
      assert.isNotNull(after.last_start_time)
      assert.strictEqual(after.total_runtime, 0, "a run of unknown length is not counted")
      assert.strictEqual(after.start_count, 1)
      assert.strictEqual((yield* registry.get(errored.id)).status, "stopped")
      assert.strictEqual((yield* registry.get(idle.id)).status, "stopped")
      const kept = yield* registry.get(adopted.id)
      assert.strictEqual(kept.status, "running", "an instance kept running is left alone")
      assert.strictEqual(kept.total_runtime, 3600, "and its run goes on")
      assert.deepStrictEqual(yield* registry.reconcile([adopted.id]), [])
    }).pipe(Effect.provide(registryOn(databaseFile()))))

  it.effect("records a component's process until it is forgotten or its instance removed", () =>
    Effect.gen(function*() {
      const registry = yield* InstanceRegistry.InstanceRegistry
      const { id } = yield* registry.add(maibot("mai-9"))
      const record = {
        instance_id: id,
        component: "main",
        pid: 4242,
        pgid: 4242,
        sid: 4242,
        start_ticks: 123_456,
        boot_id: "boot",
        run_id: "run-1",
        started_at: 1_700_000_000_000,
        owner_pid: 17,
        owner_start_ticks: 99
      }
      yield* registry.recordProcess(record)
      yield* registry.recordProcess({ ...record, pid: 4343, run_id: "run-2" })
      assert.deepStrictEqual(yield* registry.processes, [{ ...record, pid: 4343, run_id: "run-2" }], "one per component")
      yield* registry.forgetProcess(id, "main", 4242)
      assert.lengthOf(yield* registry.processes, 1, "a stale pid does not forget the newer run")
      yield* registry.forgetProcess(id, "main", 4343)
      assert.lengthOf(yield* registry.processes, 0)
      yield* registry.recordProcess(record)
      yield* registry.remove(id)
      assert.lengthOf(yield* registry.processes, 0, "removing the instance drops its records")
    }).pipe(Effect.provide(registryOn(databaseFile()))))

  it.effect("survives a reopen of the database", () =>
    Effect.gen(function*() {
      const file = databaseFile()
      const id = yield* InstanceRegistry.InstanceRegistry.use((registry) =>
        Effect.map(registry.add(maibot("mai-4")), (instance) => instance.id)
      ).pipe(Effect.provide(registryOn(file)))
      const reopened = yield* InstanceRegistry.InstanceRegistry.use((registry) => registry.get(id)).pipe(
        Effect.provide(registryOn(file))
      )
      assert.strictEqual(reopened.name, "mai-4")
      assert.lengthOf(reopened.components, 2)
    }))
})
