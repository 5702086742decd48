/**
 * The SSE hub's slow-client policy on real Node streams whose reader we control (a socket's kernel buffers
 * would absorb megabytes before the policy shows): a client that stops reading is coalesced to the latest
 * status, then dropped once it stays blocked past `maxLag`; the others get every frame.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { PassThrough } from "node:stream"
import { StatusBus } from "@maikit/core/relay"
import * as StatusEventsModule from "../src/relay/StatusEvents.ts"
import { StatusEvents } from "../src/relay/StatusEvents.ts"
import { eventually } from "../../core/test/helpers/mqtt.ts"

interface Client {
  readonly sink: StatusEventsModule.Sink
  readonly stream: PassThrough
  readonly received: () => string
  readonly closed: () => boolean
}

/** A stream standing in for a response: `reading` false means nobody drains it. */
const client = (reading: boolean): Client => {
  const stream = new PassThrough({ highWaterMark: 512 })
  let text = ""
  let closed = false
  const collect = (chunk: Buffer) => (text += chunk.toString())
  if (reading) stream.on("data", collect)
  stream.once("close", () => (closed = true))
  return {
    stream,
    received: () => {
      if (!reading) {
        let chunk: Buffer | null
        while ((chunk = stream.read() as Buffer | null) !== null) text += chunk.toString()
      }
      return text
    },
    closed: () => closed,
    sink: {
      writeHead: () => undefined,
      write: (chunk: string) => stream.write(chunk),
      get writableLength() {
        return stream.writableLength
      },
      once: (event: "drain" | "close", listener: () => void) => stream.once(event, listener),
      end: () => stream.end(),
      destroy: () => stream.destroy()
    }
  }
}

const seqs = (text: string) =>
  text.split("\n\n").filter((frame) => frame.includes("event: status")).map((frame) => Number(/"seq":(\d+)/.exec(frame)?.[1]))

const hub = (options: StatusEventsModule.Options) =>
  Effect.provide(Layer.provideMerge(StatusEvents.layer(options), StatusBus.StatusBus.layer()))

const publish = (count: number) =>
  StatusBus.StatusBus.use((bus) =>
    Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
      Effect.andThen(bus.publish({ code: i % 2 === 0 ? "busy" : "reasoning", label: "x".repeat(100) }), Effect.yieldNow))
  )

describe("StatusEvents slow clients", () => {
  it.live("coalesces a client that stops reading to the latest status, without holding back the others", () =>
    Effect.gen(function*() {
      const events = yield* StatusEvents
      const stuck = client(false)
      const healthy = client(true)
      yield* events.attach(stuck.sink)
      yield* events.attach(healthy.sink)
      yield* publish(300)
      yield* eventually("the healthy client", Effect.sync(() => seqs(healthy.received()).length === 300))
      assert.deepStrictEqual(seqs(healthy.received()), Array.from({ length: 300 }, (_, i) => i + 1))
      // Bounded: what waits for the stuck client is at most the threshold plus one frame.
      assert.isBelow(stuck.stream.writableLength, 2048 + 1024)

      const got = seqs(stuck.received())
      yield* eventually("the stuck client to drain to the latest", Effect.sync(() => seqs(stuck.received()).at(-1) === 300))
      const all = seqs(stuck.received())
      assert.isAbove(got.length, 0)
      assert.isBelow(all.length, 300)
      assert.deepStrictEqual(all, all.toSorted((a, b) => a - b))
      assert.strictEqual(yield* events.clients, 2)
    }).pipe(hub({ maxBufferedBytes: 2048, maxLag: "10 seconds" })))

  it.live("drops a client that stays blocked past maxLag and tells its owner", () =>
    Effect.gen(function*() {
      const events = yield* StatusEvents
      const stuck = client(false)
      const healthy = client(true)
      let closedByHub = false
      yield* events.attach(stuck.sink, { onClose: () => (closedByHub = true) })
      yield* events.attach(healthy.sink)
      yield* publish(100)
      yield* eventually("the stuck client to be dropped", Effect.sync(() => closedByHub && stuck.closed()), 3000)
      assert.strictEqual(yield* events.clients, 1)
      yield* publish(1)
      yield* eventually("the healthy client", Effect.sync(() => seqs(healthy.received()).length === 101))
    }).pipe(hub({ maxBufferedBytes: 2048, maxLag: "150 millis", keepAliveInterval: "50 millis" })))

  it.live("refuses clients beyond maxClients and forgets one whose stream closes", () =>
    Effect.gen(function*() {
      const events = yield* StatusEvents
      const first = client(true)
      assert.isTrue(yield* events.attach(first.sink))
      assert.isFalse(yield* events.attach(client(true).sink))
      first.stream.destroy()
      yield* eventually("the closed client to be forgotten", Effect.map(events.clients, (count) => count === 0))
      assert.isTrue(yield* events.attach(client(true).sink))
    }).pipe(hub({ maxClients: 1 })))
})

describe("StatusEvents fan-out", () => {
  it.live("a few clients and many get every frame once, in order, as the count crosses the inline limit", () =>
    Effect.gen(function*() {
      const events = yield* StatusEvents
      const bus = yield* StatusBus.StatusBus
      const first = client(true)
      yield* events.attach(first.sink)
      // Published in one turn: the single client gets each frame as it is published.
      for (let i = 0; i < 5; i++) yield* bus.publish({ code: i % 2 === 0 ? "busy" : "idle", session_id: "s" })
      assert.deepStrictEqual(seqs(first.received()), [1, 2, 3, 4, 5])
      const crowd = Array.from({ length: 40 }, () => client(true))
      for (const member of crowd) yield* events.attach(member.sink)
      for (let i = 0; i < 50; i++) {
        yield* bus.publish({ code: i % 2 === 0 ? "using_tool" : "reasoning", session_id: "s" })
        if (i % 7 === 0) yield* Effect.yieldNow
      }
      const expectedCrowd = Array.from({ length: 50 }, (_, i) => i + 6)
      yield* eventually("every client to get the last frame", Effect.sync(() =>
        crowd.every((member) => seqs(member.received()).at(-1) === 55)
      ))
      assert.deepStrictEqual(seqs(first.received()), [1, 2, 3, 4, 5, ...expectedCrowd])
      for (const member of crowd) assert.deepStrictEqual(seqs(member.received()), expectedCrowd)
    }).pipe(hub({})))
})

describe("StatusEvents resume", () => {
  it.live("keeps no frames before the first client, and replays what a client missed once one has connected", () =>
    Effect.gen(function*() {
      const events = yield* StatusEvents
      // Published before anyone connected: nobody can hold an id to resume from, so nothing is replayed.
      yield* publish(5)
      const first = client(true)
      assert.isTrue(yield* events.attach(first.sink))
      const id = /id: (\S+)/.exec(first.received())?.[1] ?? ""
      assert.match(id, /-5$/)
      assert.deepStrictEqual(seqs(first.received()), [])
      first.stream.destroy()
      yield* eventually("the first client to leave", Effect.map(events.clients, (count) => count === 0))
      yield* publish(3)
      const again = client(true)
      assert.isTrue(yield* events.attach(again.sink, { lastEventId: id }))
      assert.deepStrictEqual(seqs(again.received()), [6, 7, 8])
      // An id of a frame this process never kept gets the snapshot instead.
      const stale = client(true)
      assert.isTrue(yield* events.attach(stale.sink, { lastEventId: id.replace(/-5$/, "-2") }))
      assert.deepStrictEqual(seqs(stale.received()), [])
      assert.match(stale.received(), /id: \S+-8\nevent: connected/)
    }).pipe(hub({})))
})
