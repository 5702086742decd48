import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as ComponentProcess from "../src/launcher/ComponentProcess.ts"
import * as ProcessTree from "../src/launcher/ProcessTree.ts"
import * as PtyHost from "../src/launcher/PtyHost.ts"
import { eventually, isGone, nodeSpec, textOf, treePids, waitForText } from "./fixtures/support.ts"

type Event = ComponentProcess.ComponentEvent

const statusesOf = (events: ReadonlyArray<Event>): Array<ComponentProcess.ComponentStatus> =>
  events.flatMap((event) => (event._tag === "Status" ? [event.status] : []))

const statesOf = (events: ReadonlyArray<Event>): Array<string> => statusesOf(events).map((status) => status.state)

const outputOf = (events: ReadonlyArray<Event>): string =>
  events.map((event) => (event._tag === "Output" ? event.data : "")).join("")

/** Subscribes and collects every event in the background, for as long as the test's scope lives. */
const collect = (component: ComponentProcess.ComponentProcess) =>
  Effect.gen(function*() {
    const subscription = yield* component.subscribe()
    const events: Array<Event> = []
    yield* Effect.forkScoped(Stream.runForEach(subscription.events, (event) => Effect.sync(() => events.push(event))))
    return events
  })

const waitForStates = (events: ReadonlyArray<Event>, expected: ReadonlyArray<string>, timeoutMs?: number) =>
  eventually(Effect.sync(() => statesOf(events)), (states) => states.length >= expected.length, timeoutMs).pipe(
    Effect.tap((states) => Effect.sync(() => assert.deepStrictEqual(states, [...expected])))
  )

const withTree = Effect.provide(ProcessTree.ProcessTree.layer)

const procStat = (pid: number): Array<string> => {
  const text = Fs.readFileSync(`/proc/${pid}/stat`, "latin1")
  return text.slice(text.lastIndexOf(")") + 2).split(" ")
}

// Every behaviour holds wherever the PTY lives: on the main thread (the default) or on a PTY thread.
const hosts = [
  ["main thread", Effect.sync(PtyHost.mainThread)],
  ["PTY thread", PtyHost.workerThread()]
] as const

for (const [where, host] of hosts) {
  const make = (spec: ComponentProcess.Spec) =>
    Effect.flatMap(host, (ptyHost) => ComponentProcess.make({ ...spec, ptyHost }))

  describe(`ComponentProcess (PTY on the ${where})`, () => {
    describe("lifecycle", () => {
      it.live("runs on a PTY in its own session and group, is running after startSeconds, stops on Ctrl+C", () =>
        Effect.gen(function*() {
          const component = yield* make(
            nodeSpec("interactive", "interactive.mjs", [], { startSeconds: 0.2 })
          )
          const events = yield* collect(component)
          assert.strictEqual((yield* component.status).state, "stopped")
          yield* component.start
          const starting = yield* component.status
          assert.strictEqual(starting.state, "starting")
          const pid = starting.pid ?? 0
          assert.isAbove(pid, 1)
          assert.include(yield* waitForText(component, "ready"), `ready pid=${pid} size=80x25`)
          assert.strictEqual(Number(procStat(pid)[2]), pid, "process group id is the leader's pid")
          assert.strictEqual(Number(procStat(pid)[3]), pid, "session id is the leader's pid")
          const running = yield* component.awaitStatus((status) => status.state === "running")
          assert.isAtLeast(running.since - starting.since, 190)

          yield* component.start
          assert.strictEqual((yield* component.status).pid, pid, "start while running is a no-op")

          yield* component.stop
          const stopped = yield* component.status
          assert.strictEqual(stopped.state, "stopped")
          assert.strictEqual(stopped.lastExit?.code, 0)
          assert.isNull(stopped.lastExit?.signal)
          assert.include(textOf(yield* component.history.recent), "interrupted, bye")
          assert.isTrue(isGone(pid))
          yield* waitForStates(events, ["starting", "running", "stopping", "stopped"])
        }).pipe(withTree))

      it.live("write and resize reach the PTY; write without a process fails with ComponentNotRunning", () =>
        Effect.gen(function*() {
          const component = yield* make(nodeSpec("input", "interactive.mjs"))
          const notYet = yield* Effect.flip(component.write("early\r"))
          assert.strictEqual(notYet._tag, "ComponentNotRunning")
          assert.strictEqual(notYet.state, "stopped")
          yield* component.start
          yield* waitForText(component, "ready")
          yield* component.write("héllo 你好\r")
          yield* waitForText(component, "echo:héllo 你好")
          yield* component.write(new TextEncoder().encode("bytes\r"))
          yield* waitForText(component, "echo:bytes")
          yield* component.resize(120, 40)
          yield* waitForText(component, "size:120x40")
          yield* component.stop
          yield* component.start
          const pid = (yield* component.status).pid
          yield* waitForText(component, `ready pid=${pid} size=120x40`)
        }).pipe(withTree))

      it.live("an exit before startSeconds never reaches running; policy no ends stopped (code 0) or errored", () =>
        Effect.gen(function*() {
          const clean = yield* make(nodeSpec("clean", "exit.mjs", ["0", "50"], { startSeconds: 0.5 }))
          const cleanEvents = yield* collect(clean)
          yield* clean.start
          yield* waitForStates(cleanEvents, ["starting", "stopped"])
          const cleanStatus = yield* clean.status
          assert.strictEqual(cleanStatus.lastExit?.code, 0)

          const failing = yield* make(nodeSpec("failing", "exit.mjs", ["3"], { startSeconds: 0.5 }))
          const failingEvents = yield* collect(failing)
          yield* failing.start
          yield* waitForStates(failingEvents, ["starting", "errored"])
          const errored = yield* failing.status
          assert.strictEqual(errored.lastExit?.code, 3)
          assert.include(errored.message ?? "", "exited with code 3")
          yield* failing.stop
          assert.strictEqual((yield* failing.status).state, "stopped", "stop acknowledges errored")
        }).pipe(withTree))

      it.live("a missing working directory or command is a typed spawn error and leaves the component errored", () =>
        Effect.gen(function*() {
          const noCwd = yield* make({ ...nodeSpec("no-cwd", "exit.mjs"), cwd: "/nonexistent/maikit" })
          const cwdError = yield* Effect.flip(noCwd.start)
          assert.strictEqual(cwdError._tag, "ComponentSpawnError")
          assert.include(cwdError.message, "working directory not found")
          assert.strictEqual((yield* noCwd.status).state, "errored")

          const noCommand = yield* make({ ...nodeSpec("no-cmd", "exit.mjs"), file: "maikit-no-such-cmd" })
          const commandError = yield* Effect.flip(noCommand.start)
          assert.include(commandError.message, "command not found")
          assert.strictEqual((yield* noCommand.stats).startCount, 0)
        }).pipe(withTree))
    })

    describe("stop and process trees", () => {
      it.live("a process that ignores Ctrl+C is killed when the grace period ends", () =>
        Effect.gen(function*() {
          const component = yield* make(nodeSpec("stubborn", "stubborn.mjs", [], { stopGraceMs: 400 }))
          yield* component.start
          yield* waitForText(component, "ready")
          const pid = (yield* component.status).pid ?? 0
          const began = Date.now()
          yield* component.stop
          const took = Date.now() - began
          assert.isAtLeast(took, 400)
          assert.isBelow(took, 2_500)
          assert.include(textOf(yield* component.history.recent), "ignoring SIGINT")
          assert.strictEqual((yield* component.status).lastExit?.signal, "SIGKILL")
          assert.isTrue(isGone(pid))
        }).pipe(withTree))

      it.live("stop leaves no member of the tree alive, including a detached (setsid) grandchild", () =>
        Effect.gen(function*() {
          const component = yield* make(nodeSpec("tree-stop", "tree.mjs", ["stubborn"], { stopGraceMs: 300 }))
          yield* component.start
          const pids = yield* treePids(component)
          const all = [pids.leader, pids.worker, pids.grandchild, pids.daemon]
          assert.isTrue(all.every((pid) => !isGone(pid)))
          assert.notStrictEqual(Number(procStat(pids.daemon)[3]), pids.leader, "the daemon left the session")
          const stats = yield* component.stats
          assert.strictEqual(stats.processCount, 4)
          yield* component.stop
          assert.deepStrictEqual(all.filter((pid) => !isGone(pid)), [])
        }).pipe(withTree))

      it.live("a crash-restart sweeps the crashed run's orphans before the next run starts", () =>
        Effect.gen(function*() {
          const component = yield* make(
            nodeSpec("tree-crash", "tree.mjs", ["crash:400"], { restart: "on-failure", stopGraceMs: 300, startSeconds: 0 })
          )
          const events = yield* collect(component)
          yield* component.start
          const first = yield* treePids(component)
          yield* eventually(Effect.sync(() => statesOf(events)), (states) => states.includes("backing-off"))
          const orphans = [first.worker, first.grandchild, first.daemon]
          assert.deepStrictEqual(orphans.filter((pid) => !isGone(pid)), [], "orphans are gone before backing off")
          yield* eventually(component.status, (status) => status.state === "running" && status.pid !== first.leader)
          yield* component.stop
        }).pipe(withTree))

      it.live("closing the scope stops the tree and ends every subscriber's stream", () =>
        Effect.gen(function*() {
          const componentScope = yield* Scope.make()
          const component = yield* make(
            nodeSpec("tree-scope", "tree.mjs", ["stubborn"], { stopGraceMs: 200 })
          ).pipe(Scope.provide(componentScope))
          const subscription = yield* component.subscribe()
          const subscriber = yield* Effect.forkScoped(Stream.runCollect(subscription.events))
          yield* component.start
          const pids = yield* treePids(component)
          // Under load the tree can print its pids before startSeconds has elapsed.
          yield* component.awaitStatus((status) => status.state === "running")
          yield* Scope.close(componentScope, Exit.void)
          assert.deepStrictEqual([pids.leader, pids.worker, pids.grandchild, pids.daemon].filter((pid) => !isGone(pid)), [])
          const events = yield* Fiber.join(subscriber)
          assert.deepStrictEqual(statesOf(events), ["starting", "running", "stopping", "stopped"])
          assert.include(outputOf(events), "PIDS")
        }).pipe(withTree))
    })

    describe("restart policy", () => {
      it.live("crash loop: delays grow exponentially, then the budget ends in errored", () =>
        Effect.gen(function*() {
          const component = yield* make(nodeSpec("crash-loop", "exit.mjs", ["1"], {
            restart: "on-failure",
            startSeconds: 0,
            crashLoop: { maxStarts: 4, windowMs: 30_000 }
          }))
          const events = yield* collect(component)
          yield* component.start
          yield* component.awaitStatus((status) => status.state === "errored")
          const statuses = yield* eventually(Effect.sync(() => statusesOf(events)), (all) => all.at(-1)?.state === "errored")
          const delays = statuses.flatMap((status) => (status.state === "backing-off" ? [status.restartDelayMs] : []))
          assert.deepStrictEqual(delays, [50, 100, 200])
          const errored = statuses.at(-1)
          assert.include(errored?.message ?? "", "crash loop: 4 starts")
          assert.strictEqual(errored?.lastExit?.code, 1)
          const startedAt = [...textOf(yield* component.history.recent).matchAll(/at=(\d+)/g)].map((match) => Number(match[1]))
          assert.strictEqual(startedAt.length, 4)
          const gaps = startedAt.slice(1).map((at, i) => at - (startedAt[i] ?? 0))
          gaps.forEach((gap, i) => assert.isAtLeast(gap, delays[i] ?? 0))
          const stats = yield* component.stats
          assert.strictEqual(stats.startCount, 4)
          assert.strictEqual(stats.restartCount, 3)

          yield* component.start
          assert.notStrictEqual((yield* component.status).state, "errored", "a manual start resets the budget")
          yield* component.awaitStatus((status) => status.state === "backing-off")
          yield* component.stop
        }).pipe(withTree))

      it.live("the delay resets after a run that lasted resetAfterMs", () =>
        Effect.gen(function*() {
          const component = yield* make(nodeSpec("healthy-then-crash", "exit.mjs", ["1", "250"], {
            restart: "on-failure",
            startSeconds: 0,
            backoff: { initialMs: 50, factor: 4, jitter: 0, resetAfterMs: 200 },
            crashLoop: { maxStarts: 3, windowMs: 30_000 }
          }))
          const events = yield* collect(component)
          yield* component.start
          yield* component.awaitStatus((status) => status.state === "errored")
          const statuses = yield* eventually(Effect.sync(() => statusesOf(events)), (all) => all.at(-1)?.state === "errored")
          const delays = statuses.flatMap((status) => (status.state === "backing-off" ? [status.restartDelayMs] : []))
          assert.deepStrictEqual(delays, [50, 50])
        }).pipe(withTree))

      it.live("always restarts a clean exit with jittered delays; on-failure does not; stop cancels a back-off", () =>
        Effect.gen(function*() {
          const always = yield* make(nodeSpec("always", "exit.mjs", ["0"], {
            restart: "always",
            startSeconds: 0,
            backoff: { initialMs: 100, factor: 1, jitter: 0.5 },
            crashLoop: { maxStarts: 6, windowMs: 30_000 }
          }))
          const events = yield* collect(always)
          yield* always.start
          const statuses = yield* eventually(Effect.sync(() => statusesOf(events)), (all) => all.at(-1)?.state === "errored")
          const delays = statuses.flatMap((status) => (status.state === "backing-off" ? [status.restartDelayMs ?? 0] : []))
          assert.strictEqual(delays.length, 5)
          delays.forEach((delay) => assert.isTrue(delay >= 50 && delay <= 150, `jittered delay ${delay}`))

          const slow = yield* make(nodeSpec("slow-backoff", "exit.mjs", ["1"], {
            restart: "always",
            startSeconds: 0,
            backoff: { initialMs: 10_000 }
          }))
          yield* slow.start
          yield* slow.awaitStatus((status) => status.state === "backing-off")
          const began = Date.now()
          yield* slow.stop
          assert.isBelow(Date.now() - began, 500)
          assert.strictEqual((yield* slow.status).state, "stopped")

          const onFailure = yield* make(nodeSpec("on-failure", "exit.mjs", ["0"], {
            restart: "on-failure",
            startSeconds: 0
          }))
          yield* onFailure.start
          const final = yield* onFailure.awaitStatus((status) => status.state !== "starting" && status.state !== "running")
          assert.strictEqual(final.state, "stopped")
        }).pipe(withTree))
    })

    describe("output", () => {
      it.live("UTF-8 split across single-byte writes arrives whole; a sequence cut by the exit becomes U+FFFD", () =>
        Effect.gen(function*() {
          const component = yield* make(nodeSpec("utf8", "utf8-split.mjs"))
          const events = yield* collect(component)
          yield* component.start
          yield* component.awaitStatus((status) => status.state === "stopped")
          const chunks = yield* eventually(
            Effect.sync(() => events.flatMap((event) => (event._tag === "Output" ? [event.data] : []))),
            (all) => all.join("") === "你好🙂\r\n"
          )
          assert.isAbove(chunks.length, 1, "the text did arrive in several chunks")
          assert.isFalse(chunks.join("").includes("\uFFFD"))
          assert.strictEqual(textOf(yield* component.history.query({ fromMs: 0, toMs: Date.now() + 1 })), "你好🙂\r\n")

          const truncated = yield* make(nodeSpec("utf8-cut", "utf8-split.mjs", ["truncated"]))
          yield* truncated.start
          yield* truncated.awaitStatus((status) => status.state === "stopped")
          assert.strictEqual(textOf(yield* truncated.history.recent), "你好🙂\r\n\uFFFD")
        }).pipe(withTree))

      it.live("output with nobody attached is kept; a subscriber's backlog continues exactly into its events", () =>
        Effect.gen(function*() {
          const component = yield* make(nodeSpec("unattended", "interactive.mjs"))
          yield* component.start
          yield* component.awaitStatus((status) => status.state === "running")
          yield* component.write("one\r")
          yield* waitForText(component, "echo:one")
          const before = Date.now()
          yield* Effect.sleep(5)

          const subscription = yield* component.subscribe()
          assert.include(textOf(subscription.backlog), "echo:one")
          assert.strictEqual(subscription.status.state, "running")
          const second = yield* component.subscribe()
          const firstEvents = yield* Effect.forkScoped(
            Stream.runCollect(Stream.takeUntil(subscription.events, (event) => outputOf([event]).includes("echo:two")))
          )
          const secondEvents = yield* Effect.forkScoped(
            Stream.runCollect(Stream.takeUntil(second.events, (event) => outputOf([event]).includes("echo:two")))
          )
          yield* component.write("two\r")
          const a = outputOf(yield* Fiber.join(firstEvents))
          const b = outputOf(yield* Fiber.join(secondEvents))
          assert.strictEqual(a, b, "every subscriber sees the same output")
          assert.notInclude(a, "echo:one")

          const fromNow = yield* component.history.query({ fromMs: before, toMs: Date.now() })
          assert.include(textOf(fromNow), "echo:two")
          assert.notInclude(textOf(fromNow), "echo:one")
          const earlier = yield* component.history.query({ fromMs: 0, toMs: before })
          assert.include(textOf(earlier), "echo:one")
          assert.notInclude(textOf(earlier), "echo:two")
        }).pipe(withTree))

      it.live("a flood of Chinese text with nobody attached is recorded whole and in order", () =>
        Effect.gen(function*() {
          const spec = nodeSpec("flood-zh", "flood.mjs", ["20", "zh"])
          const component = yield* make({ ...spec, history: { ...spec.history, maxFileBytes: 32 * 1024 * 1024 } })
          yield* component.start
          yield* component.awaitStatus((status) => status.state === "stopped")
          yield* component.history.flush
          const kept = textOf(yield* component.history.query({ fromMs: 0, toMs: Date.now() })).split("\r\n")
          assert.strictEqual(kept.at(-2), "FLOOD-END")
          const body = `${"中文日志输出".repeat(4)}${"x".repeat(17)}`
          const numbered = kept.slice(0, -2)
          assert.strictEqual(numbered.length, 200_000)
          assert.isTrue(numbered.every((line, n) => line === `${String(n).padStart(9, "0")} ${body}`), "every line intact")
        }).pipe(withTree))

      // Throughput against bare node-pty is measured in bench/src/supervisor.ts, not asserted here.
      it.live("a 30 MB flood: the fast subscriber gets every byte, the slow one is dropped", () =>
        Effect.gen(function*() {
          const megabytes = 30
          const lines = megabytes * 10_000
          const expectedChars = lines * 101 + "FLOOD-END\r\n".length

          const spec = nodeSpec("flood", "flood.mjs", [String(megabytes)])
          const component = yield* make({
            ...spec,
            history: { ...spec.history, maxFileBytes: 8 * 1024 * 1024, maxFiles: 2, ringBytes: 256 * 1024 }
          })
          const fast = yield* component.subscribe()
          const slow = yield* component.subscribe({ capacity: 8 })
          let received = 0
          let next = 0
          let carry = ""
          let ordered = true
          const fastFiber = yield* Effect.forkScoped(Stream.runForEach(fast.events, (event) =>
            Effect.sync(() => {
              if (event._tag !== "Output") return
              received += event.data.length
              const parts = (carry + event.data).split("\r\n")
              carry = parts.pop() ?? ""
              for (const line of parts) {
                if (line === "FLOOD-END") continue
                if (Number(line.slice(0, 9)) !== next) ordered = false
                next++
              }
            })
          ))
          const slowFiber = yield* Effect.forkScoped(
            // Slow enough to fall 8 events behind whatever the events' size: a PTY thread hands over 256 KiB at once.
            Effect.flip(Stream.runForEach(slow.events, () => Effect.sleep(100)))
          )
          yield* component.start
          yield* component.awaitStatus((status) => status.state === "stopped")

          const dropped = yield* Fiber.join(slowFiber)
          assert.strictEqual(dropped._tag, "SubscriberOverflow")
          assert.strictEqual(dropped.capacity, 8)
          yield* eventually(Effect.sync(() => received), (n) => n === expectedChars, 10_000)
          assert.strictEqual(next, lines)
          assert.isTrue(ordered, "lines arrive complete and in order")
          assert.isUndefined(fastFiber.pollUnsafe(), "the fast subscriber is still attached")

          yield* component.history.flush
          const dir = Path.dirname(component.history.path)
          assert.deepStrictEqual(Fs.readdirSync(dir).toSorted(), ["history.log", "history.log.1", "history.log.2"])
          assert.isAtMost(Fs.statSync(component.history.path).size, 8 * 1024 * 1024)
          const ring = yield* component.history.recent
          assert.isAtMost(textOf(ring).length, 256 * 1024 + 64 * 1024)
          assert.isTrue(textOf(ring).endsWith("FLOOD-END\r\n"))
          // What the files kept is whole and in order (a PTY thread's batches are reused once written).
          const kept = textOf(yield* component.history.query({ fromMs: 0, toMs: Date.now() })).split("\r\n")
          assert.strictEqual(kept.at(-2), "FLOOD-END")
          const numbers = kept.slice(1, -2).map((line) => Number(line.slice(0, 9)))
          assert.isAbove(numbers.length, 150_000)
          assert.isTrue(numbers.every((n, index) => n === lines - numbers.length + index), "consecutive up to the last")
        }).pipe(withTree))
    })

    describe("output coalescing", () => {
      it.live("reads within outputWindowMs reach subscribers as one event, flushed before the next status event", () =>
        Effect.gen(function*() {
          const component = yield* make(nodeSpec("coalesced", "utf8-split.mjs", [], { outputWindowMs: 200 }))
          const events = yield* collect(component)
          yield* component.start
          yield* waitForStates(events, ["starting", "running", "stopped"])
          const outputs = events.filter((event) => event._tag === "Output")
          assert.isAtMost(outputs.length, 2, "13 one-byte writes 8 ms apart arrive in one or two windows")
          assert.strictEqual(outputOf(events), "你好🙂\r\n")
          const exitAt = events.findIndex((event) => event._tag === "Status" && event.status.state === "stopped")
          assert.isBelow(events.findIndex((event) => event._tag === "Output"), exitAt, "output comes before the exit")
        }).pipe(withTree))

      it.live("a subscriber joining mid-flood gets backlog then events with no line lost or repeated", () =>
        Effect.gen(function*() {
          const component = yield* make(nodeSpec("joiner", "flood.mjs", ["1"]))
          yield* component.start
          yield* waitForText(component, /\n00000[1-9]\d{3} /)
          const subscription = yield* component.subscribe({ capacity: 100_000 })
          const text: Array<string> = [subscription.backlog.map((record) => record.data).join("")]
          yield* Effect.forkScoped(Stream.runForEach(subscription.events, (event) =>
            Effect.sync(() => event._tag === "Output" && text.push(event.data))))
          yield* eventually(Effect.sync(() => text.join("").includes("FLOOD-END")), (done) => done, 25_000)
          const numbers = [...text.join("").matchAll(/^(\d{9}) x/gm)].map((match) => Number(match[1]))
          assert.isAbove(numbers.length, 1_000)
          assert.strictEqual(numbers.at(-1), 9_999)
          assert.isTrue(numbers.every((n, i) => i === 0 || n === (numbers[i - 1] ?? 0) + 1), "consecutive")
        }).pipe(withTree), 30_000)
    })

    describe("statistics", () => {
      it.live("CPU and memory of the tree, uptime, start count and runtime accumulated across runs", () =>
        Effect.gen(function*() {
          const component = yield* make(nodeSpec("burn", "burn.mjs", ["60000"]))
          const idle = yield* component.stats
          assert.deepStrictEqual(
            [idle.state, idle.pid, idle.startCount, idle.totalRuntimeSeconds, idle.lastStartTime, idle.cpuPercent],
            ["stopped", null, 0, 0, null, null]
          )
          yield* component.start
          yield* waitForText(component, "burning")
          yield* Effect.sleep(400)
          const busy = yield* component.stats
          assert.strictEqual(busy.state, "running")
          assert.strictEqual(busy.startCount, 1)
          assert.strictEqual(busy.processCount, 1)
          assert.isAbove(busy.cpuPercent ?? 0, 40)
          assert.isAbove(busy.memoryBytes ?? 0, 32 * 1024 * 1024)
          assert.isAtLeast(busy.uptimeSeconds, 0.4)
          const firstStart = busy.lastStartTime ?? 0
          assert.isAtMost(Math.abs(firstStart + busy.uptimeSeconds * 1000 - Date.now()), 200)
          yield* component.stop
          const afterFirst = (yield* component.stats).totalRuntimeSeconds
          assert.isAtLeast(afterFirst, 0.4)
          assert.strictEqual((yield* component.stats).uptimeSeconds, 0)

          yield* component.start
          yield* Effect.sleep(300)
          const second = yield* component.stats
          assert.strictEqual(second.startCount, 2)
          assert.isAbove(second.lastStartTime ?? 0, firstStart)
          assert.approximately(second.totalRuntimeSeconds, afterFirst + second.uptimeSeconds, 0.01)
          yield* component.stop
        }).pipe(withTree))
    })
  })
}
