/**
 * Earlier versions of a config file, kept in MaiKit's data folder (never inside the bot's `config/`, where
 * MaiBot 1.x watches for changes): `<root>/<instance id>/<file>/<version>`. A version is named by when it was
 * replaced and what it held, `20260512T101112.123Z-<16 hex of its SHA-256>`, so names sort by time and show
 * which one equals the current file. The replaced file is hard-linked when it lives on the same file system
 * (the write renames a new file over it, so that inode never changes again) and copied otherwise.
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** The version tag of a content: the first 16 hex digits of its SHA-256 (also the HTTP ETag). */
export const versionOf = (content: string | Uint8Array): string =>
  Crypto.createHash("sha256").update(content).digest("hex").slice(0, 16)

export const versionIdPattern = /^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{16}$/

export interface SavedVersion {
  readonly id: string
  /** ISO 8601 UTC: when this content was replaced. */
  readonly savedAt: string
  /** The content's version tag, comparable with the current file's. */
  readonly version: string
  readonly size: number
}

const stamp = (millis: number): string => new Date(millis).toISOString().replace(/[-:]/g, "")

const savedAtOf = (id: string): string => {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z/.exec(id)
  return match === null ? "" : `${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${match[6]}.${match[7]}Z`
}

export const folder = (root: string, instanceId: string, file: string): string => Path.join(root, instanceId, file)

/** Version ids in a folder, newest first. */
const versionIdsIn = (directory: string): ReadonlyArray<string> => {
  try {
    return Fs.readdirSync(directory).filter((name) => versionIdPattern.test(name)).toSorted().toReversed()
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return []
    throw cause
  }
}

/**
 * Keeps `source` (whose content has version `version`) as a new version; returns its path and id. Synchronous,
 * like the rest of a config write's small steps (see `atomicFile`): a few system calls on small local files.
 */
export const save = (
  root: string,
  instanceId: string,
  file: string,
  source: string,
  version: string,
  nowMillis: number
): { readonly path: string; readonly id: string; readonly savedAt: string } => {
  const directory = folder(root, instanceId, file)
  // Names must sort in the order of the writes, even for two writes within one millisecond.
  const latest = versionIdsIn(directory)[0]
  const latestMillis = latest === undefined ? 0 : Date.parse(savedAtOf(latest))
  const id = `${stamp(Math.max(nowMillis, latestMillis + 1))}-${version}`
  const target = Path.join(directory, id)
  const keep = () => {
    try {
      Fs.linkSync(source, target)
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code
      if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK") throw cause
      Fs.copyFileSync(source, target, Fs.constants.COPYFILE_EXCL)
    }
  }
  try {
    keep()
  } catch (cause) {
    // The first version of a file: its folder does not exist yet.
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT" || !Fs.existsSync(source)) throw cause
    Fs.mkdirSync(directory, { recursive: true, mode: 0o700 })
    keep()
  }
  return { path: target, id, savedAt: savedAtOf(id) }
}

/** Versions, newest first. */
export const list = async (root: string, instanceId: string, file: string): Promise<ReadonlyArray<SavedVersion>> => {
  const directory = folder(root, instanceId, file)
  const versions: Array<SavedVersion> = []
  for (const id of versionIdsIn(directory)) {
    const stat = await Fs.promises.stat(Path.join(directory, id)).catch(() => undefined)
    if (stat === undefined) continue
    versions.push({ id, savedAt: savedAtOf(id), version: id.slice(-16), size: stat.size })
  }
  return versions
}

/** The content of a version, or `undefined` when there is none by that id. */
export const read = async (root: string, instanceId: string, file: string, id: string): Promise<string | undefined> => {
  if (!versionIdPattern.test(id)) return undefined
  return Fs.promises.readFile(Path.join(folder(root, instanceId, file), id), "utf8").catch((cause: NodeJS.ErrnoException) => {
    if (cause.code === "ENOENT") return undefined
    throw cause
  })
}

/** Removes all but the newest `keep` versions (synchronous, as `save`). */
export const prune = (root: string, instanceId: string, file: string, keep: number): void => {
  const directory = folder(root, instanceId, file)
  for (const id of versionIdsIn(directory).slice(keep)) Fs.rmSync(Path.join(directory, id), { force: true })
}

export const remove = (path: string): void => Fs.rmSync(path, { force: true })
