/**
 * Supervises one component (MaiBot itself, NapCat, the NapCat adapter…): a command on its own PTY, in its own
 * session and process group, with a restart policy, exponential backoff, a crash-loop budget, a graceful stop
 * that ends in a tree kill, output history, bounded fan-out to any number of subscribers, and statistics.
 *
 * States: `stopped` → `starting` → `running` → (`stopping` → `stopped`) | (`backing-off` → `starting` …) | `errored`.
 *
 * - `running` means "alive for `startSeconds`" (default 1 s, supervisord's `startsecs` and PM2's `min_uptime`):
 *   a process that dies sooner never looked healthy, and a dependent started by `ComponentGroup` should not be
 *   started against it. `startSeconds: 0` reports `running` as soon as the process is spawned.
 * - Restart policy `no | on-failure | always`. A failure is a non-zero exit code or death by a signal that the
 *   supervisor did not send. A process that ends and will not be restarted is `stopped` after a clean exit and
 *   `errored` after a failure (systemd's "failed"), so a dead bot is visible as such.
 * - Backoff before each automatic restart: `initialMs × factor^n`, ±`jitter`, capped at `maxMs` (defaults are
 *   PM2's exp_backoff: 100 ms × 1.5, cap 15 s, ±10 % jitter). `n` goes back to 0 after a run that lasted
 *   `resetAfterMs` (PM2's 30 s).
 * - Crash-loop budget: at most `maxStarts` starts within `windowMs` (default 10 in 60 s); the next automatic
 *   restart becomes `errored` instead. Starts count whether or not the run reached `running` (as PM2 and systemd
 *   do, unlike supervisord, which forgets the budget once a process is RUNNING). A manual `start` resets it.
 * - Stop: the stop signal (SIGINT, i.e. Ctrl+C) to the process group and to any member that left the group,
 *   `stopGraceMs` (default 5 s) for the tree to exit, then SIGKILL to every member deepest first and to the
 *   group. The same sweep runs after every exit, so children of a crashed process never survive into the next
 *   run (PM2 #5290), and when the owning scope closes.
 * - Output: each PTY read is cut at the last complete UTF-8 character (the rest, at most 3 bytes, waits for the
 *   next read), recorded as raw bytes in `OutputHistory` whether or not anyone is subscribed, and decoded once
 *   for all subscribers only if there are any, coalesced over `outputWindowMs` (a PTY read is at most 4 KiB, so a
 *   flood would otherwise wake every subscriber thousands of times a second). Each subscriber has a bounded
 *   queue; one that falls behind is dropped (its stream fails with `SubscriberOverflow`) and never slows the
 *   process or the other subscribers.
 *   The only brake on the process is the history file: if the disk falls more than `highWaterBytes` behind, the
 *   PTY is paused until it catches up.
 * - The PTY lives where `ptyHost` says: on the main thread by default, on a shared PTY thread under
 *   `InstanceSupervisor` (see `PtyHost`). Output reaches this module the same way from either.
 *
 * - Adoption: `adopt` takes over a process a killed MaiKit left running (found by its recorded pid and start time):
 *   it counts as `running` with the message "adopted: output not available until restart" (its terminal belonged
 *   to the dead MaiKit), `write` fails, stop works like any stop (signals to its group and members, then SIGKILL),
 *   and when it ends (exit status unknown: it is not MaiKit's child) the restart policy applies as after a failure.
 * - Every run's processes carry `MAIKIT_RUN_ID` in their environment, and a `recorder` hears of each run as it
 *   starts and once its tree is gone, so a supervisor can persist what a crash of MaiKit would leave behind.
 *
 * Windows (ConPTY) is not covered by the tests: there the stop signal is a Ctrl+C typed into the console and the
 * kill is node-pty's own, so grandchildren are not swept.
 */
import { Cause, Deferred, Effect, Fiber, Option, Queue, Random, Result, Schema, Scope, Semaphore, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Fanout } from "./internal/fanout.ts"
import * as JsonText from "./internal/jsonText.ts"
import { completeLength, sequenceLength } from "./internal/utf8.ts"
import * as OutputHistory from "./OutputHistory.ts"
import * as ProcessTree from "./ProcessTree.ts"
import * as PtyHost from "./PtyHost.ts"
import { ComponentNotRunning, ComponentSpawnError, type HistoryError, SubscriberOverflow } from "./SupervisorError.ts"

export { ComponentNotRunning, ComponentSpawnError, SubscriberOverflow } from "./SupervisorError.ts"

export const RestartPolicy = Schema.Literals(["no", "on-failure", "always"])
export type RestartPolicy = typeof RestartPolicy.Type

export const ComponentState = Schema.Literals(["stopped", "starting", "running", "stopping", "backing-off", "errored"])
export type ComponentState = typeof ComponentState.Type

export const ExitInfo = Schema.Struct({
  code: Schema.Int,
  /** Name of the signal that ended the process, if one did. */
  signal: Schema.NullOr(Schema.String),
  at: Schema.Number
})
export type ExitInfo = typeof ExitInfo.Type

export const ComponentStatus = Schema.Struct({
  name: Schema.String,
  state: ComponentState,
  pid: Schema.NullOr(Schema.Int),
  /** When this state was entered, epoch ms. */
  since: Schema.Number,
  lastExit: Schema.NullOr(ExitInfo),
  /** While `backing-off`: the delay before the next start. */
  restartDelayMs: Schema.NullOr(Schema.Number),
  /** Why the component is `errored` or was not restarted. */
  message: Schema.NullOr(Schema.String)
})
export type ComponentStatus = typeof ComponentStatus.Type

export const ComponentStats = Schema.Struct({
  name: Schema.String,
  state: ComponentState,
  pid: Schema.NullOr(Schema.Int),
  /** Every spawn, manual or automatic. */
  startCount: Schema.Int,
  /** Automatic restarts only. */
  restartCount: Schema.Int,
  /** Seconds alive, summed over all runs including the current one. */
  totalRuntimeSeconds: Schema.Number,
  /** Epoch ms of the latest spawn. */
  lastStartTime: Schema.NullOr(Schema.Number),
  uptimeSeconds: Schema.Number,
  /** CPU of the whole tree since the previous `stats` call (or since spawn), 100 = one core. Linux only. */
  cpuPercent: Schema.NullOr(Schema.Number),
  /** Resident memory of the whole tree. */
  memoryBytes: Schema.NullOr(Schema.Number),
  processCount: Schema.Int,
  /** Why the component is `errored` or backing off, or that it was adopted (`adoptedMessage`). */
  message: Schema.NullOr(Schema.String)
})
export type ComponentStats = typeof ComponentStats.Type

export const OutputEvent = Schema.TaggedStruct("Output", {
  timestamp: Schema.Number,
  data: Schema.String
})
export type OutputEvent = typeof OutputEvent.Type

/** The bytes a component's process wrote, for each output event the component published. */
const outputBytes = new WeakMap<OutputEvent, ReadonlyArray<Uint8Array>>()
const noBytes = new Uint8Array(0)

/**
 * `event.data` as a JSON string literal, in UTF-8 (the bytes of `JSON.stringify(event.data)`), between `before`
 * and `after`, so that a JSON message around it is made in one buffer. For an event as a component published it,
 * escaped straight from the bytes its process wrote (see `internal/jsonText.ts`): a fraction of the cost of
 * stringifying the text, for adapters that send output as JSON (the terminal socket).
 */
export const dataAsJson = (event: OutputEvent, before: Uint8Array = noBytes, after: Uint8Array = noBytes): Buffer => {
  const bytes = outputBytes.get(event)
  return (bytes === undefined ? undefined : JsonText.quote(bytes, before, after)) ??
    Buffer.concat([before, Buffer.from(JSON.stringify(event.data)), after])
}

export const StatusEvent = Schema.TaggedStruct("Status", {
  status: ComponentStatus
})
export type StatusEvent = typeof StatusEvent.Type

export const ComponentEvent = Schema.Union([OutputEvent, StatusEvent])
export type ComponentEvent = typeof ComponentEvent.Type

/** The environment variable that carries a run's id into every process the run starts. */
export const runIdVariable = "MAIKIT_RUN_ID"

/** A run as a recorder hears of it. */
export interface RunInfo {
  readonly pid: number
  /** Random, per run; also in the environment of the run's processes (`runIdVariable`). */
  readonly runId: string
  /** Epoch milliseconds of the spawn. */
  readonly startedAt: number
}

/** Told of each spawned run once it exists and once its whole tree is gone. Failures are the recorder's to log. */
export interface RunRecorder {
  readonly started: (run: RunInfo) => Effect.Effect<void>
  readonly ended: (run: RunInfo) => Effect.Effect<void>
}

/** A process a killed MaiKit left running, identified beyond doubt (pid and start time) by whoever found it. */
export interface Survivor extends RunInfo {
  /** Its start time in clock ticks after boot, which tells it from a later process given the same pid. */
  readonly startTicks: number
  /** The processes of its run found with it, including any that left its session; stop sweeps them too. */
  readonly members: ReadonlyArray<ProcessTree.ProcessInfo>
}

/** What an adopted component's status says while it runs. */
export const adoptedMessage = "adopted: output not available until restart"

export interface BackoffOptions {
  readonly initialMs: number
  readonly factor: number
  readonly maxMs: number
  /** Fraction of the delay added or removed at random, 0 … 1. */
  readonly jitter: number
  /** A run at least this long resets the delay to `initialMs`. */
  readonly resetAfterMs: number
}

export interface CrashLoopOptions {
  readonly maxStarts: number
  readonly windowMs: number
}

export interface Spec {
  readonly name: string
  readonly file: string
  readonly args?: ReadonlyArray<string> | undefined
  readonly cwd: string
  /** Laid over the supervisor's environment; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  readonly restart?: RestartPolicy | undefined
  readonly backoff?: Partial<BackoffOptions> | undefined
  readonly crashLoop?: Partial<CrashLoopOptions> | undefined
  readonly startSeconds?: number | undefined
  readonly stopSignal?: NodeJS.Signals | undefined
  readonly stopGraceMs?: number | undefined
  readonly cols?: number | undefined
  readonly rows?: number | undefined
  readonly history: OutputHistory.Options
  /** Events a subscriber may have queued before it is dropped. Default 1024. */
  readonly subscriberCapacity?: number | undefined
  /**
   * Output read within this many milliseconds reaches subscribers as one event (sooner once 256 KiB are waiting,
   * and always before a status event or a new subscriber's backlog). 0 publishes every read. Default 4.
   */
  readonly outputWindowMs?: number | undefined
  /**
   * How often a live tree is scanned to remember its members (0 = never). Without it, a grandchild that called
   * setsid() and whose parent then crashed cannot be told apart from any other process. Default 2000 ms.
   */
  readonly treeScanMs?: number | undefined
  readonly recorder?: RunRecorder | undefined
  /**
   * Where the PTY lives. Default: a `PtyHost.mainThread()` of this component's own. `InstanceSupervisor` shares
   * one `PtyHost.workerThread` among all its components, so that the main thread's other work never stops a
   * process from printing.
   */
  readonly ptyHost?: PtyHost.PtyHost | undefined
}

export const defaults = {
  restart: "on-failure",
  backoff: { initialMs: 100, factor: 1.5, maxMs: 15_000, jitter: 0.1, resetAfterMs: 30_000 },
  crashLoop: { maxStarts: 10, windowMs: 60_000 },
  startSeconds: 1,
  stopSignal: "SIGINT",
  stopGraceMs: 5_000,
  cols: 80,
  rows: 25,
  subscriberCapacity: 1024,
  treeScanMs: 2_000,
  outputWindowMs: 4
} as const

/**
 * Output waiting for its window that is published at once. Large enough that a flood's window fills it rarely:
 * fewer, bigger events cost a third less CPU per megabyte than 64 KiB ones (the supervisor bench), their
 * strings living outside the young generation the garbage collector copies.
 */
const outputBatchBytes = 256 * 1024

/** How long a SIGKILLed tree may take to disappear before the stop gives up waiting. */
const killSettleMs = 2_000
/** Liveness re-check period while waiting for a tree to exit (PM2 uses 100 ms). */
const pollMs = 50
/** How often an adopted process, which sends no exit event, is looked for in the process table. */
const adoptedPollMs = 500

export interface Subscription {
  /** The ring's content at the moment of subscribing; `events` continues exactly after it. */
  readonly backlog: ReadonlyArray<OutputHistory.OutputRecord>
  readonly status: ComponentStatus
  /** Ends when the subscription's scope or the component closes; fails with `SubscriberOverflow` if it falls behind. */
  readonly events: Stream.Stream<ComponentEvent, SubscriberOverflow>
}

export interface ComponentProcess {
  readonly name: string
  readonly status: Effect.Effect<ComponentStatus>
  /** Waits until the status satisfies `predicate` (checked immediately, then on every transition). */
  readonly awaitStatus: (predicate: (status: ComponentStatus) => boolean) => Effect.Effect<ComponentStatus>
  /** Spawns the process (no-op if it is already up; skips the wait when backing off) and returns once it exists. */
  readonly start: Effect.Effect<void, ComponentSpawnError>
  /**
   * Takes over a survivor of a killed MaiKit as this component's current run. Returns `false`, changing nothing,
   * when the component already runs (the caller must then stop the survivor: never two copies).
   */
  readonly adopt: (survivor: Survivor) => Effect.Effect<boolean>
  /** Stops the process and its whole tree; returns once they are gone. */
  readonly stop: Effect.Effect<void>
  readonly restart: Effect.Effect<void, ComponentSpawnError>
  /** Raw input to the PTY, as typed (use `\r` for Enter). */
  readonly write: (data: string | Uint8Array) => Effect.Effect<void, ComponentNotRunning>
  /** Applies now and to later runs. */
  readonly resize: (cols: number, rows: number) => Effect.Effect<void>
  readonly stats: Effect.Effect<ComponentStats>
  readonly subscribe: (options?: {
    readonly capacity?: number | undefined
  }) => Effect.Effect<Subscription, never, Scope.Scope>
  readonly history: OutputHistory.OutputHistory
}

interface Run {
  /** `undefined` for an adopted process: its terminal belonged to the MaiKit that died. */
  readonly pty: PtyHost.Terminal | undefined
  readonly pid: number
  readonly runId: string
  readonly startedAt: number
  readonly exited: Deferred.Deferred<ExitInfo>
  ended: boolean
  paused: boolean
  /** Tree members seen by the periodic scan, so a child that left the session is still found after a crash. */
  known: ReadonlyArray<ProcessTree.ProcessInfo>
}

const isWindows = process.platform === "win32"

const signalName = (signal: number | undefined): string | null => {
  if (signal === undefined || signal === 0) return null
  for (const [name, value] of Object.entries(Os.constants.signals)) if (value === signal) return name
  return `SIG${signal}`
}

const isExecutableFile = (file: string): boolean => {
  try {
    Fs.accessSync(file, isWindows ? Fs.constants.F_OK : Fs.constants.X_OK)
    return Fs.statSync(file).isFile()
  } catch {
    return false
  }
}

/** What execvp would find, checked up front so a typo is a typed error instead of a one-line crash on the PTY. */
const findExecutable = (file: string, cwd: string, pathVariable: string | undefined): boolean => {
  if (isWindows) return true
  if (file.includes("/")) return isExecutableFile(Path.resolve(cwd, file))
  return (pathVariable ?? "").split(Path.delimiter).some((dir) => dir !== "" && isExecutableFile(Path.join(dir, file)))
}

/** Creates the supervisor of one component, initially `stopped`; closing the scope stops it and ends subscribers. */
export const make = Effect.fnUntraced(function*(
  spec: Spec
): Effect.fn.Return<ComponentProcess, HistoryError, Scope.Scope | ProcessTree.ProcessTree> {
  const name = spec.name
  const tree = yield* ProcessTree.ProcessTree
  const scope = yield* Effect.scope
  const context = yield* Effect.context<never>()
  const policy = spec.restart ?? defaults.restart
  const backoff: BackoffOptions = { ...defaults.backoff, ...spec.backoff }
  const crashLoop: CrashLoopOptions = { ...defaults.crashLoop, ...spec.crashLoop }
  const startMs = Math.max(0, (spec.startSeconds ?? defaults.startSeconds) * 1000)
  const stopSignal = spec.stopSignal ?? defaults.stopSignal
  const stopGraceMs = Math.max(0, spec.stopGraceMs ?? defaults.stopGraceMs)
  const defaultCapacity = Math.max(1, spec.subscriberCapacity ?? defaults.subscriberCapacity)
  const treeScanMs = Math.max(0, spec.treeScanMs ?? defaults.treeScanMs)
  const env: Record<string, string | undefined> = { ...process.env, ...spec.env }
  let cols = spec.cols ?? defaults.cols
  let rows = spec.rows ?? defaults.rows

  const history = yield* OutputHistory.make({
    ...spec.history,
    onWriteError: (error) => {
      spec.history.onWriteError?.(error)
      Effect.runForkWith(context)(Effect.logWarning(error.message).pipe(Effect.annotateLogs({ component: name })))
    }
  })
  const fanout = new Fanout<ComponentEvent, SubscriberOverflow>()
  const outputWindowMs = Math.max(0, spec.outputWindowMs ?? defaults.outputWindowMs)
  let pending: Array<Uint8Array> = []
  let pendingBytes = 0
  let pendingSince = 0
  let pendingTimer: ReturnType<typeof setTimeout> | undefined
  const flushOutput = (): void => {
    if (pendingTimer !== undefined) clearTimeout(pendingTimer)
    pendingTimer = undefined
    if (pending.length === 0) return
    const pieces = pending
    pending = []
    pendingBytes = 0
    // Decoded piece by piece, not concatenated first: a flood would otherwise copy every byte into a new buffer,
    // and the garbage collector counts buffers' memory against a budget that, spent, costs a full collection.
    if (!fanout.isEmpty) {
      const data = pieces.length === 1 ? decoder.decode(pieces[0]) : pieces.map((piece) => decoder.decode(piece)).join("")
      const event: OutputEvent = { _tag: "Output", timestamp: pendingSince, data }
      outputBytes.set(event, pieces)
      fanout.publish(event)
    }
  }
  const publishOutput = (timestamp: number, bytes: Uint8Array): void => {
    if (fanout.isEmpty) return
    if (pending.length === 0) pendingSince = timestamp
    pending.push(bytes)
    pendingBytes += bytes.length
    if (outputWindowMs === 0 || pendingBytes >= outputBatchBytes) flushOutput()
    else pendingTimer ??= setTimeout(flushOutput, outputWindowMs)
  }
  // Chunks are cut on character boundaries before they get here, so a stateless decode of each is exact.
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true })
  const lock = Semaphore.makeUnsafe(1)

  let status: ComponentStatus = {
    name,
    state: "stopped",
    pid: null,
    since: Date.now(),
    lastExit: null,
    restartDelayMs: null,
    message: null
  }
  let current: Run | undefined
  let runner: Fiber.Fiber<void> | undefined
  let startCount = 0
  let restartCount = 0
  let finishedRuntimeMs = 0
  let lastStartTime: number | null = null
  let lastExit: ExitInfo | null = null
  let recentStarts: Array<number> = []
  let attempt = 0
  let cpuBaseline: { readonly at: number; readonly byProcess: Map<string, number> } | undefined
  const waiters = new Set<{ readonly predicate: (status: ComponentStatus) => boolean; readonly deferred: Deferred.Deferred<ComponentStatus> }>()

  // Output and status events share one timeline; keeping it monotonic keeps history queries and replays ordered.
  let lastTimestamp = 0
  const now = (): number => {
    const time = Date.now()
    lastTimestamp = time > lastTimestamp ? time : lastTimestamp
    return lastTimestamp
  }

  const transition = (
    state: ComponentState,
    fields: { readonly pid?: number | null; readonly restartDelayMs?: number; readonly message?: string } = {}
  ): void => {
    status = {
      name,
      state,
      pid: fields.pid ?? null,
      since: now(),
      lastExit,
      restartDelayMs: fields.restartDelayMs ?? null,
      message: fields.message ?? null
    }
    flushOutput()
    fanout.publish({ _tag: "Status", status })
    for (const waiter of waiters) {
      if (waiter.predicate(status)) {
        waiters.delete(waiter)
        Deferred.doneUnsafe(waiter.deferred, Effect.succeed(status))
      }
    }
  }

  const ptyHost = spec.ptyHost ?? PtyHost.mainThread()

  const spawn = Effect.suspend(() => {
    const runId = Crypto.randomUUID()
    return Effect.map(
      ptyHost.spawn({
        component: name,
        file: spec.file,
        args: spec.args ?? [],
        cwd: spec.cwd,
        env: { ...env, [runIdVariable]: runId },
        cols,
        rows
      }),
      (pty) => watch(pty, runId)
    )
  })

  const watch = (pty: PtyHost.Terminal, runId: string): Run => {
    const run: Run = {
      pty,
      pid: pty.pid,
      runId,
      startedAt: Date.now(),
      exited: Deferred.makeUnsafe<ExitInfo>(),
      ended: false,
      paused: false,
      known: []
    }
    let carry: Uint8Array | undefined
    /**
     * `release` (see `PtyHost.Terminal.onData`) goes to the history, which hands the batch back to the PTY thread
     * once it is written and out of the ring. Output events may be held for as long as a subscriber likes, so they
     * get a copy of their own. It is the subscribers who get the copy, not the history: a copy waiting for its
     * write outlived two young-generation collections and was promoted, and in the supervisor bench those copies
     * cost three or four full collections per 100 MB flood (0.37 against 0.12 s of the collector's threads).
     */
    const record = (received: Uint8Array, release?: () => void): void => {
      if (received.length === 0) {
        release?.()
        return
      }
      const timestamp = now()
      if (!history.appendUnsafe(timestamp, received, release) && !run.paused) {
        run.paused = true
        pty.pause()
        history.onDrainUnsafe(() => {
          run.paused = false
          if (!run.ended) pty.resume()
        })
      }
      if (!fanout.isEmpty) publishOutput(timestamp, release === undefined ? received : Buffer.from(received))
    }
    pty.onData((batch, release) => {
      let received = batch
      if (carry !== undefined) {
        // The character the previous read cut is completed and recorded on its own, so that this batch is not
        // copied whole (and can still be released).
        const needed = sequenceLength(carry[0] ?? 0) - carry.length
        let taken = 0
        while (taken < needed && taken < received.length && ((received[taken] ?? 0) & 0xc0) === 0x80) taken++
        const head = Buffer.concat([carry, received.subarray(0, taken)])
        received = received.subarray(taken)
        if (taken < needed && received.length === 0) {
          carry = head
          release?.()
          return
        }
        carry = undefined
        record(head)
      }
      const cut = completeLength(received)
      // Copied: the batch may be released, and its memory reused, while the carry waits for the next one.
      carry = cut < received.length ? Buffer.from(received.subarray(cut)) : undefined
      record(received.subarray(0, cut), release)
    })
    pty.onExit(({ exitCode, signal }) => {
      // A multi-byte sequence cut off by the exit still becomes visible (as U+FFFD) instead of vanishing.
      if (carry !== undefined) record(carry)
      const at = Date.now()
      run.ended = true
      finishedRuntimeMs += at - run.startedAt
      lastExit = { code: exitCode, signal: signalName(signal), at }
      Deferred.doneUnsafe(run.exited, Effect.succeed(lastExit))
    })
    return run
  }

  /** Checks what a spawn needs. */
  const preflight = Effect.suspend(() => {
    if (!Fs.existsSync(spec.cwd) || !Fs.statSync(spec.cwd).isDirectory()) {
      return Effect.fail(new ComponentSpawnError({ component: name, message: `working directory not found: ${spec.cwd}` }))
    }
    if (!findExecutable(spec.file, spec.cwd, env["PATH"])) {
      return Effect.fail(new ComponentSpawnError({ component: name, message: `command not found or not executable: ${spec.file}` }))
    }
    return Effect.void
  })

  /**
   * Live members of a run's tree: the snapshot's, plus any seen earlier that escaped it. An escaped pid only counts
   * with the same start time (Linux), so a recycled pid is never mistaken for a member. This takes the recent
   * snapshot all components share, which a hundred instances stopping at once need (see `ProcessTree.shareMs`);
   * a process it misses, forked out of the group within the last moments, is found by the polls that follow and
   * killed with the survivors, whose list alone is taken fresh.
   */
  const liveMembers = (
    run: Run,
    known: ReadonlyArray<ProcessTree.ProcessInfo>,
    snapshotOf: Effect.Effect<ReadonlyArray<ProcessTree.ProcessInfo>, ProcessTree.ProcessTreeError> = tree.recentSnapshot
  ) =>
    Effect.map(Effect.option(snapshotOf), (snapshot): ReadonlyArray<ProcessTree.ProcessInfo> => {
      if (Option.isNone(snapshot)) return []
      const found = ProcessTree.membersOf(snapshot.value, run.pid)
      const pids = new Set(found.map((info) => info.pid))
      const byPid = new Map(snapshot.value.map((info) => [info.pid, info]))
      const escaped = known.filter((info) => {
        const latest = byPid.get(info.pid)
        return !pids.has(info.pid) && latest !== undefined && !latest.zombie && info.startTicks !== undefined &&
          latest.startTicks === info.startTicks
      })
      return escaped.length === 0 ? found : [...escaped, ...found]
    })

  const awaitGone = (run: Run, known: ReadonlyArray<ProcessTree.ProcessInfo>, withinMs: number) =>
    Effect.gen(function*() {
      const deadline = Date.now() + withinMs
      while (true) {
        // An adopted leader is not our child, so no exit event says it is gone: the snapshot does.
        const live = run.ended || run.pty === undefined ? yield* liveMembers(run, known) : undefined
        if (live !== undefined && live.length === 0) return true
        if (Date.now() >= deadline) return false
        yield* Effect.sleep(pollMs)
      }
    })

  /** The stop sequence; also the sweep after a natural exit, when only orphans (if any) are left. */
  const terminate = (run: Run) =>
    Effect.gen(function*() {
      if (!run.ended) transition("stopping", { pid: run.pid })
      const known = yield* liveMembers(run, run.known)
      if (!run.ended && isWindows) run.pty?.write("\x03")
      else if (!ProcessTree.sendSignal(-run.pid, stopSignal) && !run.ended) ProcessTree.sendSignal(run.pid, stopSignal)
      for (const info of known) if (info.pgid !== run.pid) ProcessTree.sendSignal(info.pid, stopSignal)
      if (yield* awaitGone(run, known, stopGraceMs)) return
      const survivors = yield* liveMembers(run, known, tree.snapshot)
      yield* Effect.logWarning(`stop grace of ${stopGraceMs} ms elapsed; killing ${survivors.length} process(es)`).pipe(
        Effect.annotateLogs({ component: name })
      )
      for (const info of survivors) ProcessTree.sendSignal(info.pid, "SIGKILL")
      ProcessTree.sendSignal(-run.pid, "SIGKILL")
      if (!run.ended && run.pty !== undefined) run.pty.kill(isWindows ? undefined : "SIGKILL")
      yield* awaitGone(run, known, killSettleMs)
    })

  const infoOf = (run: Run): RunInfo => ({ pid: run.pid, runId: run.runId, startedAt: run.startedAt })

  const acquire = (survivor: Survivor | undefined): Effect.Effect<Run, ComponentSpawnError> =>
    survivor !== undefined
      ? Effect.sync((): Run => ({
        pty: undefined,
        pid: survivor.pid,
        runId: survivor.runId,
        startedAt: survivor.startedAt,
        exited: Deferred.makeUnsafe<ExitInfo>(),
        ended: false,
        paused: false,
        known: survivor.members
      }))
      : Effect.andThen(preflight, spawn)

  /** An adopted process is not MaiKit's child, so no exit event comes: the process table says when it is gone. */
  const watchAdopted = (run: Run, startTicks: number) =>
    Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(adoptedPollMs)
        const snapshot = yield* Effect.option(tree.recentSnapshot)
        if (Option.isNone(snapshot)) continue
        const leader = snapshot.value.find((info) => info.pid === run.pid)
        if (leader !== undefined && !leader.zombie && leader.startTicks === startTicks) continue
        const at = Date.now()
        run.ended = true
        finishedRuntimeMs += at - run.startedAt
        lastExit = { code: -1, signal: null, at }
        Deferred.doneUnsafe(run.exited, Effect.succeed(lastExit))
        return
      }
    })

  const runOnce = (spawned: Deferred.Deferred<void, ComponentSpawnError>, survivor: Survivor | undefined) =>
    Effect.scoped(Effect.gen(function*() {
      const run = yield* Effect.acquireRelease(
        acquire(survivor),
        (acquired) => Effect.andThen(terminate(acquired), spec.recorder?.ended(infoOf(acquired)) ?? Effect.void)
      )
      current = run
      lastStartTime = run.startedAt
      cpuBaseline = undefined
      if (survivor === undefined) {
        startCount++
        transition("starting", { pid: run.pid })
        if (spec.recorder !== undefined) yield* spec.recorder.started(infoOf(run))
      } else {
        transition("running", { pid: run.pid, message: adoptedMessage })
        yield* Effect.forkScoped(watchAdopted(run, survivor.startTicks))
      }
      Deferred.doneUnsafe(spawned, Effect.void)
      if (treeScanMs > 0) {
        yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
          yield* Effect.sleep(treeScanMs)
          run.known = yield* liveMembers(run, run.known)
        })))
      }
      const reachedRunning = survivor === undefined &&
        (startMs === 0 || Option.isNone(yield* Effect.timeoutOption(Deferred.await(run.exited), startMs)))
      if (reachedRunning) transition("running", { pid: run.pid })
      return yield* Deferred.await(run.exited)
    }))

  const nextDelay = Effect.map(Random.next, (random) => {
    const base = backoff.initialMs * backoff.factor ** attempt
    return Math.round(Math.min(backoff.maxMs, base * (1 + backoff.jitter * (2 * random - 1))))
  })

  const supervise = (spawned: Deferred.Deferred<void, ComponentSpawnError>, survivor?: Survivor) =>
    Effect.gen(function*() {
      let adopting = survivor
      while (true) {
        recentStarts.push(Date.now())
        const result = yield* Effect.result(runOnce(spawned, adopting))
        const adopted = adopting !== undefined
        adopting = undefined
        current = undefined
        if (Result.isFailure(result)) {
          transition("errored", { message: result.failure.message })
          Deferred.doneUnsafe(spawned, Effect.fail(result.failure))
          return
        }
        const exit = result.success
        const uptimeMs = exit.at - (lastStartTime ?? exit.at)
        if (uptimeMs >= backoff.resetAfterMs) attempt = 0
        // An adopted process's exit status is unknown; counting it as a failure lets `on-failure` restart it.
        const failed = adopted || exit.code !== 0 || exit.signal !== null
        const how = adopted
          ? "ended (adopted: exit status unknown)"
          : exit.signal === null
          ? `exited with code ${exit.code}`
          : `was killed by ${exit.signal}`
        if (policy === "no" || (policy === "on-failure" && !failed)) {
          transition(failed ? "errored" : "stopped", { message: `process ${how}; restart policy "${policy}"` })
          return
        }
        const windowStart = Date.now() - crashLoop.windowMs
        recentStarts = recentStarts.filter((at) => at > windowStart)
        if (recentStarts.length >= crashLoop.maxStarts) {
          const message = `crash loop: ${recentStarts.length} starts within ${crashLoop.windowMs} ms; last process ${how}`
          yield* Effect.logError(message).pipe(Effect.annotateLogs({ component: name }))
          transition("errored", { message })
          return
        }
        const delay = yield* nextDelay
        attempt++
        yield* Effect.logWarning(`process ${how}; restarting in ${delay} ms`).pipe(Effect.annotateLogs({ component: name }))
        transition("backing-off", { restartDelayMs: delay, message: `process ${how}` })
        yield* Effect.sleep(delay)
        restartCount++
      }
    }).pipe(
      // An interrupted first start must not leave its caller waiting for a spawn that will never happen.
      Effect.ensuring(Effect.sync(() => Deferred.doneUnsafe(spawned, Effect.void)))
    )

  const isSupervising = (): boolean => runner !== undefined && runner.pollUnsafe() === undefined

  const stopUnlocked = Effect.gen(function*() {
    const fiber = runner
    runner = undefined
    if (fiber !== undefined) yield* Fiber.interrupt(fiber)
    current = undefined
    if (status.state !== "stopped") transition("stopped")
  })

  const startUnlocked = Effect.gen(function*() {
    if (isSupervising()) {
      if (status.state !== "backing-off") return
      yield* stopUnlocked
    }
    recentStarts = []
    attempt = 0
    const spawned = Deferred.makeUnsafe<void, ComponentSpawnError>()
    runner = yield* Effect.forkIn(supervise(spawned), scope)
    yield* Deferred.await(spawned)
  })

  const adoptUnlocked = (survivor: Survivor) =>
    Effect.gen(function*() {
      if (isSupervising()) return false
      recentStarts = []
      attempt = 0
      const adopted = Deferred.makeUnsafe<void, ComponentSpawnError>()
      runner = yield* Effect.forkIn(supervise(adopted, survivor), scope)
      yield* Effect.ignore(Deferred.await(adopted))
      yield* Effect.logWarning(`adopted pid ${survivor.pid}, left running by a MaiKit that was killed`).pipe(
        Effect.annotateLogs({ component: name })
      )
      return true
    })

  yield* Effect.addFinalizer(() =>
    lock.withPermit(stopUnlocked).pipe(Effect.ensuring(Effect.sync(() => {
      flushOutput()
      fanout.end()
    })))
  )

  const awaitStatus = (predicate: (status: ComponentStatus) => boolean): Effect.Effect<ComponentStatus> =>
    Effect.suspend(() => {
      if (predicate(status)) return Effect.succeed(status)
      const waiter = { predicate, deferred: Deferred.makeUnsafe<ComponentStatus>() }
      waiters.add(waiter)
      return Deferred.await(waiter.deferred).pipe(Effect.ensuring(Effect.sync(() => waiters.delete(waiter))))
    })

  const stats = Effect.gen(function*() {
    const run = current !== undefined && !current.ended ? current : undefined
    const at = Date.now()
    const uptimeMs = run === undefined ? 0 : at - run.startedAt
    let cpuPercent: number | null = null
    let memoryBytes: number | null = null
    let processCount = 0
    if (run !== undefined) {
      const members = yield* liveMembers(run, run.known)
      run.known = members
      processCount = members.length
      if (members.length > 0) memoryBytes = members.reduce((sum, info) => sum + info.rssBytes, 0)
      if (members.length > 0 && members.every((info) => info.cpuSeconds !== undefined)) {
        // pidusage's method: CPU seconds consumed since the previous sample over wall seconds elapsed. A process
        // new since then contributes all its CPU time; one that exited since then simply drops out.
        const previous = cpuBaseline ?? { at: run.startedAt, byProcess: new Map<string, number>() }
        const byProcess = new Map<string, number>()
        let consumed = 0
        for (const info of members) {
          const key = `${info.pid}:${info.startTicks}`
          const seconds = info.cpuSeconds ?? 0
          byProcess.set(key, seconds)
          consumed += Math.max(0, seconds - (previous.byProcess.get(key) ?? 0))
        }
        const elapsed = Math.max(0.001, (at - previous.at) / 1000)
        cpuPercent = Math.round((consumed / elapsed) * 1000) / 10
        cpuBaseline = { at, byProcess }
      }
    }
    return {
      name,
      state: status.state,
      pid: run?.pid ?? null,
      startCount,
      restartCount,
      totalRuntimeSeconds: (finishedRuntimeMs + uptimeMs) / 1000,
      lastStartTime,
      uptimeSeconds: uptimeMs / 1000,
      cpuPercent,
      memoryBytes,
      processCount,
      message: status.message
    } satisfies ComponentStats
  })

  const subscribe = Effect.fnUntraced(function*(options?: { readonly capacity?: number | undefined }) {
    const capacity = Math.max(1, options?.capacity ?? defaultCapacity)
    const queue = yield* Queue.bounded<ComponentEvent, SubscriberOverflow | Cause.Done>(capacity)
    const overflow = new SubscriberOverflow({
      component: name,
      capacity,
      message: `subscriber of ${name} fell ${capacity} events behind and was dropped`
    })
    // Registration and the backlog snapshot happen in one synchronous step, so no chunk is missed or repeated.
    const attached = yield* Effect.acquireRelease(
      Effect.sync(() => {
        flushOutput()
        fanout.add(queue, overflow)
        return { backlog: history.recentUnsafe(), status }
      }),
      () =>
        Effect.sync(() => {
          fanout.remove(queue)
          Queue.endUnsafe(queue)
        })
    )
    return { ...attached, events: Stream.fromQueue(queue) } satisfies Subscription
  })

  return {
    name,
    status: Effect.sync(() => status),
    awaitStatus,
    start: lock.withPermit(startUnlocked),
    adopt: (survivor) => lock.withPermit(adoptUnlocked(survivor)),
    stop: lock.withPermit(stopUnlocked),
    restart: lock.withPermit(Effect.andThen(stopUnlocked, startUnlocked)),
    write: (data) =>
      Effect.suspend(() => {
        const run = current
        if (run === undefined || run.ended) {
          return Effect.fail(
            new ComponentNotRunning({ component: name, state: status.state, message: `${name} is ${status.state}` })
          )
        }
        if (run.pty === undefined) {
          return Effect.fail(
            new ComponentNotRunning({
              component: name,
              state: status.state,
              message: `${name} was adopted from a MaiKit that was killed; its terminal is gone until it restarts`
            })
          )
        }
        run.pty.write(data)
        return Effect.void
      }),
    resize: (newCols, newRows) =>
      Effect.sync(() => {
        cols = Math.max(1, Math.floor(newCols))
        rows = Math.max(1, Math.floor(newRows))
        const run = current
        if (run?.pty !== undefined && !run.ended) {
          try {
            run.pty.resize(cols, rows)
          } catch {
            // the PTY closed between the check and the call; the size still applies to the next run
          }
        }
      }),
    stats,
    subscribe,
    history
  }
})
