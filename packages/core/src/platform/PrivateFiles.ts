/**
 * Files and folders only their owner may read. MaiKit's data folder, databases, logs and terminal histories hold
 * Wi-Fi, MQTT and LLM-provider secrets, so they are created 0600 (files) and 0700 (folders), and ones found looser
 * — left by an older MaiKit, or created under a lax umask — are tightened when MaiKit opens them, with a log line.
 *
 * Modes are set with `chmod` after creating, never left to the process umask (which could loosen them, or strip
 * the owner's own bits). Most functions here are synchronous: the database and logging layers call them once
 * before they open their files. `open` is for the terminal history's rotation, which must not stop the event loop.
 */
import { Effect, Predicate } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Util from "node:util"

export const fileMode = 0o600
export const directoryMode = 0o700
const stickyBit = 0o1000

/** A file or folder whose group and other permissions were removed. */
export interface Tightened {
  readonly path: string
  readonly from: number
  readonly to: number
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`

export const describe = (tightened: Tightened): string => `${tightened.path} ${octal(tightened.from)} → ${octal(tightened.to)}`

const isMissing = (cause: unknown): boolean => Predicate.hasProperty(cause, "code") && cause.code === "ENOENT"

/** Creates `path` and its missing parents, each 0700. Folders that already exist are left as they are. */
export const makeDirectorySync = (path: string): void => {
  const target = Path.resolve(path)
  const first = Fs.mkdirSync(target, { recursive: true, mode: directoryMode })
  if (first === undefined) return
  for (let dir = target; ; dir = Path.dirname(dir)) {
    Fs.chmodSync(dir, directoryMode)
    if (dir === first || dir === Path.dirname(dir)) return
  }
}

const exclusive = { a: "ax", "a+": "ax+", w: "wx", "w+": "wx+" } as const

/**
 * Opens `path` like `Fs.openSync(path, flags)`; a file this call creates is 0600 whatever the umask. An existing
 * file keeps its mode (`tightenSync` is for those).
 */
export const openSync = (path: string, flags: keyof typeof exclusive): number => {
  try {
    const fd = Fs.openSync(path, exclusive[flags], fileMode)
    Fs.fchmodSync(fd, fileMode)
    return fd
  } catch (cause) {
    if (!Predicate.hasProperty(cause, "code") || cause.code !== "EEXIST") throw cause
    return Fs.openSync(path, flags)
  }
}

const openFile = Util.promisify(Fs.open)
const changeMode = Util.promisify(Fs.fchmod)

/** `openSync` in the thread pool. */
export const open = async (path: string, flags: keyof typeof exclusive): Promise<number> => {
  try {
    const fd = await openFile(path, exclusive[flags], fileMode)
    await changeMode(fd, fileMode)
    return fd
  } catch (cause) {
    if (!Predicate.hasProperty(cause, "code") || cause.code !== "EEXIST") throw cause
    return openFile(path, flags)
  }
}

/** Creates `path` empty and 0600 unless it exists. Returns whether it created it. */
export const createFileSync = (path: string): boolean => {
  try {
    Fs.closeSync(Fs.openSync(path, "wx", fileMode))
  } catch (cause) {
    if (Predicate.hasProperty(cause, "code") && cause.code === "EEXIST") return false
    throw cause
  }
  Fs.chmodSync(path, fileMode)
  return true
}

/**
 * Removes group and other permissions from `path` if it has any. A missing path is fine; a symbolic link is left
 * alone (`chmod` would change whatever it points to, which MaiKit does not own), and so is a shared folder with
 * the sticky bit (`/tmp` configured as a data folder must stay usable by everyone else).
 */
export const tightenSync = (path: string): Tightened | undefined => {
  let stat: Fs.Stats
  try {
    stat = Fs.lstatSync(path)
  } catch (cause) {
    if (isMissing(cause)) return undefined
    throw cause
  }
  if (stat.isSymbolicLink() || (stat.mode & 0o077) === 0) return undefined
  if (stat.isDirectory() && (stat.mode & stickyBit) !== 0) {
    throw new Error("a shared folder (sticky bit) is left as it is")
  }
  const to = stat.mode & 0o700
  Fs.chmodSync(path, to)
  return { path, from: stat.mode, to }
}

/**
 * Tightens every path that exists and logs one warning naming what changed; a path it cannot change (owned by
 * another user) is logged too and does not fail the caller.
 */
export const tighten = (paths: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Tightened>> =>
  Effect.gen(function*() {
    const changed: Array<Tightened> = []
    const refused: Array<string> = []
    for (const path of paths) {
      try {
        const tightened = tightenSync(path)
        if (tightened !== undefined) changed.push(tightened)
      } catch (cause) {
        refused.push(`${path} (${cause instanceof Error ? cause.message : String(cause)})`)
      }
    }
    if (changed.length > 0) {
      yield* Effect.logWarning(
        `tightened permissions of files that may hold secrets: ${changed.map(describe).join(", ")}`
      )
    }
    if (refused.length > 0) {
      yield* Effect.logWarning(`cannot tighten permissions (readable by others): ${refused.join(", ")}`)
    }
    return changed
  })
