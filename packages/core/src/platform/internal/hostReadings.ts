import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import type * as SystemInformation from "systeminformation"
import type { NetworkInterface, OsInfo } from "../SystemMetrics.ts"
import { SystemMetricsError } from "../SystemMetricsError.ts"

/** `systeminformation` loads dozens of modules; it is only needed once metrics are read, not at start-up. */
const systemInformation = (): Promise<typeof SystemInformation> => import("systeminformation")

export interface CpuTimes {
  readonly busy: number
  readonly total: number
}

export interface MemoryReading {
  readonly total: number
  readonly available: number
  readonly free: number
}

export interface DiskReading {
  readonly total: number
  readonly used: number
  readonly free: number
}

const platform = process.platform

export const isLinux = platform === "linux"

const failure = (source: string) => (cause: unknown) =>
  new SystemMetricsError({ source, message: `cannot read ${source}: ${String(cause)}`, cause })

const attempt = <A>(source: string, evaluate: () => A): Effect.Effect<A, SystemMetricsError> =>
  Effect.try({ try: evaluate, catch: failure(source) })

const attemptPromise = <A>(source: string, evaluate: () => Promise<A>): Effect.Effect<A, SystemMetricsError> =>
  Effect.tryPromise({ try: evaluate, catch: failure(source) })

/** Python's `platform.system()` names, which the original API reported. */
const systemName = (type: string): string => (type === "Windows_NT" ? "Windows" : type)

/** Python reports Windows 11 as release "11" although its kernel version still starts with 10. */
const windowsRelease = (kernel: string): string => {
  const [major = kernel, , build = "0"] = kernel.split(".")
  return Number(build) >= 22000 ? "11" : major
}

/** The CPU brand as psutil's callers got it; some ARM kernels leave the model empty, so ask lscpu & co. then. */
const cpuBrand: Effect.Effect<string> = Effect.suspend(() => {
  const model = Os.cpus()[0]?.model.trim() ?? ""
  return model !== "" ? Effect.succeed(model) : Effect.tryPromise(() => systemInformation().then((si) => si.cpu())).pipe(
    Effect.map((cpu) => `${cpu.manufacturer} ${cpu.brand}`.trim()),
    Effect.orElseSucceed(() => "")
  )
})

export const osInfo: Effect.Effect<OsInfo> = Effect.map(cpuBrand, (processor) => {
  const kernel = Os.release()
  const windows = platform === "win32"
  return {
    system: systemName(Os.type()),
    release: windows ? windowsRelease(kernel) : kernel,
    version: windows ? kernel : Os.version(),
    machine: Os.machine(),
    processor
  }
})

export const cpuTimes: Effect.Effect<CpuTimes, SystemMetricsError> = attempt("cpu times", () => {
  let busy = 0
  let total = 0
  for (const { times } of Os.cpus()) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle
    total += all
    busy += all - times.idle
  }
  return { busy, total }
})

/**
 * `systeminformation` spawns PowerShell for memory on Windows, where the OS figures are what psutil reports
 * anyway (available and free are the same number there).
 */
export const memory: Effect.Effect<MemoryReading, SystemMetricsError> = platform === "win32"
  ? attempt("memory", () => {
    const available = Os.freemem()
    return { total: Os.totalmem(), available, free: available }
  })
  : attemptPromise("memory", () => systemInformation().then((si) => si.mem())).pipe(
    Effect.map((mem) => ({ total: mem.total, available: mem.available, free: mem.free }))
  )

const rootPath = platform === "win32" ? `${process.env["SystemDrive"] ?? "C:"}\\` : "/"

/** psutil's `disk_usage`: `used` counts blocks reserved for root, `free` only what unprivileged users may use. */
export const disk: Effect.Effect<DiskReading, SystemMetricsError> = attemptPromise(
  `disk ${rootPath}`,
  () => Fs.statfs(rootPath)
).pipe(Effect.map((stats) => ({
  total: stats.blocks * stats.bsize,
  used: (stats.blocks - stats.bfree) * stats.bsize,
  free: stats.bavail * stats.bsize
})))

const excluded = (name: string) => name === "lo" || name.startsWith("vir")

/** The columns of `/proc/net/dev`, the same source psutil reads. */
export const parseProcNetDev = (text: string): ReadonlyArray<NetworkInterface> =>
  text.split("\n").slice(2).flatMap((line) => {
    const separator = line.indexOf(":")
    if (separator < 0) return []
    const name = line.slice(0, separator).trim()
    const fields = line.slice(separator + 1).trim().split(/\s+/).map(Number)
    if (fields.length < 16 || fields.some((field) => !Number.isFinite(field))) return []
    const field = (index: number) => fields[index] ?? 0
    return [{
      name,
      bytes_sent: field(8),
      bytes_recv: field(0),
      packets_sent: field(9),
      packets_recv: field(1),
      errin: field(2),
      errout: field(10),
      dropin: field(3),
      dropout: field(11)
    }]
  })

/**
 * Cumulative counters per interface, without loopback and `vir*` bridges. Off Linux `systeminformation`
 * has no packet counters, so those read 0.
 */
export const networkCounters: Effect.Effect<ReadonlyArray<NetworkInterface>, SystemMetricsError> = (isLinux
  ? attemptPromise("network", () => Fs.readFile("/proc/net/dev", "utf8")).pipe(Effect.map(parseProcNetDev))
  : attemptPromise("network", () => systemInformation().then((si) => si.networkStats("*"))).pipe(
    Effect.map((stats) =>
      stats.map((stat) => ({
        name: stat.iface,
        bytes_sent: stat.tx_bytes,
        bytes_recv: stat.rx_bytes,
        packets_sent: 0,
        packets_recv: 0,
        errin: stat.rx_errors,
        errout: stat.tx_errors,
        dropin: stat.rx_dropped,
        dropout: stat.tx_dropped
      }))
    )
  )).pipe(Effect.map((interfaces) => interfaces.filter((counters) => !excluded(counters.name))))
