/**
 * Host and process statistics for the launcher's `/system/metrics`: OS, CPU, memory, root disk and network
 * counters in psutil's shapes, plus network rates and MaiKit's own process figures. A fiber in the layer's
 * scope takes a sample every `interval` (default 1 s) and `snapshot` returns the latest one, so a request
 * never waits on a reading; CPU and network rates are computed between consecutive samples.
 */
import { Clock, Context, Duration, Effect, Layer, Ref, Schema } from "effect"
import * as Fs from "node:fs"
import * as Host from "./internal/hostReadings.ts"
import { SystemMetricsError } from "./SystemMetricsError.ts"

export { SystemMetricsError } from "./SystemMetricsError.ts"

/** Python's `platform` fields: `system` is `Linux`, `Darwin` or `Windows`; `processor` is the CPU brand. */
export const OsInfo = Schema.Struct({
  system: Schema.String,
  release: Schema.String,
  version: Schema.String,
  machine: Schema.String,
  processor: Schema.String
})
export type OsInfo = typeof OsInfo.Type

/** Sizes in MiB rounded to 2 decimals; `percent` is the share not available, to 1 decimal. */
export const MemoryUsage = Schema.Struct({
  total_mb: Schema.Number,
  available_mb: Schema.Number,
  percent: Schema.Number,
  used_mb: Schema.Number,
  free_mb: Schema.Number
})
export type MemoryUsage = typeof MemoryUsage.Type

/** The root file system (`/`, or the system drive on Windows); sizes in GiB rounded to 2 decimals. */
export const DiskUsage = Schema.Struct({
  total_gb: Schema.Number,
  used_gb: Schema.Number,
  free_gb: Schema.Number,
  percent: Schema.Number
})
export type DiskUsage = typeof DiskUsage.Type

/** Cumulative counters since boot. Packet counters are 0 off Linux. */
export const NetworkInterface = Schema.Struct({
  name: Schema.String,
  bytes_sent: Schema.Number,
  bytes_recv: Schema.Number,
  packets_sent: Schema.Number,
  packets_recv: Schema.Number,
  errin: Schema.Number,
  errout: Schema.Number,
  dropin: Schema.Number,
  dropout: Schema.Number
})
export type NetworkInterface = typeof NetworkInterface.Type

/** Every interface except `lo` and names starting with `vir`, and their sums. */
export const NetworkStats = Schema.Struct({
  interfaces: Schema.Array(NetworkInterface),
  total_bytes_sent: Schema.Number,
  total_bytes_recv: Schema.Number,
  total_packets_sent: Schema.Number,
  total_packets_recv: Schema.Number
})
export type NetworkStats = typeof NetworkStats.Type

/** Bytes per second between the last two network readings; 0 until there are two. */
export const NetworkRates = Schema.Struct({
  upBytesPerSecond: Schema.Number,
  downBytesPerSecond: Schema.Number
})
export type NetworkRates = typeof NetworkRates.Type

/** MaiKit's own process. `cpuPercent` is of one core, so it can exceed 100 on a multi-core host. */
export const ProcessStats = Schema.Struct({
  pid: Schema.Int,
  cpuPercent: Schema.Number,
  rssBytes: Schema.Number,
  /** Virtual memory size (psutil's `vms`); `null` where the host does not tell it (read from procfs on Linux). */
  vmsBytes: Schema.NullOr(Schema.Number),
  heapUsedBytes: Schema.Number,
  uptimeSeconds: Schema.Number
})
export type ProcessStats = typeof ProcessStats.Type

export const Snapshot = Schema.Struct({
  /** When the sample was taken, in epoch milliseconds. */
  sampledAt: Schema.Number,
  os: OsInfo,
  /** The JavaScript runtime, e.g. `Node.js v22.19.0`; the original reported its Python version here. */
  runtime: Schema.String,
  /** Whole-host CPU use since the previous sample, 0..100. */
  cpuPercent: Schema.Number,
  memory: MemoryUsage,
  disk: DiskUsage,
  network: NetworkStats,
  networkRates: NetworkRates,
  process: ProcessStats
})
export type Snapshot = typeof Snapshot.Type

export interface Options {
  /** Time between samples. Default 1 second. */
  readonly interval?: Duration.Input | undefined
}

export const defaultInterval: Duration.Input = "1 second"

/** Off Linux a network reading spawns PowerShell or netstat, too costly to repeat every second. */
const slowNetworkRefreshMillis = 10_000

const MiB = 1024 * 1024
const GiB = 1024 * MiB

const round = (value: number, digits: number) => {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

const percentOf = (part: number, whole: number) => (whole > 0 ? round((part / whole) * 100, 1) : 0)

interface NetworkSample {
  readonly at: number
  readonly stats: NetworkStats
  readonly rates: NetworkRates
}

interface Baseline {
  readonly at: number
  readonly cpu: Host.CpuTimes
  readonly cpuPercent: number
  readonly processCpu: NodeJS.CpuUsage
  readonly processCpuPercent: number
  readonly network: NetworkSample
}

const toMemoryUsage = (reading: Host.MemoryReading): MemoryUsage => ({
  total_mb: round(reading.total / MiB, 2),
  available_mb: round(reading.available / MiB, 2),
  percent: percentOf(reading.total - reading.available, reading.total),
  used_mb: round((reading.total - reading.available) / MiB, 2),
  free_mb: round(reading.free / MiB, 2)
})

const toDiskUsage = (reading: Host.DiskReading): DiskUsage => ({
  total_gb: round(reading.total / GiB, 2),
  used_gb: round(reading.used / GiB, 2),
  free_gb: round(reading.free / GiB, 2),
  percent: percentOf(reading.used, reading.used + reading.free)
})

const toNetworkStats = (interfaces: ReadonlyArray<NetworkInterface>): NetworkStats => {
  let sent = 0
  let recv = 0
  let packetsSent = 0
  let packetsRecv = 0
  for (const counters of interfaces) {
    sent += counters.bytes_sent
    recv += counters.bytes_recv
    packetsSent += counters.packets_sent
    packetsRecv += counters.packets_recv
  }
  return {
    interfaces,
    total_bytes_sent: sent,
    total_bytes_recv: recv,
    total_packets_sent: packetsSent,
    total_packets_recv: packetsRecv
  }
}

const perSecond = (current: number, previous: number, millis: number) =>
  millis > 0 ? round(Math.max(0, current - previous) / (millis / 1000), 2) : 0

const readNetwork = Effect.fnUntraced(function*(at: number, previous: NetworkSample | undefined) {
  if (previous !== undefined && !Host.isLinux && at - previous.at < slowNetworkRefreshMillis) return previous
  const stats = toNetworkStats(yield* Host.networkCounters)
  const rates: NetworkRates = previous === undefined
    ? { upBytesPerSecond: 0, downBytesPerSecond: 0 }
    : {
      upBytesPerSecond: perSecond(stats.total_bytes_sent, previous.stats.total_bytes_sent, at - previous.at),
      downBytesPerSecond: perSecond(stats.total_bytes_recv, previous.stats.total_bytes_recv, at - previous.at)
    }
  return { at, stats, rates } satisfies NetworkSample
})

const cpuPercentSince = (current: Host.CpuTimes, previous: Baseline | undefined) => {
  if (previous === undefined) return percentOf(current.busy, current.total)
  const total = current.total - previous.cpu.total
  return total > 0 ? percentOf(current.busy - previous.cpu.busy, total) : previous.cpuPercent
}

const processCpuPercentSince = (current: NodeJS.CpuUsage, at: number, previous: Baseline | undefined) => {
  const used = current.user + current.system
  if (previous === undefined) return round((used / (process.uptime() * 1_000_000)) * 100, 1)
  const millis = at - previous.at
  if (millis <= 0) return previous.processCpuPercent
  return round(((used - previous.processCpu.user - previous.processCpu.system) / (millis * 1000)) * 100, 1)
}

/** `VmSize` of `/proc/self/status`, in bytes; `null` off Linux or when procfs is not mounted. */
const virtualMemoryBytes = (): number | null => {
  if (process.platform !== "linux") return null
  try {
    const kib = /^VmSize:\s+(\d+) kB$/m.exec(Fs.readFileSync("/proc/self/status", "latin1"))?.[1]
    return kib === undefined ? null : Number(kib) * 1024
  } catch {
    return null
  }
}

const processStatsWith = (cpuPercent: number): ProcessStats => {
  const memory = process.memoryUsage()
  return {
    pid: process.pid,
    cpuPercent,
    rssBytes: memory.rss,
    vmsBytes: virtualMemoryBytes(),
    heapUsedBytes: memory.heapUsed,
    uptimeSeconds: round(process.uptime(), 2)
  }
}

const runtime = `Node.js ${process.version}`

const make = Effect.fnUntraced(function*(options: Options) {
  const os = yield* Host.osInfo
  const baseline = yield* Ref.make<Baseline | undefined>(undefined)

  const sample = Effect.gen(function*() {
    const previous = yield* Ref.get(baseline)
    const at = yield* Clock.currentTimeMillis
    const [cpu, memory, disk, network] = yield* Effect.all([
      Host.cpuTimes,
      Host.memory,
      Host.disk,
      readNetwork(at, previous?.network)
    ], { concurrency: "unbounded" })
    const processCpu = process.cpuUsage()
    const cpuPercent = cpuPercentSince(cpu, previous)
    const processCpuPercent = processCpuPercentSince(processCpu, at, previous)
    yield* Ref.set(baseline, { at, cpu, cpuPercent, processCpu, processCpuPercent, network })
    return {
      sampledAt: at,
      os,
      runtime,
      cpuPercent,
      memory: toMemoryUsage(memory),
      disk: toDiskUsage(disk),
      network: network.stats,
      networkRates: network.rates,
      process: processStatsWith(processCpuPercent)
    } satisfies Snapshot
  })

  const latest = yield* Ref.make(yield* Effect.result(sample))
  yield* Effect.sleep(options.interval ?? defaultInterval).pipe(
    Effect.andThen(Effect.result(sample)),
    Effect.flatMap((result) => Ref.set(latest, result)),
    Effect.forever,
    Effect.forkScoped
  )

  return SystemMetrics.of({
    snapshot: Effect.flatMap(Ref.get(latest), Effect.fromResult),
    osInfo: Effect.succeed(os),
    processStats: Effect.map(Ref.get(baseline), (last) => processStatsWith(last?.processCpuPercent ?? 0))
  })
})

/** The latest sample of host and process statistics, refreshed in the background while the layer lives. */
export class SystemMetrics extends Context.Service<SystemMetrics, {
  /** The latest sample, or the error of the latest attempt to take one. */
  readonly snapshot: Effect.Effect<Snapshot, SystemMetricsError>
  readonly osInfo: Effect.Effect<OsInfo>
  /** Memory and uptime as of now; CPU share as of the latest sample. */
  readonly processStats: Effect.Effect<ProcessStats>
}>()("@maikit/core/SystemMetrics") {
  static readonly layer: Layer.Layer<SystemMetrics> = Layer.effect(SystemMetrics, make({}))

  static readonly layerWith = (options: Options): Layer.Layer<SystemMetrics> =>
    Layer.effect(SystemMetrics, make(options))
}
