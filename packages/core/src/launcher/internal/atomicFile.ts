/**
 * Whole-file replacement that a reader never sees half done: the new content goes to a temporary file in the
 * same folder, is flushed to disk, and is renamed over the target; the folder is flushed too so the rename
 * survives a power cut. MaiBot 1.x reloads its config files when they change, so it must only ever see the old
 * file or the new one. A crash leaves at most a `.<name>.maikit-*.tmp` beside the file, which the next write
 * removes (MaiKit made it).
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

const tempPattern = (name: string) =>
  new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.maikit-[0-9a-f]{12}\\.tmp$`)

/** Temporary files older than this are leftovers of a crash, not another writer's work in progress. */
const staleAfterMs = 60_000

const removeLeftovers = async (directory: string, name: string): Promise<void> => {
  const pattern = tempPattern(name)
  const entries = await Fs.readdir(directory).catch(() => [] as Array<string>)
  const now = Date.now()
  for (const entry of entries) {
    if (!pattern.test(entry)) continue
    const file = Path.join(directory, entry)
    const stat = await Fs.lstat(file).catch(() => undefined)
    if (stat?.isFile() === true && now - stat.mtimeMs > staleAfterMs) await Fs.rm(file, { force: true })
  }
}

export interface WriteOptions {
  /** Permission bits for a new file; an existing file keeps its own. Default 0o644. */
  readonly mode?: number | undefined
}

/** Replaces `target` (a real path, symlinks already resolved) with `data`, atomically and durably. */
export const writeAtomic = async (target: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<void> => {
  const directory = Path.dirname(target)
  const name = Path.basename(target)
  await removeLeftovers(directory, name)
  const existing = await Fs.stat(target).catch(() => undefined)
  const mode = existing === undefined ? options.mode ?? 0o644 : existing.mode & 0o7777
  const temporary = Path.join(directory, `.${name}.maikit-${Crypto.randomBytes(6).toString("hex")}.tmp`)
  let renamed = false
  try {
    const handle = await Fs.open(temporary, "wx", mode)
    try {
      await handle.writeFile(data)
      await handle.chmod(mode)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await Fs.rename(temporary, target)
    renamed = true
    const folder = await Fs.open(directory, "r")
    try {
      await folder.sync()
    } finally {
      await folder.close()
    }
  } finally {
    if (!renamed) await Fs.rm(temporary, { force: true })
  }
}
