import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { parseProcNetDev } from "../src/platform/internal/hostReadings.ts"
import * as SystemMetrics from "../src/platform/SystemMetrics.ts"

const withMetrics = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.provide(self, SystemMetrics.SystemMetrics.layerWith({ interval: "200 millis" }))

const assertPercent = (value: number, label: string) =>
  assert.isTrue(value >= 0 && value <= 100, `${label} = ${value} is not within 0..100`)

describe("SystemMetrics", () => {
  it.live("takes a sane snapshot of this machine", () =>
    Effect.gen(function*() {
      const metrics = yield* SystemMetrics.SystemMetrics
      const snapshot = yield* metrics.snapshot
      Schema.decodeUnknownSync(SystemMetrics.Snapshot)(snapshot)

      assert.include(["Linux", "Darwin", "Windows"], snapshot.os.system)
      assert.isNotEmpty(snapshot.os.release)
      assert.isNotEmpty(snapshot.os.machine)
      assert.isNotEmpty(snapshot.os.processor)
      assert.include(snapshot.runtime, process.version)
      assertPercent(snapshot.cpuPercent, "cpuPercent")

      const memory = snapshot.memory
      assert.isTrue(memory.total_mb > 0)
      assertPercent(memory.percent, "memory.percent")
      assert.isTrue(memory.available_mb <= memory.total_mb)
      assert.isTrue(memory.free_mb <= memory.total_mb)
      assert.approximately(memory.used_mb + memory.available_mb, memory.total_mb, 0.05)
      assert.strictEqual(Math.round(memory.total_mb * 100), memory.total_mb * 100)

      const disk = snapshot.disk
      assert.isTrue(disk.total_gb > 0)
      assertPercent(disk.percent, "disk.percent")
      assert.isTrue(disk.used_gb <= disk.total_gb && disk.free_gb <= disk.total_gb)
      assert.isTrue(disk.used_gb + disk.free_gb <= disk.total_gb + 0.05)

      const network = snapshot.network
      for (const counters of network.interfaces) {
        assert.notStrictEqual(counters.name, "lo")
        assert.isFalse(counters.name.startsWith("vir"), counters.name)
        for (const value of Object.values(counters)) {
          if (typeof value === "number") assert.isTrue(value >= 0)
        }
      }
      const sum = (pick: (counters: SystemMetrics.NetworkInterface) => number) =>
        network.interfaces.reduce((total, counters) => total + pick(counters), 0)
      assert.strictEqual(network.total_bytes_sent, sum((counters) => counters.bytes_sent))
      assert.strictEqual(network.total_bytes_recv, sum((counters) => counters.bytes_recv))
      assert.strictEqual(network.total_packets_sent, sum((counters) => counters.packets_sent))
      assert.strictEqual(network.total_packets_recv, sum((counters) => counters.packets_recv))
      assert.isTrue(snapshot.networkRates.upBytesPerSecond >= 0)
      assert.isTrue(snapshot.networkRates.downBytesPerSecond >= 0)

      assert.strictEqual(snapshot.process.pid, process.pid)
      assert.isTrue(snapshot.process.rssBytes > 0)
      assert.isTrue(snapshot.process.heapUsedBytes > 0)
      assert.isTrue(snapshot.process.uptimeSeconds > 0)
      assert.isTrue(snapshot.process.cpuPercent >= 0)
    }).pipe(withMetrics))

  it.live("keeps sampling in the background and answers from the latest sample", () =>
    Effect.gen(function*() {
      const metrics = yield* SystemMetrics.SystemMetrics
      const first = yield* metrics.snapshot
      yield* Effect.sleep("700 millis")

      const started = performance.now()
      const answers = yield* Effect.forEach(Array.from({ length: 20 }), () => metrics.snapshot)
      const perCall = (performance.now() - started) / answers.length
      assert.isTrue(perCall < 200, `snapshot took ${perCall} ms per call`)

      const later = answers[answers.length - 1]
      assert.isDefined(later)
      if (later === undefined) return
      assert.isTrue(later.sampledAt > first.sampledAt, "no sample was taken after the first")
      assert.isTrue(later.network.total_bytes_recv >= first.network.total_bytes_recv)
      assert.isTrue(later.network.total_bytes_sent >= first.network.total_bytes_sent)
      assertPercent(later.cpuPercent, "cpuPercent")
    }).pipe(withMetrics))

  it.live("reports OS info and the process's own figures", () =>
    Effect.gen(function*() {
      const metrics = yield* SystemMetrics.SystemMetrics
      const os = yield* metrics.osInfo
      const snapshot = yield* metrics.snapshot
      assert.deepStrictEqual(os, snapshot.os)
      const stats = yield* metrics.processStats
      Schema.decodeUnknownSync(SystemMetrics.ProcessStats)(stats)
      assert.strictEqual(stats.pid, process.pid)
      assert.isTrue(stats.rssBytes > 0)
      // Linux reads the virtual size from procfs; it always exceeds the resident set.
      assert.isTrue(stats.vmsBytes !== null && stats.vmsBytes > stats.rssBytes)
    }).pipe(withMetrics))

  it("parses /proc/net/dev as psutil does", () => {
    const text = [
      "Inter-|   Receive                                                |  Transmit",
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
      "    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0",
      "  eth0: 344021010   10312    1    2    0     0          0         0   852118    7576    3    4    0     0       0          0",
      "virbr0:     100       1    0    0    0     0          0         0      200       2    0    0    0     0       0          0",
      ""
    ].join("\n")
    assert.deepStrictEqual(parseProcNetDev(text).map((counters) => counters.name), ["lo", "eth0", "virbr0"])
    assert.deepStrictEqual(parseProcNetDev(text)[1], {
      name: "eth0",
      bytes_recv: 344021010,
      packets_recv: 10312,
      errin: 1,
      dropin: 2,
      bytes_sent: 852118,
      packets_sent: 7576,
      errout: 3,
      dropout: 4
    })
  })
})
