/**
 * What a killed MaiKit left running, found from the processes the registry recorded for it. A record names the
 * run's leader by pid, start time (clock ticks after boot) and boot id, so a recycled pid is never mistaken for
 * it, and the run's id, which every process of the run inherited in its environment (`MAIKIT_RUN_ID`). Members
 * are the leader's tree, group and session while it lives, and any process that carries the run's id — which
 * also finds a grandchild whose parent died, or one that left the session, and never an unrelated process that
 * happens to reuse a pid, group or session number. Linux only (`/proc`); elsewhere nothing is recorded.
 */
import { Effect, Option } from "effect"
import type * as InstanceRegistry from "../InstanceRegistry.ts"
import * as ProcessTree from "../ProcessTree.ts"
import { runIdVariable } from "../ComponentProcess.ts"
import * as Procfs from "./procfs.ts"

export interface Found {
  readonly record: InstanceRegistry.ProcessRecord
  /** The recorded leader, alive with its recorded start time; `undefined` when only processes it started are left. */
  readonly leader: ProcessTree.ProcessInfo | undefined
  /** Every live process of the run, deepest first. */
  readonly members: ReadonlyArray<ProcessTree.ProcessInfo>
}

export interface Classified {
  /** Runs whose MaiKit is gone and of which something still lives. */
  readonly survivors: ReadonlyArray<Found>
  /** Runs with nothing left (or from an earlier boot): their records can go. */
  readonly gone: ReadonlyArray<InstanceRegistry.ProcessRecord>
  /** Runs that a live MaiKit process still supervises (another server on the same data, or this one). */
  readonly owned: ReadonlyArray<InstanceRegistry.ProcessRecord>
}

const isAlive = (snapshot: ReadonlyArray<ProcessTree.ProcessInfo>, pid: number, startTicks: number) =>
  snapshot.find((info) => info.pid === pid && info.startTicks === startTicks && !info.zombie)

/** Sorts records by what is left of them in `snapshot`, taken in this boot (`bootId`). */
export const classify = (
  records: ReadonlyArray<InstanceRegistry.ProcessRecord>,
  snapshot: ReadonlyArray<ProcessTree.ProcessInfo>,
  bootId: string | undefined
): Classified => {
  const survivors: Array<Found> = []
  const gone: Array<InstanceRegistry.ProcessRecord> = []
  const owned: Array<InstanceRegistry.ProcessRecord> = []
  // Each process's environment is read once, and only if some record needs it.
  let byRunId: Map<string, Array<ProcessTree.ProcessInfo>> | undefined
  const carrying = (runId: string) => {
    if (byRunId === undefined) {
      byRunId = new Map()
      for (const info of snapshot) {
        if (info.zombie || info.pid === process.pid) continue
        const value = Procfs.environmentValue(info.pid, runIdVariable)
        if (value === undefined) continue
        const list = byRunId.get(value)
        if (list === undefined) byRunId.set(value, [info])
        else list.push(info)
      }
    }
    return byRunId.get(runId) ?? []
  }
  for (const record of records) {
    if (record.boot_id !== bootId) {
      gone.push(record)
      continue
    }
    if (isAlive(snapshot, record.owner_pid, record.owner_start_ticks) !== undefined) {
      owned.push(record)
      continue
    }
    const leader = isAlive(snapshot, record.pid, record.start_ticks)
    const tree = leader === undefined ? [] : ProcessTree.membersOf(snapshot, leader.pid)
    const inTree = new Set(tree.map((info) => info.pid))
    const marked = carrying(record.run_id).filter((info) => !inTree.has(info.pid))
    const members = [...marked, ...tree]
    if (members.length === 0) gone.push(record)
    else survivors.push({ record, leader, members })
  }
  return { survivors, gone, owned }
}

/** The live processes among `members`: same pid, same start time, not a zombie. */
const stillAlive = (members: ReadonlyArray<ProcessTree.ProcessInfo>) =>
  Effect.map(Effect.option(ProcessTree.ProcessTree.use((tree) => tree.snapshot)), (snapshot) =>
    Option.match(snapshot, {
      onNone: () => members,
      onSome: (current) =>
        members.filter((member) => member.startTicks !== undefined && isAlive(current, member.pid, member.startTicks))
    }))

const pollMs = 50
const killSettleMs = 2_000

const waitGone = (members: ReadonlyArray<ProcessTree.ProcessInfo>, withinMs: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + withinMs
    while (true) {
      const alive = yield* stillAlive(members)
      if (alive.length === 0 || Date.now() >= deadline) return alive
      yield* Effect.sleep(pollMs)
    }
  })

/**
 * Stops what is left of runs: `signal` to each run's group and every member, `graceMs` for them to exit, then
 * SIGKILL to whatever remains. Returns the processes that could not be ended (normally none).
 */
export const stop = (found: ReadonlyArray<Found>, signal: NodeJS.Signals, graceMs: number) =>
  Effect.gen(function*() {
    const members = found.flatMap((entry) => entry.members)
    for (const entry of found) {
      if (entry.members.some((member) => member.pgid === entry.record.pgid)) {
        ProcessTree.sendSignal(-entry.record.pgid, signal)
      }
    }
    for (const member of members) ProcessTree.sendSignal(member.pid, signal)
    const stubborn = yield* waitGone(members, graceMs)
    if (stubborn.length === 0) return []
    for (const member of stubborn) ProcessTree.sendSignal(member.pid, "SIGKILL")
    return yield* waitGone(stubborn, killSettleMs)
  })
