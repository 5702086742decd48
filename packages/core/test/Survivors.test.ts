/**
 * Issue #11, defect 3, in process: what a killed MaiKit leaves behind is simulated by a real detached process tree
 * (its own session, `MAIKIT_RUN_ID` in its environment, a grandchild) and the registry record a MaiKit would have
 * written for it, owned by a MaiKit process that no longer exists. The supervisor built next finds it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { runIdVariable } from "../src/launcher/ComponentProcess.ts"
import * as InstanceRegistry from "../src/launcher/InstanceRegistry.ts"
import * as InstanceSupervisor from "../src/launcher/InstanceSupervisor.ts"
import * as Procfs from "../src/launcher/internal/procfs.ts"
import { command, eventually, fixture, isGone, registryLayer, singleInstance, supervisorLayer, tempDir } from "./helpers/instances.ts"

const Supervisor = InstanceSupervisor.InstanceSupervisor
const Registry = InstanceRegistry.InstanceRegistry

const Pids = Schema.fromJsonString(Schema.Struct({ leader: Schema.Int, grandchild: Schema.Int }))

/** A bot in its own session that ignores SIGHUP, with a grandchild, as a killed MaiKit would have left it. */
const survivor = (runId: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const dir = tempDir("survivor")
      const child = ChildProcess.spawn(process.execPath, [fixture("orphan.cjs")], {
        cwd: dir,
        detached: true,
        stdio: "ignore",
        env: { ...process.env, [runIdVariable]: runId }
      })
      child.unref()
      const file = Path.join(dir, "pids.json")
      yield* eventually(Effect.sync(() => Fs.existsSync(file)), (exists) => exists)
      return Schema.decodeUnknownSync(Pids)(Fs.readFileSync(file, "utf8"))
    }),
    (pids) =>
      Effect.sync(() => {
        for (const pid of [pids.leader, pids.grandchild]) if (!isGone(pid)) process.kill(pid, "SIGKILL")
      })
  )

/** The record a MaiKit writes for a run, owned by a MaiKit process that is gone unless `owner` says otherwise. */
const recordOf = (
  instanceId: string,
  pid: number,
  runId: string,
  owner: { readonly pid: number; readonly startTicks: number } = { pid: 999_999, startTicks: -1 }
): InstanceRegistry.ProcessRecord => ({
  instance_id: instanceId,
  component: "main",
  pid,
  pgid: pid,
  sid: pid,
  start_ticks: Procfs.readStat(pid)?.startTicks ?? -1,
  boot_id: Procfs.bootId() ?? "",
  run_id: runId,
  started_at: Date.now() - 60_000,
  owner_pid: owner.pid,
  owner_start_ticks: owner.startTicks
})

/** Registers an instance and the record of its survivor on a fresh data folder, as a killed MaiKit leaves them. */
const leftBehind = (pid: number, runId: string, owner?: { readonly pid: number; readonly startTicks: number }) =>
  Effect.gen(function*() {
    const dataDir = tempDir("survivors")
    const id = yield* Effect.gen(function*() {
      const registry = yield* Registry
      const instance = yield* registry.add(singleInstance("bot", command("maibot.cjs")))
      yield* registry.recordStart(instance.id)
      yield* registry.setStatus(instance.id, "running")
      yield* registry.recordProcess(recordOf(instance.id, pid, runId, owner))
      return instance.id
    }).pipe(Effect.provide(registryLayer(dataDir)))
    return { dataDir, id }
  })

const recorded = Registry.use((registry) => registry.processes)

describe("survivors of a killed MaiKit", () => {
  it.live("are stopped by default, grandchild included, and their record forgotten", () =>
    Effect.gen(function*() {
      const pids = yield* survivor("run-stop")
      const { dataDir, id } = yield* leftBehind(pids.leader, "run-stop")
      yield* Effect.gen(function*() {
        assert.isTrue(isGone(pids.leader) && isGone(pids.grandchild), "stopped while the supervisor was built")
        assert.lengthOf(yield* recorded, 0)
        const view = yield* (yield* Supervisor).get(id)
        assert.strictEqual(view.status, "stopped")
      }).pipe(Effect.provide(supervisorLayer(dataDir)))
    }).pipe(Effect.scoped))

  it.live("are adopted with orphans = adopt: running without a terminal; stop ends them; a natural end restarts", () =>
    Effect.gen(function*() {
      const pids = yield* survivor("run-adopt")
      const { dataDir, id } = yield* leftBehind(pids.leader, "run-adopt")
      yield* Effect.gen(function*() {
        const supervisor = yield* Supervisor
        const [stats] = yield* supervisor.componentStats(id)
        assert.deepStrictEqual([stats?.state, stats?.pid, stats?.message], [
          "running",
          pids.leader,
          "adopted: output not available until restart"
        ])
        assert.strictEqual(stats?.processCount, 2, "the leader and its grandchild")
        assert.isAtLeast(stats?.uptimeSeconds ?? 0, 59, "its uptime counts from the original spawn")
        assert.strictEqual((yield* supervisor.get(id)).status, "running")
        const terminal = yield* supervisor.attach(id, "main")
        const refused = yield* Effect.flip(terminal.write("hello\r"))
        assert.include(refused.message, "adopted")
        const [record] = yield* recorded
        assert.strictEqual(record?.owner_pid, process.pid, "the record now names this MaiKit")

        process.kill(pids.leader, "SIGKILL")
        const restarted = yield* eventually(
          supervisor.componentStats(id),
          // A pid of its own: while the ended run's leftovers are swept, the old status shows with no pid.
          (all) => all[0]?.state === "running" && all[0].pid !== null && all[0].pid !== pids.leader,
          10_000
        )
        assert.isNull(restarted[0]?.message, "a fresh run under a PTY of its own")
        assert.isTrue(isGone(pids.grandchild), "the sweep after its end took the grandchild")
        yield* supervisor.stop(id)
        assert.isTrue(isGone(restarted[0]?.pid ?? 0))
        assert.lengthOf(yield* recorded, 0)
      }).pipe(Effect.scoped, Effect.provide(supervisorLayer(dataDir, { orphans: "adopt" })))
    }).pipe(Effect.scoped))

  it.live("a grandchild whose leader died is stopped even when adopting, found by the run id it inherited", () =>
    Effect.gen(function*() {
      const pids = yield* survivor("run-headless")
      const { dataDir } = yield* leftBehind(pids.leader, "run-headless")
      process.kill(pids.leader, "SIGKILL")
      yield* eventually(Effect.sync(() => isGone(pids.leader)), (gone) => gone)
      assert.isFalse(isGone(pids.grandchild))
      yield* Effect.gen(function*() {
        assert.isTrue(isGone(pids.grandchild))
        assert.lengthOf(yield* recorded, 0)
      }).pipe(Effect.provide(supervisorLayer(dataDir, { orphans: "adopt" })))
    }).pipe(Effect.scoped))

  it.live("a process that merely reuses a recorded pid, group or session is never touched", () =>
    Effect.gen(function*() {
      const pids = yield* survivor("run-unrelated")
      const { dataDir, id } = yield* leftBehind(pids.leader, "run-of-another-life")
      yield* Effect.gen(function*() {
        const registry = yield* Registry
        yield* registry.recordProcess({ ...recordOf(id, pids.leader, "run-of-another-life"), start_ticks: 1 })
      }).pipe(Effect.provide(registryLayer(dataDir)))
      yield* Effect.gen(function*() {
        assert.isFalse(isGone(pids.leader), "another start time: not the recorded process")
        assert.isFalse(isGone(pids.grandchild), "another run id: not one of its children")
        assert.lengthOf(yield* recorded, 0, "the record of a run with nothing left is forgotten")
      }).pipe(Effect.provide(supervisorLayer(dataDir)))
    }).pipe(Effect.scoped))

  it.live("a run another live MaiKit owns is left alone, and starting it here is refused", () =>
    Effect.gen(function*() {
      const pids = yield* survivor("run-owned")
      const owner = yield* survivor("another-maikit")
      const ownerTicks = Procfs.readStat(owner.leader)?.startTicks ?? -1
      const { dataDir, id } = yield* leftBehind(pids.leader, "run-owned", { pid: owner.leader, startTicks: ownerTicks })
      yield* Effect.gen(function*() {
        const supervisor = yield* Supervisor
        assert.isFalse(isGone(pids.leader))
        assert.strictEqual((yield* supervisor.get(id)).status, "running", "its status stays the owner's")
        const refused = yield* Effect.flip(supervisor.start(id))
        assert.include(refused.message, `already run by another MaiKit process (pid ${owner.leader})`)
        assert.lengthOf(yield* recorded, 1)
      }).pipe(Effect.provide(supervisorLayer(dataDir)))
    }).pipe(Effect.scoped))
})
