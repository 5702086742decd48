import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Scope } from "effect"
import * as Os from "node:os"
import * as PtyHost from "../src/launcher/PtyHost.ts"

// Prints numbered, timestamped 100-byte lines as fast as the terminal takes them, for `seconds`.
const stamper = (seconds: number) => `
const until = Date.now() + ${seconds * 1000}
let n = 0
while (Date.now() < until) {
  const head = String(n++).padStart(9, "0") + " " + Date.now() + " "
  process.stdout.write(head + "x".repeat(98 - head.length) + "\\n")
}
process.stdout.write("END\\n")
`

const request = (args: ReadonlyArray<string>): PtyHost.SpawnRequest => ({
  component: "test",
  file: process.execPath,
  args,
  cwd: Os.tmpdir(),
  env: process.env,
  cols: 200,
  rows: 25
})

/** Spawns on `host`, hands every batch to `onData`, and waits for the exit. */
const runToExit = (host: PtyHost.PtyHost, args: ReadonlyArray<string>, onData: PtyHost.DataListener) =>
  Effect.flatMap(host.spawn(request(args)), (terminal) =>
    Effect.callback<PtyHost.TerminalExit>((resume) => {
      terminal.onData(onData)
      terminal.onExit((exit) => resume(Effect.succeed(exit)))
    }))

const busyFor = (ms: number) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    // the main thread is busy with something else
  }
}

describe("PtyHost.workerThread", () => {
  it.live("a main thread that is busy holds the program back after at most inFlightBytes, and nothing is lost", () =>
    Effect.gen(function*() {
      const inFlightBytes = 256 * 1024
      const host = yield* PtyHost.workerThread({ batchBytes: 64 * 1024, inFlightBytes })
      const decoder = new TextDecoder()
      let text = ""
      let blocked: { from: number; to: number } | undefined
      const exit = yield* runToExit(host, ["-e", stamper(1.5)], (bytes) => {
        text += decoder.decode(bytes, { stream: true })
        if (blocked === undefined && text.length > 1_000_000) {
          const from = Date.now()
          busyFor(600)
          blocked = { from, to: Date.now() }
        }
      })
      assert.strictEqual(exit.exitCode, 0)
      const lines = text.split("\r\n")
      assert.strictEqual(lines.at(-2), "END")
      const numbered = lines.slice(0, -2)
      assert.isTrue(numbered.every((line, index) => Number(line.slice(0, 9)) === index), "every line, in order")
      const window = blocked ?? { from: 0, to: 0 }
      // Lines the program printed well inside the block: all it could print before the thread stopped reading.
      const printedWhileBlocked = numbered.filter((line) => {
        const at = Number(line.split(" ")[1])
        return at > window.from + 100 && at < window.to - 100
      }).length * 100
      assert.isAtMost(printedWhileBlocked, inFlightBytes + 512 * 1024, `${printedWhileBlocked} bytes printed while blocked`)
      assert.isAbove(numbered.length, 20_000, "the program printed freely otherwise")
    }).pipe(Effect.scoped), 30_000)

  it.live("batches of 8 KiB or more come in reusable buffers at most twice their size; smaller ones in their own", () =>
    Effect.gen(function*() {
      const host = yield* PtyHost.workerThread()
      const batches: Array<{ readonly length: number; readonly buffer: number; readonly reusable: boolean }> = []
      const program = `${stamper(0.3)}; setTimeout(() => process.stdout.write("bye\\n"), 100)`
      yield* runToExit(host, ["-e", program], (bytes, release) => {
        batches.push({ length: bytes.length, buffer: bytes.buffer.byteLength, reusable: release !== undefined })
        release?.()
      })
      const large = batches.filter((batch) => batch.length >= 8 * 1024)
      assert.isAbove(large.length, 3)
      assert.isTrue(large.every((batch) => batch.reusable && batch.buffer <= 2 * batch.length))
      const small = batches.filter((batch) => batch.length < 8 * 1024)
      assert.isAbove(small.length, 0, "the last line, at least")
      assert.isTrue(small.every((batch) => !batch.reusable && batch.buffer === batch.length))
    }).pipe(Effect.scoped), 30_000)

  it.live("pause stops the output until resume; a second terminal on the same thread goes on meanwhile", () =>
    Effect.gen(function*() {
      const host = yield* PtyHost.workerThread()
      const braked = yield* host.spawn(request(["-e", stamper(1)]))
      let brakedBytes = 0
      const brakedExit = Effect.callback<PtyHost.TerminalExit>((resume) => {
        braked.onData((bytes) => (brakedBytes += bytes.length))
        braked.onExit((exit) => resume(Effect.succeed(exit)))
      })
      braked.pause()
      yield* Effect.sleep(100)
      const before = brakedBytes
      let otherBytes = 0
      yield* runToExit(host, ["-e", stamper(0.5)], (bytes) => (otherBytes += bytes.length))
      assert.isAbove(otherBytes, 1_000_000, "the other terminal ran to its end")
      assert.strictEqual(brakedBytes, before, "nothing while paused")
      braked.resume()
      const exit = yield* brakedExit
      assert.strictEqual(exit.exitCode, 0)
      assert.isAbove(brakedBytes, before)
    }).pipe(Effect.scoped), 30_000)

  it.live("closing the host kills the PTYs still open and waits for their exits before the thread ends", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const host = yield* PtyHost.workerThread().pipe(Scope.provide(scope))
      const terminal = yield* host.spawn(request(["-e", "process.on('SIGHUP', () => {}); setInterval(() => {}, 1000)"]))
      const exited = yield* Deferred.make<PtyHost.TerminalExit>()
      terminal.onData(() => undefined)
      terminal.onExit((exit) => Deferred.doneUnsafe(exited, Effect.succeed(exit)))
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Deferred.await(exited)
      assert.strictEqual(exit.signal, Os.constants.signals.SIGKILL)
      assert.throws(() => process.kill(terminal.pid, 0), /ESRCH/, "killed and reaped")
      // Had the thread ended first, node-pty's late exit report would have aborted this process by now.
      yield* Effect.sleep(300)
    }), 30_000)
})
