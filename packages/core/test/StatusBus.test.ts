import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, Option, Queue, Schema, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { StatusBus } from "../src/relay/StatusBus.ts"
import * as StatusEvent from "../src/relay/StatusEvent.ts"

const bus = (options?: Parameters<typeof StatusBus.layer>[0]) =>
  Effect.provide(StatusBus.layer(options))

const publish = (event: StatusEvent.EventInput) =>
  StatusBus.use((service) => service.publish(event))

const current = StatusBus.use((service) => service.current)

/** Runs `effect` and returns the messages it logged. */
const captureLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const lines: Array<string> = []
    const logger = Logger.make(({ message }) => lines.push(String(message)))
    return effect.pipe(Effect.provide(Logger.layer([logger])), Effect.as(lines))
  })

describe("StatusBus aggregate", () => {
  it.effect("what needs the user beats errors beats work beats idle; ties go to the newest", () =>
    Effect.gen(function*() {
      yield* publish({ code: "idle", session_id: "a" })
      assert.strictEqual((yield* current).code, "idle")
      yield* publish({ code: "busy", session_id: "b" })
      assert.strictEqual((yield* current).code, "busy")
      yield* publish({ code: "using_tool", session_id: "c" })
      assert.strictEqual((yield* current).code, "using_tool")
      yield* publish({ code: "error", session_id: "d" })
      assert.strictEqual((yield* current).code, "error")
      yield* publish({ code: "permission", session_id: "e" })
      const snapshot = yield* current
      assert.strictEqual(snapshot.code, "permission")
      assert.strictEqual(snapshot.session_id, "e")
      assert.deepStrictEqual(snapshot.sessions.map((s) => s.code), ["permission", "error", "using_tool", "busy", "idle"])

      yield* publish({ code: "idle", session_id: "e" })
      assert.strictEqual((yield* current).code, "error")

      yield* TestClock.adjust(10)
      yield* publish({ code: "error", session_id: "f", timestamp: "2026-06-27T14:30:00Z" })
      const tie = yield* current
      assert.strictEqual(tie.session_id, "f")
      assert.strictEqual(tie.timestamp, "2026-06-27T14:30:00Z")
    }).pipe(bus()))

  it.effect("fills in the time when absent, keeps it when sent, and shares one default session", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-06-27T10:00:00Z"))
      const update = yield* publish({ code: "busy" })
      assert.isTrue(Option.isSome(update))
      const snapshot = yield* current
      assert.strictEqual(snapshot.timestamp, "2026-06-27T10:00:00.000Z")
      assert.strictEqual(snapshot.session_id, StatusEvent.defaultSessionId)
      yield* publish({ code: "reasoning", timestamp: "2026-06-27T18:00:00+08:00" })
      const after = yield* current
      assert.lengthOf(after.sessions, 1)
      assert.strictEqual(after.timestamp, "2026-06-27T18:00:00+08:00")
      assert.strictEqual(after.seq, 2)
    }).pipe(bus()))

  it.effect("ignores a late delivery older than what its session already reported", () =>
    Effect.gen(function*() {
      yield* publish({ code: "busy", session_id: "s", timestamp: "2026-06-27T14:30:05Z" })
      const late = yield* publish({ code: "idle", session_id: "s", timestamp: "2026-06-27T14:30:01Z" })
      assert.isTrue(Option.isNone(late))
      assert.strictEqual((yield* current).code, "busy")
      const later = yield* publish({ code: "idle", session_id: "s", timestamp: "2026-06-27T14:30:09.123456789Z" })
      assert.isTrue(Option.isSome(later))
      assert.strictEqual((yield* current).code, "idle")
    }).pipe(bus()))

  it.effect("keeps agent and label across a session's later events", () =>
    Effect.gen(function*() {
      yield* publish({ code: "init", session_id: "s", agent: "claude", label: "repo" })
      yield* publish({ code: "busy", session_id: "s" })
      const [session] = (yield* current).sessions
      assert.strictEqual(session?.agent, "claude")
      assert.strictEqual(session?.label, "repo")
    }).pipe(bus()))

  it.effect("drops the least recently updated session beyond maxSessions", () =>
    Effect.gen(function*() {
      for (const id of ["a", "b", "c", "d"]) {
        yield* publish({ code: "busy", session_id: id })
        yield* TestClock.adjust(1)
      }
      const ids = (yield* current).sessions.map((s) => s.session_id).toSorted()
      assert.deepStrictEqual(ids, ["b", "c", "d"])
    }).pipe(bus({ maxSessions: 3 })))
})

describe("StatusBus TTL", () => {
  it.effect("forgets a silent session so a crashed tool never leaves the light busy", () =>
    Effect.gen(function*() {
      const service = yield* StatusBus
      const changes = yield* service.changes.pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      yield* Effect.yieldNow
      yield* service.publish({ code: "busy", session_id: "crashed" })
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* current).code, "busy")
      yield* TestClock.adjust("2 seconds")
      const snapshot = yield* current
      assert.strictEqual(snapshot.code, "idle")
      assert.lengthOf(snapshot.sessions, 0)
      const updates = yield* Fiber.join(changes)
      assert.deepStrictEqual(updates.map((u) => [u.reason, u.code, u.session.session_id]), [
        ["event", "busy", "crashed"],
        ["expired", "idle", "crashed"]
      ])
    }).pipe(bus({ sessionTtl: "1 minute" })))

  it.effect("a report refreshes the TTL, and per-code TTLs override the default", () =>
    Effect.gen(function*() {
      yield* publish({ code: "busy", session_id: "worker" })
      yield* publish({ code: "error", session_id: "failed" })
      yield* TestClock.adjust("20 seconds")
      assert.strictEqual((yield* current).code, "error")
      yield* publish({ code: "busy", session_id: "worker" })
      yield* TestClock.adjust("15 seconds")
      const snapshot = yield* current
      assert.strictEqual(snapshot.code, "busy")
      assert.deepStrictEqual(snapshot.sessions.map((s) => s.session_id), ["worker"])
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual((yield* current).code, "busy")
      yield* TestClock.adjust("20 seconds")
      assert.strictEqual((yield* current).code, "idle")
    }).pipe(bus({ sessionTtl: "1 minute", ttlByCode: { error: "30 seconds" } })))
})

describe("StatusBus subscribers", () => {
  it.effect("changes carries only aggregate changes; updates carries every event", () =>
    Effect.gen(function*() {
      const service = yield* StatusBus
      const all = yield* service.updates.pipe(Stream.take(4), Stream.runCollect, Effect.forkChild)
      const changed = yield* service.changes.pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      yield* Effect.yieldNow
      yield* service.publish({ code: "busy", session_id: "a" })
      yield* service.publish({ code: "busy", session_id: "a" })
      yield* service.publish({ code: "busy", session_id: "b" })
      yield* service.publish({ code: "permission", session_id: "b" })
      const every = yield* Fiber.join(all)
      assert.deepStrictEqual(every.map((u) => u.seq), [1, 2, 3, 4])
      assert.deepStrictEqual(every.map((u) => u.sessions), [1, 1, 2, 2])
      const onlyChanges = yield* Fiber.join(changed)
      assert.deepStrictEqual(onlyChanges.map((u) => u.code), ["busy", "permission"])
      for (const update of every) assert.isTrue(Schema.is(StatusEvent.StatusUpdate)(update))
    }).pipe(bus()))

  it.effect("a subscriber that never reads neither delays the publisher nor the others", () =>
    Effect.gen(function*() {
      const service = yield* StatusBus
      const stuck = yield* service.subscribe({ buffer: 4 })
      const reader = yield* service.updates.pipe(Stream.take(10_000), Stream.runCount, Effect.forkChild)
      yield* Effect.yieldNow
      for (let i = 0; i < 10_000; i++) {
        yield* service.publish({ code: i % 2 === 0 ? "busy" : "reasoning", session_id: "s" })
        if (i % 100 === 0) yield* Effect.yieldNow
      }
      assert.strictEqual(yield* Fiber.join(reader), 10_000)
      const backlog = yield* Queue.takeAll(stuck)
      assert.deepStrictEqual(backlog.map((u) => u.seq), [9997, 9998, 9999, 10_000])
    }).pipe(Effect.scoped, bus({ subscriberBuffer: 20_000 })))

  it.effect("listeners get each update in the publisher's turn; one that throws is logged and skipped", () =>
    Effect.gen(function*() {
      const service = yield* StatusBus
      const every: Array<number> = []
      const changes: Array<StatusEvent.StatusCode> = []
      const listening = yield* Scope.make()
      yield* service.listen(() => {
        throw new Error("listener bug")
      }).pipe(Scope.provide(listening))
      yield* service.listen((update) => every.push(update.seq)).pipe(Scope.provide(listening))
      yield* service.listen((update) => changes.push(update.code), { changesOnly: true }).pipe(Scope.provide(listening))
      const logged = yield* Effect.gen(function*() {
        yield* service.publish({ code: "busy", session_id: "a" })
        assert.deepStrictEqual(every, [1])
        yield* service.publish({ code: "busy", session_id: "a" })
        const third = yield* service.publish({ code: "error", session_id: "b" })
        assert.strictEqual(Option.getOrThrow(third).seq, 3)
      }).pipe(captureLogs)
      assert.deepStrictEqual(every, [1, 2, 3])
      assert.deepStrictEqual(changes, ["busy", "error"])
      assert.strictEqual(logged.filter((line) => line.includes("a listener failed")).length, 3)
      yield* Scope.close(listening, Exit.void)
      yield* service.publish({ code: "idle", session_id: "b" })
      assert.deepStrictEqual(every, [1, 2, 3])
    }).pipe(bus()))

  it.effect("receipt times are ISO 8601 to the millisecond across minute and year boundaries", () =>
    Effect.gen(function*() {
      for (const at of ["2026-06-27T10:00:59.007Z", "2026-06-27T10:01:00.000Z", "2026-12-31T23:59:59.999Z", "2027-01-01T00:00:00.050Z"]) {
        yield* TestClock.setTime(Date.parse(at))
        yield* publish({ code: "busy", session_id: "clock" })
        const session = (yield* current).sessions.find((s) => s.session_id === "clock")
        assert.strictEqual(session?.updated_at, at)
        assert.strictEqual(session?.timestamp, at)
      }
    }).pipe(bus()))

  it.effect("ends subscribers' streams when the bus closes", () =>
    Effect.gen(function*() {
      const collected = yield* Effect.gen(function*() {
        const service = yield* StatusBus
        const fiber = yield* service.updates.pipe(Stream.runCollect, Effect.forkDetach)
        yield* Effect.yieldNow
        yield* service.publish({ code: "init" })
        yield* Effect.yieldNow
        return fiber
      }).pipe(bus())
      const result = yield* Fiber.join(collected)
      assert.deepStrictEqual(result.map((u) => u.code), ["init"])
    }))
})

describe("StatusEvent.parseTimestamp", () => {
  it("reads every accepted form as Date.parse reads its millisecond, T-separated equivalent", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["2026-06-27T14:30:00Z", "2026-06-27T14:30:00Z"],
      ["2026-06-27T14:30:00.123Z", "2026-06-27T14:30:00.123Z"],
      ["2026-06-27T14:30:00.123456789Z", "2026-06-27T14:30:00.123Z"],
      ["2026-06-27 14:30:00.5+08:00", "2026-06-27T14:30:00.5+08:00"],
      ["2026-06-27T14:30:00.1234", "2026-06-27T14:30:00.123"],
      ["2026-06-27T14:30", "2026-06-27T14:30"]
    ]
    for (const [text, equivalent] of cases) {
      assert.strictEqual(StatusEvent.parseTimestamp(text), Date.parse(equivalent), text)
    }
    for (const bad of ["", "nope", "2026-06-27", "2026-06-27T14:30:00.1234567890Z", "2026-06-27T14:30:00Zjunk"]) {
      assert.isNaN(StatusEvent.parseTimestamp(bad), bad)
    }
  })
})

describe("StatusEvent schemas", () => {
  const decode = Schema.decodeUnknownExit(StatusEvent.EventInput)
  it.effect("accepts the seed's event and ISO 8601 variants; rejects unknown codes and bad times", () =>
    Effect.sync(() => {
      for (
        const timestamp of [
          "2026-06-27T14:30:00Z",
          "2026-06-27T14:30:00.123+08:00",
          "2026-06-27T14:30:00.123456",
          "2026-06-27T14:30:00.123456789Z"
        ]
      ) {
        assert.isTrue(decode({ code: "busy", timestamp })._tag === "Success", timestamp)
      }
      for (
        const bad of [
          { code: "working" },
          { code: "busy", timestamp: "yesterday" },
          { code: "busy", timestamp: "2026-13-45T99:99:99Z" },
          { code: "busy", session_id: "" },
          { code: "busy", session_id: "a\nb" },
          { code: "busy", label: "x".repeat(161) },
          { code: 1 },
          {}
        ]
      ) {
        assert.isTrue(decode(bad)._tag === "Failure", JSON.stringify(bad))
      }
      assert.strictEqual(StatusEvent.bleModes.reasoning, "thinking")
      assert.strictEqual(StatusEvent.bleModes.using_tool, "ai")
      assert.strictEqual(StatusEvent.bleModes.permission, "alarm")
    }))
})
