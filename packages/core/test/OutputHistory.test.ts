import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as fc from "fast-check"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { completeLength } from "../src/launcher/internal/utf8.ts"
import * as OutputHistory from "../src/launcher/OutputHistory.ts"
import type { HistoryError } from "../src/launcher/SupervisorError.ts"
import { tempDir, textOf } from "./fixtures/support.ts"

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

/** Appends records numbered `from` … `from + count - 1`, one per millisecond from `1000 + from`, ~100 bytes each. */
const appendLines = (history: OutputHistory.OutputHistory, count: number, from = 0) => {
  for (let i = from; i < from + count; i++) {
    history.appendUnsafe(1_000 + i, bytes(`line ${String(i).padStart(4, "0")} ${"·".repeat(30)}\r\n`))
  }
}

describe("OutputHistory", () => {
  it.effect("keeps whole chunks with their newlines, in the ring (bounded by bytes) and in the file", () =>
    Effect.gen(function*() {
      const directory = tempDir("history-ring")
      const history = yield* OutputHistory.make({ directory, ringBytes: 250 })
      history.appendUnsafe(10, bytes("first line\r\nsecond line\r\n"))
      history.appendUnsafe(11, bytes("你好🙂\n\n"))
      appendLines(history, 5)
      const ring = yield* history.recent
      assert.isAtMost(ring.reduce((sum, record) => sum + bytes(record.data).length, 0), 250)
      assert.strictEqual(ring.at(-1)?.data, `line 0004 ${"·".repeat(30)}\r\n`)
      assert.strictEqual(ring.at(-1)?.timestamp, 1_004)
      const all = yield* history.query({ fromMs: 0, toMs: 2_000 })
      assert.strictEqual(all.length, 7)
      assert.deepStrictEqual(all.slice(0, 2), [
        { timestamp: 10, data: "first line\r\nsecond line\r\n" },
        { timestamp: 11, data: "你好🙂\n\n" }
      ])
      yield* history.flush
      const file = Fs.readFileSync(history.path, "utf8")
      assert.isTrue(file.startsWith("10 25\nfirst line\r\nsecond line\r\n\n11 12\n你好🙂\n\n\n"), file)

      const huge = "x".repeat(1_000)
      history.appendUnsafe(1_005, bytes(huge))
      assert.deepStrictEqual((yield* history.recent).map((record) => record.data), [huge], "the newest chunk is always kept")
    }))

  it.effect("rotates by size into history.log.1..N, drops the oldest file, and queries time ranges across files", () =>
    Effect.gen(function*() {
      const directory = tempDir("history-rotate")
      const history = yield* OutputHistory.make({ directory, maxFileBytes: 1_000, maxFiles: 3 })
      for (let i = 0; i < 100; i++) {
        appendLines(history, 1, i)
        if (i % 7 === 0) yield* history.flush
      }
      yield* history.flush
      assert.deepStrictEqual(Fs.readdirSync(directory).toSorted(), ["history.log", "history.log.1", "history.log.2", "history.log.3"])
      for (const name of Fs.readdirSync(directory)) assert.isAtMost(Fs.statSync(Path.join(directory, name)).size, 1_000)

      const retained = yield* history.query({ fromMs: 0, toMs: Number.MAX_SAFE_INTEGER })
      const numbers = retained.map((record) => Number(record.data.slice(5, 9)))
      assert.strictEqual(numbers.at(-1), 99)
      assert.deepStrictEqual(numbers, numbers.map((_, i) => (numbers[0] ?? 0) + i), "a contiguous tail, in order")
      assert.isAbove(numbers[0] ?? 0, 0, "the oldest records were rotated away")

      const range = yield* history.query({ fromMs: 1_080, toMs: 1_090 })
      assert.deepStrictEqual(range.map((record) => record.timestamp), Array.from({ length: 11 }, (_, i) => 1_080 + i))
      assert.deepStrictEqual(range.map((record) => Number(record.data.slice(5, 9))), Array.from({ length: 11 }, (_, i) => 80 + i))
      assert.deepStrictEqual(yield* history.query({ fromMs: 5_000, toMs: 6_000 }), [])
    }))

  it.effect("answers from the unwritten backlog, persists across reopen, skips torn records, keeps time monotonic", () =>
    Effect.gen(function*() {
      const directory = tempDir("history-reopen")
      const firstScope = yield* Scope.make()
      const first = yield* OutputHistory.make({ directory }).pipe(Scope.provide(firstScope))
      first.appendUnsafe(2_000, bytes("before restart\r\n"))
      assert.strictEqual(textOf(yield* first.query({ fromMs: 0, toMs: 3_000 })), "before restart\r\n")
      yield* Scope.close(firstScope, Exit.void)

      Fs.appendFileSync(Path.join(directory, "history.log"), "2001 999\ntorn record with a lying hea")
      const second = yield* OutputHistory.make({ directory })
      second.appendUnsafe(2_500, bytes("after restart\r\n"))
      second.appendUnsafe(2_400, bytes("clock stepped back\r\n"))
      const records = yield* second.query({ fromMs: 0, toMs: 3_000 })
      assert.deepStrictEqual(records, [
        { timestamp: 2_000, data: "before restart\r\n" },
        { timestamp: 2_500, data: "after restart\r\n" },
        { timestamp: 2_500, data: "clock stepped back\r\n" }
      ])
    }))

  it.effect("reports backpressure past the high-water mark and calls back once drained", () =>
    Effect.gen(function*() {
      const history = yield* OutputHistory.make({ directory: tempDir("history-hw"), highWaterBytes: 100 })
      assert.isTrue(history.appendUnsafe(1, new Uint8Array(50)))
      assert.isFalse(history.appendUnsafe(2, new Uint8Array(60)))
      const drained = yield* Effect.callback<boolean>((resume) => {
        history.onDrainUnsafe(() => resume(Effect.succeed(true)))
      })
      assert.isTrue(drained)
      assert.isTrue(history.appendUnsafe(3, new Uint8Array(10)))
    }))

  it.effect("release is called once both the ring and the file let go of a record, and never before", () =>
    Effect.gen(function*() {
      const history = yield* OutputHistory.make({ directory: tempDir("history-release"), ringBytes: 20 })
      const released: Array<number> = []
      const append = (timestamp: number) =>
        history.appendUnsafe(timestamp, Buffer.from(`line ${timestamp}\n`), () => released.push(timestamp))
      append(1)
      append(2)
      assert.deepStrictEqual(released, [], "queued for the file, so held")
      yield* history.flush
      assert.deepStrictEqual(released, [], "written, but still in the ring")
      append(3)
      append(4)
      assert.deepStrictEqual(released, [1, 2], "out of the ring, and written")
      yield* history.flush
      assert.deepStrictEqual(released, [1, 2], "3 and 4 are the ring's")
      history.appendUnsafe(5, Buffer.from("line 5\n"))
      history.appendUnsafe(6, Buffer.from("line 6\n"))
      yield* history.flush
      assert.deepStrictEqual(released, [1, 2, 3, 4])
      assert.strictEqual(textOf(yield* history.query({ fromMs: 0, toMs: 10 })), [1, 2, 3, 4, 5, 6].map((n) => `line ${n}\n`).join(""))
    }))

  it.effect("a failing disk is reported once per distinct error and does not stop recording in the ring", () =>
    Effect.gen(function*() {
      const errors: Array<HistoryError> = []
      const history = yield* OutputHistory.make({
        directory: "/dev",
        fileName: "full",
        onWriteError: (error) => errors.push(error)
      })
      history.appendUnsafe(1, bytes("a"))
      yield* history.flush
      history.appendUnsafe(2, bytes("b"))
      yield* history.flush
      assert.strictEqual(errors.length, 1)
      assert.include(errors[0]?.message ?? "", "ENOSPC")
      assert.strictEqual(textOf(yield* history.recent), "ab")
    }))

  it("cutting chunks at completeLength decodes exactly like a streaming decoder, for any bytes and any cuts", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: "binary" }).map(bytes), fc.uint8Array({ maxLength: 64 })),
        fc.array(fc.nat(), { maxLength: 12 }),
        (input, cuts) => {
          const points = [...new Set(cuts.map((cut) => cut % (input.length + 1)))].toSorted((a, b) => a - b)
          const streaming = new TextDecoder()
          const stateless = new TextDecoder()
          let expected = ""
          let actual = ""
          let carry = new Uint8Array(0)
          let start = 0
          for (const end of [...points, input.length]) {
            const chunk = input.subarray(start, end)
            start = end
            expected += streaming.decode(chunk, { stream: true })
            const joined = new Uint8Array([...carry, ...chunk])
            const length = completeLength(joined)
            actual += stateless.decode(joined.subarray(0, length))
            carry = joined.slice(length)
            assert.isAtMost(carry.length, 3)
          }
          expected += streaming.decode()
          actual += stateless.decode(carry)
          assert.strictEqual(actual, expected)
        }
      ),
      { numRuns: 1_000 }
    )
  })
})
