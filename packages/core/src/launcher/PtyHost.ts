/**
 * Where a component's PTY lives: on the calling thread (`mainThread`), or on a thread of its own shared by every
 * PTY of a host (`workerThread`), which `InstanceSupervisor` uses.
 *
 * Why a thread: the kernel hands a PTY's output over about 4 KiB per read, and a program that prints faster than
 * its reader reads is stopped by the kernel until it does. On the main thread every moment spent on other work
 * (escaping output for a terminal socket, writing history, HTTP) is a moment the bot cannot print: the supervisor
 * bench's 100 MB flood took half again as long as bare node-pty reading it. The thread reads without that
 * interruption and hands the output over in batches (256 KiB, or what arrived within 2 ms), transferred, not
 * copied. The main thread acknowledges each batch once it has recorded it; with more than `inFlightBytes`
 * unacknowledged, the thread stops reading that PTY until the main thread catches up, so a stalled main thread
 * costs bounded memory and slows the program as it did before, and never more.
 *
 * The thread is plain `node:worker_threads` code given as source text (as `BotDatabase`'s read thread): it needs
 * only node-pty, whose path it is handed, so it runs the same from the sources, the built package and the bundled
 * CLI. It starts on the first spawn. Where it cannot run (a single core, Windows, node-pty that does not load in a
 * thread, a thread that died three times) PTYs live on the main thread, as without it. A thread that dies ends the
 * runs on it as if their processes had died: their supervisors sweep what is left of each process tree.
 */
import { Deferred, Effect } from "effect"
import type * as Pty from "node-pty"
import { createRequire } from "node:module"
import * as Os from "node:os"
import { Worker } from "node:worker_threads"
import { ComponentSpawnError } from "./SupervisorError.ts"

export interface SpawnRequest {
  /** The component, named in errors. */
  readonly component: string
  readonly file: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cols: number
  readonly rows: number
}

export interface TerminalExit {
  readonly exitCode: number
  /** The number of the signal that ended the process, if one did. */
  readonly signal: number | undefined
}

/** A spawned process on its PTY. Output and the exit are delivered to the listeners in order, exit last. */
export interface Terminal {
  readonly pid: number
  readonly write: (data: string | Uint8Array) => void
  readonly resize: (cols: number, rows: number) => void
  readonly kill: (signal?: NodeJS.Signals) => void
  /** Stops reading the PTY (the program blocks once the kernel's buffer is full) until `resume`. */
  readonly pause: () => void
  readonly resume: () => void
  /**
   * Sets the one listener for output; output read before it is set is held for it. `release`, when given, may be
   * called once nothing reads `bytes` any more, handing their memory back for the next batch (a host that reads on
   * another thread gives it); without the call, they are the garbage collector's.
   */
  readonly onData: (listener: DataListener) => void
  /** Sets the one listener for the exit; fires once, after the last output. */
  readonly onExit: (listener: (exit: TerminalExit) => void) => void
}

export type DataListener = (bytes: Uint8Array, release: (() => void) | undefined) => void

export interface PtyHost {
  readonly spawn: (request: SpawnRequest) => Effect.Effect<Terminal, ComponentSpawnError>
}

/**
 * Holds what a terminal delivers until its listeners are set: a thread's messages may arrive before the spawning
 * fiber has resumed to set them.
 */
class Listeners {
  private data: DataListener | undefined
  private exit: ((exit: TerminalExit) => void) | undefined
  private held: Array<readonly [Uint8Array, (() => void) | undefined]> = []
  private exited: TerminalExit | undefined
  ended = false

  setData(listener: DataListener): void {
    this.data = listener
    const held = this.held
    this.held = []
    for (const [bytes, release] of held) listener(bytes, release)
    this.deliverExit()
  }

  setExit(listener: (exit: TerminalExit) => void): void {
    this.exit = listener
    this.deliverExit()
  }

  emitData(bytes: Uint8Array, release?: () => void): void {
    if (this.data === undefined) this.held.push([bytes, release])
    else this.data(bytes, release)
  }

  emitExit(exit: TerminalExit): void {
    if (this.ended) return
    this.ended = true
    this.exited = exit
    this.deliverExit()
  }

  private deliverExit(): void {
    if (this.exited === undefined || this.data === undefined || this.exit === undefined) return
    const exit = this.exited
    this.exited = undefined
    this.exit(exit)
  }
}

const hasErrorEvent = (
  value: object
): value is { on(event: "error", listener: (error: Error) => void): void } =>
  typeof Reflect.get(value, "on") === "function"

const cannotSpawn = (request: SpawnRequest, cause: unknown) =>
  new ComponentSpawnError({
    component: request.component,
    message: `cannot spawn ${request.file}: ${cause instanceof Error ? cause.message : String(cause)}`
  })

const ptyOptions = (request: SpawnRequest): Pty.IPtyForkOptions & { readonly encoding: null } => ({
  name: "xterm-256color",
  cols: request.cols,
  rows: request.rows,
  cwd: request.cwd,
  env: { ...request.env },
  encoding: null
})

/** PTYs on the calling thread; node-pty is loaded on the first spawn, so hosts that never spawn need not install it. */
export const mainThread = (): PtyHost => {
  let nodePty: typeof Pty | undefined
  const load = (component: string) =>
    Effect.suspend(() =>
      nodePty !== undefined ? Effect.succeed(nodePty) : Effect.tryPromise({
        try: async () => (nodePty = await import("node-pty")),
        catch: (cause) =>
          new ComponentSpawnError({
            component,
            message: `node-pty cannot be loaded (install it beside @maikit/core to run processes): ${String(cause)}`
          })
      })
    )
  return {
    spawn: (request) =>
      Effect.flatMap(load(request.component), (module) =>
        Effect.try({
          try: (): Terminal => {
            const pty = module.spawn(request.file, [...request.args], ptyOptions(request))
            const listeners = new Listeners()
            // node-pty's typings say string, but with `encoding: null` it delivers Buffers.
            const onData = pty.onData((chunk: string | Buffer) =>
              listeners.emitData(typeof chunk === "string" ? Buffer.from(chunk) : chunk)
            )
            const onExit = pty.onExit(({ exitCode, signal }) => {
              onData.dispose()
              onExit.dispose()
              listeners.emitExit({ exitCode, signal })
            })
            // node-pty rethrows socket errors nobody listens to; a dying PTY must not take the supervisor down.
            if (hasErrorEvent(pty)) pty.on("error", () => {})
            return {
              pid: pty.pid,
              write: (data) => pty.write(typeof data === "string" ? data : Buffer.from(data)),
              resize: (cols, rows) => pty.resize(cols, rows),
              kill: (signal) => pty.kill(signal),
              pause: () => pty.pause(),
              resume: () => pty.resume(),
              onData: (listener) => listeners.setData(listener),
              onExit: (listener) => listeners.setExit(listener)
            }
          },
          catch: (cause) => cannotSpawn(request, cause)
        }))
  }
}

export interface WorkerThreadOptions {
  /** Output handed over at once when this much has been read. Default 256 KiB. */
  readonly batchBytes?: number | undefined
  /** Output read within this many milliseconds is handed over together. Default 2. */
  readonly batchWindowMs?: number | undefined
  /** Output handed over but not yet recorded by the main thread past which a PTY is not read. Default 4 MiB. */
  readonly inFlightBytes?: number | undefined
}

export const workerThreadDefaults = {
  batchBytes: 256 * 1024,
  batchWindowMs: 2,
  inFlightBytes: 4 * 1024 * 1024
} as const

/** From the main thread to the PTY thread. */
type Command =
  | { readonly op: "spawn"; readonly id: number; readonly file: string; readonly args: ReadonlyArray<string>; readonly options: object }
  | { readonly op: "write"; readonly id: number; readonly data: string | Uint8Array }
  | { readonly op: "resize"; readonly id: number; readonly cols: number; readonly rows: number }
  | { readonly op: "kill"; readonly id: number; readonly signal: string | undefined }
  | { readonly op: "brake"; readonly id: number; readonly on: boolean }
  | { readonly op: "ack"; readonly id: number; readonly bytes: number }
  | { readonly op: "recycle"; readonly buffer: ArrayBuffer }

/**
 * From the PTY thread: readiness, then per terminal its spawn's outcome, its output and its exit.
 *
 * Output arrives in a buffer transferred from the thread. Its reader hands it back (`recycle`) once nothing holds
 * it (the history's ring and file, when no subscriber got it), for the thread's next batch. Left to the garbage
 * collector instead, 256 KiB buffers pile up: the main thread allocates almost nothing else per megabyte, so its
 * collector runs seldom, and in the supervisor bench RSS grew about 130 MB through a 100 MB flood, against about 30
 * with PTYs on the main thread (whose per-read allocations make its collector run often).
 */
interface Report {
  readonly ready?: boolean
  readonly error?: string
  readonly id?: number
  readonly pid?: number
  readonly data?: Uint8Array
  readonly exit?: TerminalExit
}

const source = `
const { parentPort, workerData } = require("node:worker_threads")
const tty = require("node:tty")
// node-pty reads a PTY through a \`tty.ReadStream\` of its own, which allocates a 64 KiB buffer for each read of
// at most 4 KiB and passes it through the stream machinery as a 'data' event: in the supervisor bench, a quarter
// of the CPU its reader spends on a flood. The stream it makes while \`spawn\` below runs is given \`onread\`
// instead: every read lands in one buffer of this thread and is copied into its batch by a plain call, no event.
// Should node-pty stop making its stream this way, its 'data' events still deliver the output, as before.
const { ReadStream } = tty
const readBuffer = Buffer.allocUnsafe(64 * 1024)
let onread
tty.ReadStream = function ReadStreamReadingIntoOneBuffer(fd, options) {
  return new ReadStream(fd, onread === undefined ? options : { ...options, onread })
}
const load = () => {
  try {
    return require(workerData.nodePty)
  } catch (error) {
    parentPort.postMessage({ ready: false, error: String(error && error.message || error) })
    return undefined
  }
}
const nodePty = load()
const { batchBytes, batchWindowMs, inFlightBytes, pooledSizes, pooledBytes } = workerData
const terminals = new Map()
// Batches go to the main thread in buffers it may send back for reuse (see \`Report\`): for a batch of 8 KiB or
// more, the smallest pooled size that holds it, so a record keeps at most twice its size alive; a smaller one in a
// buffer of its own. A buffer the pool has no room for, and the whole pool once output has stopped, is freed at
// once (\`transfer(0)\`): left to this thread's collector, which runs seldom, they pile up in the allocator.
const pools = new Map(pooledSizes.map((size) => [size, []]))
let poolTimer
const freePools = () => {
  poolTimer = undefined
  for (const pool of pools.values()) for (const buffer of pool.splice(0)) buffer.transfer(0)
}
const recycle = (buffer) => {
  const pool = pools.get(buffer.byteLength)
  if (pool === undefined || (pool.length + 1) * buffer.byteLength > pooledBytes) return buffer.transfer(0)
  pool.push(buffer)
  if (poolTimer === undefined) poolTimer = setTimeout(freePools, 2000).unref()
  else poolTimer.refresh()
}
const bufferFor = (bytes) => {
  if (bytes < 8 * 1024) return new ArrayBuffer(bytes)
  const size = pooledSizes.find((candidate) => candidate >= bytes)
  if (size === undefined) return new ArrayBuffer(bytes)
  return pools.get(size).pop() ?? new ArrayBuffer(size)
}
const steer = (terminal) => {
  const pause = terminal.braked || terminal.inFlight >= (terminal.paused ? inFlightBytes / 2 : inFlightBytes)
  if (pause === terminal.paused) return
  terminal.paused = pause
  if (pause) terminal.pty.pause()
  else terminal.pty.resume()
}
// A batch is gathered in a pooled buffer with room for a full batch and one more read, taken when its first
// bytes arrive. A batch that fills half of it is handed over in it; a smaller one is copied into a buffer its size
// and the large one goes straight back to the pool.
const gatheringBytes = batchBytes + readBuffer.length
const flush = (terminal) => {
  if (terminal.timer !== undefined) clearTimeout(terminal.timer)
  terminal.timer = undefined
  if (terminal.bytes === 0) return
  const gathered = terminal.batch.subarray(0, terminal.bytes)
  let data = gathered
  if (gathered.length * 2 < terminal.batch.length) {
    data = new Uint8Array(bufferFor(gathered.length), 0, gathered.length)
    data.set(gathered)
    recycle(terminal.batch.buffer)
  }
  terminal.batch = undefined
  terminal.bytes = 0
  terminal.inFlight += data.length
  parentPort.postMessage({ id: terminal.id, data }, [data.buffer])
  steer(terminal)
}
const gather = (terminal, bytes) => {
  terminal.batch ??= new Uint8Array(bufferFor(gatheringBytes))
  terminal.batch.set(bytes, terminal.bytes)
  terminal.bytes += bytes.length
  if (terminal.bytes >= batchBytes) flush(terminal)
  else if (terminal.timer === undefined) terminal.timer = setTimeout(flush, batchWindowMs, terminal)
}
const spawn = (command) => {
  const terminal = { id: command.id, pty: undefined, batch: undefined, bytes: 0, timer: undefined, inFlight: 0, braked: false, paused: false }
  onread = { buffer: readBuffer, callback: (size) => gather(terminal, readBuffer.subarray(0, size)) }
  try {
    terminal.pty = nodePty.spawn(command.file, command.args, command.options)
  } finally {
    onread = undefined
  }
  const pty = terminal.pty
  terminals.set(command.id, terminal)
  const onData = pty.onData((chunk) => gather(terminal, chunk))
  const onExit = pty.onExit(({ exitCode, signal }) => {
    flush(terminal)
    onData.dispose()
    onExit.dispose()
    terminals.delete(command.id)
    parentPort.postMessage({ id: command.id, exit: { exitCode, signal } })
  })
  if (typeof pty.on === "function") pty.on("error", () => {})
  parentPort.postMessage({ id: command.id, pid: pty.pid })
}
if (nodePty !== undefined) parentPort.on("message", (command) => {
  if (command.op === "recycle") return recycle(command.buffer)
  if (command.op === "spawn") {
    try {
      spawn(command)
    } catch (error) {
      parentPort.postMessage({ id: command.id, error: String(error && error.message || error) })
    }
    return
  }
  const terminal = terminals.get(command.id)
  if (terminal === undefined) return
  try {
    switch (command.op) {
      case "write":
        terminal.pty.write(typeof command.data === "string" ? command.data : Buffer.from(command.data))
        break
      case "resize":
        terminal.pty.resize(command.cols, command.rows)
        break
      case "kill":
        terminal.pty.kill(command.signal)
        break
      case "brake":
        terminal.braked = command.on
        steer(terminal)
        break
      case "ack":
        terminal.inFlight -= command.bytes
        steer(terminal)
        break
    }
  } catch {
    // the PTY closed between the exit and this command; its exit is on its way
  }
})
if (nodePty !== undefined) parentPort.postMessage({ ready: true })
`

const send = (thread: Worker, command: Command, transfer: ReadonlyArray<ArrayBuffer> = []) =>
  // oxlint-disable-next-line require-post-message-target-origin -- a worker thread's port has no origin
  thread.postMessage(command, transfer)

/** After this many threads that died, PTYs stay on the main thread. */
const maxFailures = 3
/** How long PTYs still open when the host closes have to die of SIGKILL. */
const closeGraceMs = 2_000
const pollMs = 20

interface Pending {
  readonly request: SpawnRequest
  readonly spawned: Deferred.Deferred<Terminal, ComponentSpawnError>
}

/** One thread for the PTYs of every spawn through it, started on the first spawn and stopped with the scope. */
export const workerThread = (options: WorkerThreadOptions = {}) =>
  Effect.gen(function*() {
    const fallback = mainThread()
    const settings = {
      batchBytes: Math.max(1, options.batchBytes ?? workerThreadDefaults.batchBytes),
      batchWindowMs: Math.max(0, options.batchWindowMs ?? workerThreadDefaults.batchWindowMs),
      inFlightBytes: Math.max(1, options.inFlightBytes ?? workerThreadDefaults.inFlightBytes)
    }
    // 16 KiB, 32 KiB, … up to what a full batch needs (a read adds at most 64 KiB to it).
    const pooledSizes: Array<number> = []
    for (let size = 16 * 1024; pooledSizes.length === 0 || size / 2 < settings.batchBytes + 64 * 1024; size *= 2) {
      pooledSizes.push(size)
    }
    let nodePtyPath: string | undefined
    try {
      nodePtyPath = createRequire(import.meta.url).resolve("node-pty")
    } catch {
      nodePtyPath = undefined
    }
    let failures = Os.availableParallelism() > 1 && process.platform !== "win32" && nodePtyPath !== undefined
      ? 0
      : maxFailures
    let worker: Worker | undefined
    let ready: Deferred.Deferred<boolean> | undefined
    let nextId = 0
    const spawning = new Map<number, Pending>()
    const live = new Map<number, Listeners>()

    /** The thread keeps Node alive only while it has PTYs, as PTYs on the main thread would. */
    const holdOpen = (thread: Worker) => {
      if (spawning.size + live.size > 0) thread.ref()
      else thread.unref()
    }

    const start = (): Deferred.Deferred<boolean> => {
      const started = Deferred.makeUnsafe<boolean>()
      const thread = new Worker(source, {
        eval: true,
        workerData: { nodePty: nodePtyPath, ...settings, pooledSizes, pooledBytes: 16 * 1024 * 1024 }
      })
      thread.unref()
      thread.on("message", (report: Report) => {
        if (report.ready !== undefined) {
          if (!report.ready) failures = maxFailures
          Deferred.doneUnsafe(started, Effect.succeed(report.ready))
          return
        }
        const id = report.id as number
        if (report.data !== undefined) {
          send(thread, { op: "ack", id, bytes: report.data.length })
          const buffer = report.data.buffer as ArrayBuffer
          let released = false
          const release = () => {
            if (released || worker !== thread) return
            released = true
            send(thread, { op: "recycle", buffer }, [buffer])
          }
          live.get(id)?.emitData(
            Buffer.from(buffer, report.data.byteOffset, report.data.length),
            pooledSizes.includes(buffer.byteLength) ? release : undefined
          )
        } else if (report.exit !== undefined) {
          live.get(id)?.emitExit(report.exit)
          live.delete(id)
          holdOpen(thread)
        } else {
          const pending = spawning.get(id)
          if (pending === undefined) return
          spawning.delete(id)
          if (report.error !== undefined) {
            Deferred.doneUnsafe(pending.spawned, Effect.fail(cannotSpawn(pending.request, report.error)))
          } else {
            const listeners = new Listeners()
            live.set(id, listeners)
            Deferred.doneUnsafe(pending.spawned, Effect.succeed(terminalOn(thread, id, report.pid as number, listeners)))
          }
          holdOpen(thread)
        }
      })
      // An error event is followed by exit; exit alone (terminated, out of memory) ends the thread too.
      thread.on("error", () => undefined)
      thread.on("exit", () => {
        Deferred.doneUnsafe(started, Effect.succeed(false))
        if (worker !== thread) return
        worker = undefined
        ready = undefined
        failures++
        abandon("the PTY thread ended")
      })
      worker = thread
      return started
    }

    /** What the thread held ends: pending spawns fail, live runs end as if their process died. */
    const abandon = (reason: string) => {
      for (const pending of spawning.values()) {
        Deferred.doneUnsafe(pending.spawned, Effect.fail(cannotSpawn(pending.request, reason)))
      }
      spawning.clear()
      for (const listeners of live.values()) listeners.emitExit({ exitCode: -1, signal: undefined })
      live.clear()
    }

    const terminalOn = (thread: Worker, id: number, pid: number, listeners: Listeners): Terminal => {
      const command = (message: Command) => {
        if (worker === thread && !listeners.ended) send(thread, message)
      }
      return {
        pid,
        write: (data) => command({ op: "write", id, data }),
        resize: (cols, rows) => command({ op: "resize", id, cols, rows }),
        kill: (signal) => command({ op: "kill", id, signal }),
        pause: () => command({ op: "brake", id, on: true }),
        resume: () => command({ op: "brake", id, on: false }),
        onData: (listener) => listeners.setData(listener),
        onExit: (listener) => listeners.setExit(listener)
      }
    }

    // node-pty reports an exit from a native thread of its own, and one that reports after this thread has ended
    // aborts the whole process. So the thread ends only once its PTYs have: those still open are killed, and one
    // that will not die (a process stuck in the kernel) leaves the thread running, unreferenced, until Node exits.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const thread = worker
        if (thread === undefined) return
        for (const id of live.keys()) send(thread, { op: "kill", id, signal: "SIGKILL" })
        const deadline = Date.now() + closeGraceMs
        while ((live.size > 0 || spawning.size > 0) && Date.now() < deadline) yield* Effect.sleep(pollMs)
        const emptied = live.size === 0 && spawning.size === 0
        worker = undefined
        abandon("the PTY thread was stopped")
        if (emptied) yield* Effect.promise(() => thread.terminate())
        else thread.unref()
      })
    )

    const onThread = (request: SpawnRequest) =>
      Effect.suspend(() => {
        const thread = worker as Worker
        const id = nextId++
        const spawned = Deferred.makeUnsafe<Terminal, ComponentSpawnError>()
        spawning.set(id, { request, spawned })
        holdOpen(thread)
        send(thread, { op: "spawn", id, file: request.file, args: request.args, options: ptyOptions(request) })
        return Deferred.await(spawned)
      })

    const host: PtyHost = {
      spawn: (request) =>
        Effect.gen(function*() {
          if (worker === undefined && failures < maxFailures) ready = start()
          const usable = ready !== undefined && (yield* Deferred.await(ready))
          return yield* (usable && worker !== undefined ? onThread(request) : fallback.spawn(request))
        })
    }
    return host
  })
