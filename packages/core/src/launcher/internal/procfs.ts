import * as Fs from "node:fs"
import * as Os from "node:os"

export interface ProcStat {
  readonly pid: number
  readonly ppid: number
  readonly pgid: number
  readonly sid: number
  readonly zombie: boolean
  readonly startTicks: number
  readonly cpuSeconds: number
  readonly rssBytes: number
}

interface SystemConstants {
  readonly pageSize: number
  readonly clockTicks: number
}

const AT_PAGESZ = 6n
const AT_CLKTCK = 17n

/**
 * Page size and USER_HZ come from the kernel's auxiliary vector, so memory and CPU are exact on 16K/64K-page
 * arm64 kernels too, without spawning `getconf`. The usual values are the fallback when auxv is unreadable.
 */
const readSystemConstants = (): SystemConstants => {
  let pageSize = 4096
  let clockTicks = 100
  try {
    const auxv = Fs.readFileSync("/proc/self/auxv")
    const view = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength)
    const little = Os.endianness() === "LE"
    for (let offset = 0; offset + 16 <= auxv.byteLength; offset += 16) {
      const key = view.getBigUint64(offset, little)
      const value = Number(view.getBigUint64(offset + 8, little))
      if (key === AT_PAGESZ && value > 0) pageSize = value
      else if (key === AT_CLKTCK && value > 0) clockTicks = value
      else if (key === 0n) break
    }
  } catch {
    // keep the defaults: a 32-bit kernel or a sandbox that hides auxv
  }
  return { pageSize, clockTicks }
}

let constants: SystemConstants | undefined
const systemConstants = (): SystemConstants => (constants ??= readSystemConstants())

/** Parses `/proc/<pid>/stat`; the command name may contain spaces and parentheses, so fields start after the last `)`. */
export const parseStat = (text: string): ProcStat | undefined => {
  const open = text.indexOf(" (")
  const close = text.lastIndexOf(")")
  if (open < 0 || close < open) return undefined
  const fields = text.slice(close + 2).split(" ")
  if (fields.length < 22) return undefined
  const { clockTicks, pageSize } = systemConstants()
  const state = fields[0]
  return {
    pid: Number(text.slice(0, open)),
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    sid: Number(fields[3]),
    zombie: state === "Z" || state === "X",
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / clockTicks,
    startTicks: Number(fields[19]),
    rssBytes: Number(fields[21]) * pageSize
  }
}

/** One pass over `/proc`; processes that exit between `readdir` and `read` are skipped. */
export const readAll = (): Array<ProcStat> => {
  const out: Array<ProcStat> = []
  for (const name of Fs.readdirSync("/proc")) {
    const first = name.charCodeAt(0)
    if (first < 48 || first > 57) continue
    let text: string
    try {
      text = Fs.readFileSync(`/proc/${name}/stat`, "latin1")
    } catch {
      continue
    }
    const stat = parseStat(text)
    if (stat !== undefined) out.push(stat)
  }
  return out
}

/** One process's `/proc/<pid>/stat`, or `undefined` if it is gone (or this is not Linux). */
export const readStat = (pid: number): ProcStat | undefined => {
  try {
    return parseStat(Fs.readFileSync(`/proc/${pid}/stat`, "latin1"))
  } catch {
    return undefined
  }
}

/** This boot's id: start ticks are counted from boot, so they only identify a process within one boot. */
export const bootId = (): string | undefined => {
  try {
    return Fs.readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim()
  } catch {
    return undefined
  }
}

/**
 * A variable of the environment a process started with; `undefined` when it has none or it cannot be read
 * (another user's process, or gone), so a caller deciding whether to signal a process errs on leaving it alone.
 */
export const environmentValue = (pid: number, name: string): string | undefined => {
  let text: string
  try {
    text = Fs.readFileSync(`/proc/${pid}/environ`, "latin1")
  } catch {
    return undefined
  }
  const prefix = `${name}=`
  return text.split("\0").find((entry) => entry.startsWith(prefix))?.slice(prefix.length)
}
