import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as ProcessTree from "../src/launcher/ProcessTree.ts"
import { eventually, fixture, isGone, parsePids } from "./fixtures/support.ts"

const info = (pid: number, ppid: number, fields: Partial<ProcessTree.ProcessInfo> = {}): ProcessTree.ProcessInfo => ({
  pid,
  ppid,
  pgid: pid,
  sid: pid,
  zombie: false,
  startTicks: pid,
  cpuSeconds: 0,
  rssBytes: 0,
  ...fields
})

/** Starts tree.mjs the way a PTY would: in its own session and group. Returns the pids it prints. */
const spawnTree = Effect.callback<string>((resume) => {
  const child = ChildProcess.spawn(process.execPath, [fixture("tree.mjs"), "stubborn"], {
    detached: true,
    stdio: ["ignore", "pipe", "ignore"]
  })
  let text = ""
  child.stdout.on("data", (chunk) => {
    text += String(chunk)
    if (text.includes("}")) {
      child.stdout.destroy()
      child.unref()
      resume(Effect.succeed(text))
    }
  })
}).pipe(Effect.flatMap(parsePids), Effect.flatMap((pids) => (pids === undefined ? Effect.die("no PIDS") : Effect.succeed(pids))))

describe("ProcessTree", () => {
  it("membersOf: descendants, session and group members, deepest first; never zombies, strangers or ourselves", () => {
    const self = process.pid
    const snapshot = [
      info(1, 0),
      info(100, 1),
      info(101, 100, { pgid: 100, sid: 100 }),
      info(102, 101, { pgid: 100, sid: 100 }),
      info(103, 1, { pgid: 103, sid: 100 }),
      info(104, 103, { pgid: 104, sid: 104 }),
      info(105, 100, { pgid: 100, sid: 100, zombie: true }),
      info(106, 1, { pgid: 100, sid: 106 }),
      info(200, 1),
      info(self, 1, { pgid: 100, sid: 100 })
    ]
    const members = ProcessTree.membersOf(snapshot, 100).map((member) => member.pid)
    assert.deepStrictEqual([...members].toSorted(), [100, 101, 102, 103, 104, 106])
    const depth = (pid: number) => members.indexOf(pid)
    assert.isBelow(depth(102), depth(101), "grandchild before child")
    assert.isBelow(depth(101), depth(100), "child before leader")
    assert.isBelow(depth(104), depth(103), "an orphan's child before the orphan")
    assert.strictEqual(members.at(-1), 100, "the leader goes last")
    assert.deepStrictEqual(ProcessTree.membersOf(snapshot, 1), [], "init is never a tree root")
  })

  for (const [name, layer] of [["procfs", ProcessTree.ProcessTree.layerProcfs], ["ps", ProcessTree.ProcessTree.layerPs]] as const) {
    it.live(`${name}: finds a real tree and killTree leaves none of it alive`, () =>
      Effect.gen(function*() {
        const pids = yield* spawnTree
        const all = [pids.leader, pids.worker, pids.grandchild, pids.daemon]
        const members = yield* ProcessTree.members(pids.leader)
        assert.deepStrictEqual(members.map((member) => member.pid).toSorted(), [...all].toSorted())
        assert.isTrue(members.every((member) => member.rssBytes > 0))
        assert.strictEqual(members.every((member) => member.cpuSeconds !== undefined), name === "procfs")
        const signalled = yield* ProcessTree.killTree(pids.leader)
        assert.deepStrictEqual([...signalled].toSorted(), [...all].toSorted())
        yield* eventually(Effect.sync(() => all.filter((pid) => !isGone(pid))), (alive) => alive.length === 0)
        assert.deepStrictEqual(yield* ProcessTree.members(pids.leader), [])
      }).pipe(Effect.provide(layer)))
  }

  it.live("recentSnapshot: one pass answers everyone within shareMs, a later ask sees processes started since", () =>
    Effect.gen(function*() {
      const tree = yield* ProcessTree.ProcessTree
      const first = yield* tree.recentSnapshot
      const asked = yield* Effect.all(Array.from({ length: 50 }, () => tree.recentSnapshot), { concurrency: "unbounded" })
      assert.isTrue(asked.every((snapshot) => snapshot === first), "the same pass")
      const pids = yield* spawnTree
      yield* Effect.sleep(ProcessTree.shareMs + 5)
      const later = yield* tree.recentSnapshot
      assert.notStrictEqual(later, first)
      assert.isTrue(later.some((entry) => entry.pid === pids.leader))
      assert.isFalse(first.some((entry) => entry.pid === pids.leader))
      assert.isTrue((yield* tree.snapshot).some((entry) => entry.pid === pids.leader), "snapshot is always fresh")
      yield* ProcessTree.killTree(pids.leader)
    }).pipe(Effect.provide(ProcessTree.ProcessTree.layer)))

  it.live("killTree of a vanished root signals nothing and does not fail", () =>
    Effect.gen(function*() {
      const signalled = yield* ProcessTree.killTree(2 ** 22 + 12_345)
      assert.deepStrictEqual(signalled, [])
    }).pipe(Effect.provide(ProcessTree.ProcessTree.layer)))
})
