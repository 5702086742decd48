/**
 * Process-tree discovery and kill. A component's tree is everything that descends from its PTY leader, plus
 * (Linux) everything still in the leader's session or process group: when the leader dies its children are
 * re-parented to init, and the session id is then the only thread left that ties them to the component. The
 * kernel keeps a session or group id allocated while any process uses it, so matching on it cannot hit an
 * unrelated process that reused the number.
 *
 * Linux reads `/proc/<pid>/stat` (one read per process gives parent, group, session, CPU time and RSS).
 * Elsewhere one `ps -A -o pid=,ppid=,pgid=,rss=,stat=` snapshot is used, as PM2's tree-kill does; it has no session
 * id and no CPU time, so orphans that left the group escape and CPU % is not reported there.
 */
import { Context, Duration, Effect, Exit, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Procfs from "./internal/procfs.ts"
import { ProcessTreeError } from "./SupervisorError.ts"

export { ProcessTreeError } from "./SupervisorError.ts"

export interface ProcessInfo {
  readonly pid: number
  readonly ppid: number
  readonly pgid: number
  /** Session id; `undefined` where the process table does not expose it. */
  readonly sid: number | undefined
  /** Exited but not yet reaped: holds no memory and cannot run, so it counts as gone. */
  readonly zombie: boolean
  /** Start time in clock ticks after boot (Linux); with the pid it identifies a process across snapshots. */
  readonly startTicks: number | undefined
  /** User + system CPU time consumed so far (Linux only). */
  readonly cpuSeconds: number | undefined
  readonly rssBytes: number
}

const runPs = Effect.callback<string, ProcessTreeError>((resume) => {
  ChildProcess.execFile(
    "ps",
    ["-A", "-o", "pid=,ppid=,pgid=,rss=,stat="],
    { maxBuffer: 16 * 1024 * 1024, windowsHide: true },
    (error, stdout) => {
      resume(
        error === null
          ? Effect.succeed(stdout)
          : Effect.fail(new ProcessTreeError({ message: `ps failed: ${error.message}` }))
      )
    }
  )
})

const parsePs = (stdout: string): ReadonlyArray<ProcessInfo> => {
  const out: Array<ProcessInfo> = []
  for (const line of stdout.split("\n")) {
    const columns = line.trim().split(/\s+/)
    const [pid, ppid, pgid, rssKib] = columns.map(Number)
    if (pid === undefined || ppid === undefined || pgid === undefined || !Number.isInteger(pid)) continue
    out.push({
      pid,
      ppid,
      pgid,
      sid: undefined,
      zombie: columns[4]?.startsWith("Z") ?? false,
      startTicks: undefined,
      cpuSeconds: undefined,
      rssBytes: (rssKib ?? 0) * 1024
    })
  }
  return out
}

/**
 * How long one pass over the process table answers `recentSnapshot`, which the supervisor polls: every running
 * component looks at its tree every couple of seconds, and every stopping one every 50 ms until its processes are
 * gone. With 100 instances stopping at once and a pass each, the passes took longer than the 50 ms between them on
 * this machine (about 400 processes), and stopping them all took 1.7–2.0 s; shared, 0.4–0.8 s.
 */
export const shareMs = 20

const shared = (tree: typeof ProcessTree, scan: Effect.Effect<ReadonlyArray<ProcessInfo>, ProcessTreeError>) =>
  Layer.effect(
    tree,
    Effect.map(
      Effect.cachedWithTTL(scan, (exit) => (Exit.isSuccess(exit) ? Duration.millis(shareMs) : Duration.zero)),
      (recentSnapshot) => tree.of({ snapshot: scan, recentSnapshot })
    )
  )

export class ProcessTree extends Context.Service<ProcessTree, {
  /** The process table now. */
  readonly snapshot: Effect.Effect<ReadonlyArray<ProcessInfo>, ProcessTreeError>
  /**
   * The process table as of at most `shareMs` ago: one pass answers everyone who asks meanwhile. For polling, where
   * a snapshot's age matters no more than the moment the poll happens to run at.
   */
  readonly recentSnapshot: Effect.Effect<ReadonlyArray<ProcessInfo>, ProcessTreeError>
}>()("@maikit/core/ProcessTree") {
  static readonly layerProcfs: Layer.Layer<ProcessTree> = shared(ProcessTree, Effect.try({
    try: (): ReadonlyArray<ProcessInfo> => Procfs.readAll(),
    catch: (cause) => new ProcessTreeError({ message: `cannot read /proc: ${String(cause)}` })
  }))

  static readonly layerPs: Layer.Layer<ProcessTree> = shared(ProcessTree, Effect.map(runPs, parsePs))

  /** `/proc` on Linux, `ps` everywhere else. */
  static readonly layer: Layer.Layer<ProcessTree> = process.platform === "linux"
    ? ProcessTree.layerProcfs
    : ProcessTree.layerPs
}

/**
 * The tree rooted at `root` within one snapshot, deepest first (so parents cannot respawn children between
 * kills). Zombies are left out. The calling process and its ancestors are never members, whatever the ids say.
 */
export const membersOf = (snapshot: ReadonlyArray<ProcessInfo>, root: number): ReadonlyArray<ProcessInfo> => {
  if (root <= 1) return []
  const byPid = new Map<number, ProcessInfo>()
  const children = new Map<number, Array<ProcessInfo>>()
  for (const info of snapshot) {
    byPid.set(info.pid, info)
    const siblings = children.get(info.ppid)
    if (siblings === undefined) children.set(info.ppid, [info])
    else siblings.push(info)
  }
  const protectedPids = new Set<number>()
  for (let pid: number | undefined = process.pid; pid !== undefined && !protectedPids.has(pid);) {
    protectedPids.add(pid)
    pid = byPid.get(pid)?.ppid
  }
  const depth = new Map<number, number>()
  const visit = (info: ProcessInfo, level: number): void => {
    if (depth.has(info.pid) || protectedPids.has(info.pid)) return
    depth.set(info.pid, level)
    for (const child of children.get(info.pid) ?? []) visit(child, level + 1)
  }
  for (const info of snapshot) {
    if (info.pid === root || info.sid === root || info.pgid === root) visit(info, info.pid === root ? 0 : 1)
  }
  return [...depth.keys()]
    .flatMap((pid) => {
      const info = byPid.get(pid)
      return info === undefined || info.zombie ? [] : [info]
    })
    .toSorted((a, b) => (depth.get(b.pid) ?? 0) - (depth.get(a.pid) ?? 0))
}

/** The live members of `root`'s tree, deepest first. */
export const members = (root: number): Effect.Effect<ReadonlyArray<ProcessInfo>, ProcessTreeError, ProcessTree> =>
  ProcessTree.use((tree) => Effect.map(tree.snapshot, (snapshot) => membersOf(snapshot, root)))

/** Sends a signal and reports whether it was delivered; a process that is already gone is not an error. */
export const sendSignal = (pid: number, signal: NodeJS.Signals): boolean => {
  try {
    process.kill(pid, signal)
    return true
  } catch {
    return false
  }
}

/** Signals every member of `root`'s tree deepest first, then `root`'s process group. Returns the pids signalled. */
export const killTree = (
  root: number,
  signal: NodeJS.Signals = "SIGKILL"
): Effect.Effect<ReadonlyArray<number>, ProcessTreeError, ProcessTree> =>
  Effect.map(members(root), (tree) => {
    const signalled = tree.filter((info) => sendSignal(info.pid, signal)).map((info) => info.pid)
    if (process.platform !== "win32") sendSignal(-root, signal)
    return signalled
  })
