import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ComponentGroup from "../src/launcher/ComponentGroup.ts"
import * as ComponentProcess from "../src/launcher/ComponentProcess.ts"
import * as ProcessTree from "../src/launcher/ProcessTree.ts"
import { nodeSpec } from "./fixtures/support.ts"

const interactive = (name: string) =>
  ComponentProcess.make(nodeSpec(name, "interactive.mjs", [], { startSeconds: 0.2 }))
const startedAt = (component: ComponentProcess.ComponentProcess) =>
  Effect.map(component.stats, (stats) => stats.lastStartTime ?? 0)
const exitedAt = (component: ComponentProcess.ComponentProcess) =>
  Effect.map(component.status, (status) => status.lastExit?.at ?? 0)

describe("ComponentGroup.plan", () => {
  it.effect("orders an instance's components into dependency waves", () =>
    Effect.gen(function*() {
      const waves = yield* ComponentGroup.plan([
        { name: "main", dependsOn: ["napcat-ada"] },
        { name: "napcat-ada", dependsOn: ["napcat"] },
        { name: "napcat" },
        { name: "webui" }
      ])
      assert.deepStrictEqual(waves, [["napcat", "webui"], ["napcat-ada"], ["main"]])
    }))

  it.effect("rejects cycles, unknown dependencies and duplicate names", () =>
    Effect.gen(function*() {
      const cycle = yield* Effect.flip(ComponentGroup.plan([
        { name: "a", dependsOn: ["b"] },
        { name: "b", dependsOn: ["a"] },
        { name: "c" }
      ]))
      assert.strictEqual(cycle._tag, "DependencyError")
      assert.include(cycle.message, "dependency cycle among a, b")
      const unknown = yield* Effect.flip(ComponentGroup.plan([{ name: "main", dependsOn: ["napcat"] }]))
      assert.strictEqual(unknown.message, "main depends on unknown component napcat")
      const duplicate = yield* Effect.flip(ComponentGroup.plan([{ name: "main" }, { name: "main" }]))
      assert.include(duplicate.message, "duplicate")
    }))
})

describe("ComponentGroup", () => {
  it.live("starts each wave once the previous one is running, and stops in reverse order", () =>
    Effect.gen(function*() {
      const napcat = yield* interactive("napcat")
      const adapter = yield* interactive("napcat-ada")
      const main = yield* interactive("main")
      const group = yield* ComponentGroup.make([
        { component: main, dependsOn: ["napcat-ada"] },
        { component: adapter, dependsOn: ["napcat"] },
        { component: napcat }
      ])
      assert.deepStrictEqual(group.waves, [["napcat"], ["napcat-ada"], ["main"]])
      yield* group.start
      const statuses = yield* group.statuses
      assert.deepStrictEqual(statuses.map((status) => status.state), ["running", "running", "running"])
      const [napcatAt, adapterAt, mainAt] = [yield* startedAt(napcat), yield* startedAt(adapter), yield* startedAt(main)]
      assert.isAtLeast(adapterAt - napcatAt, 190, "the adapter waited for napcat to be running")
      assert.isAtLeast(mainAt - adapterAt, 190, "main waited for the adapter to be running")

      yield* group.stop
      const [napcatExit, adapterExit, mainExit] = [yield* exitedAt(napcat), yield* exitedAt(adapter), yield* exitedAt(main)]
      assert.isTrue(mainExit <= adapterExit && adapterExit <= napcatExit, "dependents stop first")
      assert.deepStrictEqual((yield* group.statuses).map((status) => status.state), ["stopped", "stopped", "stopped"])
    }).pipe(Effect.provide(ProcessTree.ProcessTree.layer)))

  it.live("a dependency that fails to start fails the group start and its dependents are never started", () =>
    Effect.gen(function*() {
      // A start window far longer than the fixture needs to exit, so a loaded machine cannot make it look started.
      const napcat = yield* ComponentProcess.make(nodeSpec("napcat", "exit.mjs", ["2"], { startSeconds: 5 }))
      const adapter = yield* ComponentProcess.make(nodeSpec("napcat-ada", "interactive.mjs"))
      const group = yield* ComponentGroup.make([{ component: napcat }, { component: adapter, dependsOn: ["napcat"] }])
      const error = yield* Effect.flip(group.start)
      assert.strictEqual(error._tag, "DependencyError")
      assert.include(error.message, "napcat did not start (errored: process exited with code 2")
      assert.strictEqual((yield* adapter.stats).startCount, 0)
    }).pipe(Effect.provide(ProcessTree.ProcessTree.layer)))

  it.live("a dependency that is not running within readyTimeoutMs fails the start", () =>
    Effect.gen(function*() {
      const slow = yield* ComponentProcess.make(nodeSpec("slow", "interactive.mjs", [], { startSeconds: 5 }))
      const group = yield* ComponentGroup.make([{ component: slow }], { readyTimeoutMs: 200 })
      const error = yield* Effect.flip(group.start)
      assert.strictEqual(error._tag, "DependencyError")
      assert.include(error.message, "was not running within 200 ms")
    }).pipe(Effect.provide(ProcessTree.ProcessTree.layer)))
})
