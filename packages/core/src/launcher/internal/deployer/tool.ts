/**
 * Runs one tool of a job (git, python, pip, uv) as its own session and process group, so that a cancel, a
 * timeout or an interrupted job kills everything it started at once (pip's build backends, git's
 * `index-pack`), even processes that re-parented to init. Output is read line by line from stdout and
 * stderr (a `\r` ends a line too: git redraws its progress with it); the last lines are kept for the failure
 * message. The tool's pid and start time are reported as soon as it runs, so a later MaiKit can find and stop
 * it should this one die without cleaning up.
 */
import { Effect, Option, Queue } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { StepFailed } from "../../DeployerError.ts"
import * as ProcessTree from "../../ProcessTree.ts"
import * as Procfs from "../procfs.ts"

export interface Spec {
  /** The job's step, for the failure: `clone`, `venv`, `deps`, … */
  readonly step: string
  /** The tool's name as the failure shows it: `git`, `pip`, `python`. */
  readonly tool: string
  readonly file: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string | undefined>>
  readonly timeoutMs: number
}

export interface Started {
  readonly pid: number
  /** Clock ticks after boot (Linux), so that a reused pid is never taken for the tool. */
  readonly startTicks: number | undefined
}

export interface Handlers {
  readonly onLine: (line: string) => Effect.Effect<void>
  readonly onStart?: ((started: Started) => Effect.Effect<void>) | undefined
}

type Item =
  | { readonly _tag: "Line"; readonly line: string }
  | { readonly _tag: "Exit"; readonly code: number | null; readonly signal: NodeJS.Signals | null }
  | { readonly _tag: "SpawnError"; readonly message: string }

const tailSize = 40
const errorLine = /\b(error|fatal|failed|exception|traceback)\b|^E: /i

/** The tool's own words for a failure: its error lines, else its last lines. */
export const failureText = (tail: ReadonlyArray<string>): string => {
  const errors = tail.filter((line) => errorLine.test(line))
  const chosen = (errors.length > 0 ? errors : tail).slice(-4)
  return chosen.join(" | ").slice(0, 600)
}

/** The start time of `pid` in clock ticks, where `/proc` tells it. */
export const startTicksOf = (pid: number): number | undefined => {
  if (process.platform !== "linux") return undefined
  try {
    return Procfs.parseStat(Fs.readFileSync(`/proc/${pid}/stat`, "latin1"))?.startTicks
  } catch {
    return undefined
  }
}

/** Whether the process `pid` still runs and is the one that started at `startTicks` (when known). */
export const isRunning = (pid: number, startTicks: number | undefined): boolean => {
  if (process.platform === "linux") {
    try {
      const stat = Procfs.parseStat(Fs.readFileSync(`/proc/${pid}/stat`, "latin1"))
      return stat !== undefined && !stat.zombie && (startTicks === undefined || stat.startTicks === startTicks)
    } catch {
      return false
    }
  }
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Kills the session of `pid` (every process of the tool) and waits until none is left, up to 2 s. */
export const killSession = (pid: number): Effect.Effect<void, never, ProcessTree.ProcessTree> =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 40; attempt++) {
      const signalled = yield* Effect.orElseSucceed(ProcessTree.killTree(pid, "SIGKILL"), () => [])
      if (signalled.length === 0) return
      yield* Effect.sleep(50)
    }
  })

const exitText = (code: number | null, signal: NodeJS.Signals | null) =>
  signal === null ? `退出码 ${code ?? "?"}` : `被信号 ${signal} 终止`

/** Runs the tool to its end; a non-zero exit, a failure to start or the timeout fail the step. */
export const run = (spec: Spec, handlers: Handlers): Effect.Effect<void, StepFailed, ProcessTree.ProcessTree> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Item>()
    const tail: Array<string> = []
    let carry = ""
    let exited = false
    const push = (text: string) => {
      const parts = (carry + text).split(/\r\n|\r|\n/)
      carry = parts.pop() ?? ""
      for (const line of parts) if (line.trim() !== "") Queue.offerUnsafe(queue, { _tag: "Line", line })
    }
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const spawned = ChildProcess.spawn(spec.file, [...spec.args], {
          cwd: spec.cwd,
          env: spec.env,
          detached: process.platform !== "win32",
          stdio: ["ignore", "pipe", "pipe"],
          windowsHide: true
        })
        spawned.stdout.setEncoding("utf8").on("data", push)
        spawned.stderr.setEncoding("utf8").on("data", push)
        spawned.once("error", (error) => {
          exited = true
          Queue.offerUnsafe(queue, { _tag: "SpawnError", message: error.message })
        })
        spawned.once("close", (code, signal) => {
          exited = true
          if (carry.trim() !== "") Queue.offerUnsafe(queue, { _tag: "Line", line: carry })
          carry = ""
          Queue.offerUnsafe(queue, { _tag: "Exit", code, signal })
        })
        return spawned
      }),
      (spawned) =>
        exited || spawned.pid === undefined
          ? Effect.void
          : process.platform === "win32"
          ? Effect.sync(() => void spawned.kill("SIGKILL"))
          : killSession(spawned.pid)
    )
    if (child.pid !== undefined && handlers.onStart !== undefined) {
      yield* handlers.onStart({ pid: child.pid, startTicks: startTicksOf(child.pid) })
    }
    const fail = (output: string) => new StepFailed({ step: spec.step, tool: spec.tool, output })
    const drain = Effect.gen(function*() {
      while (true) {
        const item = yield* Queue.take(queue)
        switch (item._tag) {
          case "Line":
            tail.push(item.line)
            if (tail.length > tailSize) tail.shift()
            yield* handlers.onLine(item.line)
            break
          case "SpawnError":
            return yield* fail(`无法运行 ${spec.file}: ${item.message}`)
          case "Exit":
            if (item.code === 0) return
            return yield* fail(`${failureText(tail) || "无输出"} (${exitText(item.code, item.signal)})`)
        }
      }
    })
    const finished = yield* Effect.timeoutOption(drain, spec.timeoutMs)
    if (Option.isNone(finished)) return yield* fail(`超时：${Math.round(spec.timeoutMs / 1000)} 秒内未完成`)
  }).pipe(Effect.scoped)

/** Runs a short command and returns its stdout; `undefined` when it cannot run or exits non-zero. */
export const capture = (
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: Readonly<Record<string, string | undefined>>; readonly timeoutMs?: number } = {}
): Effect.Effect<string | undefined> =>
  Effect.callback<string | undefined>((resume) => {
    const child = ChildProcess.execFile(
      file,
      [...args],
      {
        cwd: options.cwd,
        env: options.env,
        timeout: options.timeoutMs ?? 15_000,
        killSignal: "SIGKILL",
        maxBuffer: 64 * 1024 * 1024,
        windowsHide: true
      },
      (error, stdout) => resume(Effect.succeed(error === null ? stdout : undefined))
    )
    return Effect.sync(() => void child.kill("SIGKILL"))
  })
