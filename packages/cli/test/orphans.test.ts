/**
 * Issue #11, defect 3: a bot that ignores SIGHUP outlives a `maikit serve` killed with SIGKILL, with its
 * grandchild. The next `maikit serve` on the same data folder finds them by the process group and start time it
 * recorded, and stops them (the default) or adopts them (`MAIKIT_ORPHANS=adopt`); either way a start never runs
 * a second copy and a stop leaves nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { eventually, fixture, isGone, tempDir } from "../../core/test/helpers/instances.ts"
import { json, serve, stop } from "./helpers/serve.ts"

const Pids = Schema.fromJsonString(Schema.Struct({ leader: Schema.Int, grandchild: Schema.Int }))

/** A MaiBot folder whose `python bot.py` (a venv python that is this Node) is the SIGHUP-ignoring fixture. */
const orphanBot = () => {
  const dir = tempDir("orphan-bot")
  Fs.mkdirSync(Path.join(dir, "venv", "bin"), { recursive: true })
  Fs.symlinkSync(process.execPath, Path.join(dir, "venv", "bin", "python"))
  Fs.copyFileSync(fixture("orphan.cjs"), Path.join(dir, "bot.py"))
  return dir
}

/** The pids the bot wrote once it was up, after removing the previous file. */
const pidsOf = (dir: string) =>
  Effect.map(
    eventually(Effect.sync(() => Fs.existsSync(Path.join(dir, "pids.json"))), (exists) => exists, 10_000),
    () => Schema.decodeUnknownSync(Pids)(Fs.readFileSync(Path.join(dir, "pids.json"), "utf8"))
  ).pipe(Effect.tap(() => Effect.sync(() => Fs.rmSync(Path.join(dir, "pids.json")))))

/** Live bots started from `dir`: processes whose working directory it is and that run its `bot.py`. */
const botsIn = (dir: string): ReadonlyArray<number> =>
  Fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => {
    try {
      return !isGone(pid) && Fs.readlinkSync(`/proc/${pid}/cwd`) === dir &&
        Fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("bot.py")
    } catch {
      return false
    }
  })

interface Component {
  readonly name: string
  readonly state: string
  readonly pid: number | null
  readonly message: string | null
}

const statusOf = (url: string, id: string) =>
  Effect.map(json<{ status: string; components: ReadonlyArray<Component> }>(`${url}/api/v1/instance/${id}/status`), (r) =>
    r.body)

const call = (url: string, path: string) => Effect.map(json<{ success: boolean; message: string }>(`${url}${path}`), (r) => r.body)

/** Registers and starts the bot on a fresh data folder, then kills the server with SIGKILL: the bot survives. */
const orphaned = Effect.gen(function*() {
  const dataDir = tempDir("orphans")
  const dir = orphanBot()
  const first = yield* serve(dataDir)
  const added = yield* json<{ instance_id: string }>(`${first.url}/api/v1/instances/add`, {
    method: "POST",
    body: JSON.stringify({ instance_name: "stubborn", install_services: [], install_path: dir, port: 8000, version: "test" })
  })
  const id = added.body.instance_id
  assert.deepStrictEqual(yield* call(first.url, `/api/v1/instance/${id}/start`), { success: true, message: "实例 stubborn 已启动" })
  const pids = yield* pidsOf(dir)
  assert.strictEqual((yield* statusOf(first.url, id)).components[0]?.pid, pids.leader)
  assert.strictEqual(yield* stop(first, "SIGKILL"), "SIGKILL")
  yield* Effect.sleep(300)
  assert.isFalse(isGone(pids.leader), "the bot ignores the hang-up and outlives MaiKit")
  assert.isFalse(isGone(pids.grandchild), "and so does its grandchild")
  return { dataDir, dir, id, pids }
})

describe("processes left by a killed maikit serve", () => {
  it.live("are stopped at the next start by default; a start then runs one copy and a stop leaves nothing", () =>
    Effect.gen(function*() {
      const { dataDir, dir, id, pids } = yield* orphaned
      const second = yield* serve(dataDir)
      assert.isTrue(isGone(pids.leader) && isGone(pids.grandchild), "stopped before the server answers")
      assert.include(second.output(), "stopping processes a killed MaiKit left running")
      const idle = yield* statusOf(second.url, id)
      assert.strictEqual(idle.status, "stopped")
      assert.deepStrictEqual(idle.components.map((c) => [c.state, c.pid]), [["stopped", null]])

      assert.isTrue((yield* call(second.url, `/api/v1/instance/${id}/start`)).success)
      const fresh = yield* pidsOf(dir)
      assert.deepStrictEqual(botsIn(dir), [fresh.leader], "one copy")
      assert.isTrue((yield* call(second.url, `/api/v1/instance/${id}/stop`)).success)
      assert.isTrue(isGone(fresh.leader) && isGone(fresh.grandchild))
      assert.deepStrictEqual(botsIn(dir), [])

      // Defect 5 through the real server: what it wrote into its data folder is its owner's alone.
      const modeOf = (path: string) => Fs.statSync(Path.join(dataDir, path)).mode & 0o777
      assert.deepStrictEqual(
        [".", "maikit.db", "logs", "logs/maikit.log", "instances", `instances/${id}/main`, `instances/${id}/main/history.log`]
          .map((path) => [path, modeOf(path)]),
        [
          [".", 0o700],
          ["maikit.db", 0o600],
          ["logs", 0o700],
          ["logs/maikit.log", 0o600],
          ["instances", 0o700],
          [`instances/${id}/main`, 0o700],
          [`instances/${id}/main/history.log`, 0o600]
        ]
      )
    }).pipe(Effect.scoped), 120_000)

  it.live("are adopted with MAIKIT_ORPHANS=adopt: running without output, never started twice, stopped by stop", () =>
    Effect.gen(function*() {
      const { dataDir, dir, id, pids } = yield* orphaned
      const second = yield* serve(dataDir, { MAIKIT_ORPHANS: "adopt" })
      assert.isFalse(isGone(pids.leader), "adopted, not stopped")
      const adopted = yield* statusOf(second.url, id)
      assert.strictEqual(adopted.status, "running")
      assert.deepStrictEqual(adopted.components.map((c) => [c.state, c.pid, c.message]), [[
        "running",
        pids.leader,
        "adopted: output not available until restart"
      ]])
      const [listed] = (yield* json<{ instances: ReadonlyArray<{ status: string }> }>(`${second.url}/api/v1/instances`)).body
        .instances
      assert.strictEqual(listed?.status, "running")

      assert.isTrue((yield* call(second.url, `/api/v1/instance/${id}/start`)).success)
      assert.deepStrictEqual(botsIn(dir), [pids.leader], "a start does not run a second copy beside the adopted one")
      assert.isTrue((yield* call(second.url, `/api/v1/instance/${id}/stop`)).success)
      assert.isTrue(isGone(pids.leader) && isGone(pids.grandchild), "stop ends the adopted bot and its grandchild")
      assert.deepStrictEqual(botsIn(dir), [])
      assert.strictEqual((yield* statusOf(second.url, id)).status, "stopped")
    }).pipe(Effect.scoped), 120_000)
})
