/**
 * Whole-file replacement that a reader never sees half done: the new content goes to a temporary file in the
 * same folder, is flushed to disk, and is renamed over the target; the folder is flushed too so the rename
 * survives a power cut. MaiBot 1.x reloads its config files when they change, so it must only ever see the old
 * file or the new one. A crash leaves at most a `.<name>.maikit-*.tmp` beside the file, which a later write
 * removes (MaiKit made it). A missing folder is created.
 *
 * The two flushes wait in the thread pool; every other step is a synchronous system call on a small local file
 * (microseconds each, about 0.2 ms together). Done asynchronously, each would be a round trip through the thread
 * pool, and a dozen of them cost a config write more than its own work.
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { promisify } from "node:util"

const fsync = promisify(Fs.fsync)

const tempPattern = (name: string) =>
  new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.maikit-[0-9a-f]{12}\\.tmp$`)

/** Temporary files older than this are leftovers of a crash, not another writer's work in progress. */
const staleAfterMs = 60_000

const removeLeftovers = (directory: string, name: string): void => {
  const pattern = tempPattern(name)
  let entries: Array<string>
  try {
    entries = Fs.readdirSync(directory)
  } catch {
    return
  }
  const now = Date.now()
  for (const entry of entries) {
    if (!pattern.test(entry)) continue
    const file = Path.join(directory, entry)
    const stat = Fs.lstatSync(file, { throwIfNoEntry: false })
    if (stat?.isFile() === true && now - stat.mtimeMs > staleAfterMs) Fs.rmSync(file, { force: true })
  }
}

/** Creates `file` exclusively, creating its folder first when that is what is missing. */
const createExclusive = (file: string, mode: number): number => {
  try {
    return Fs.openSync(file, "wx", mode)
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT") throw cause
    Fs.mkdirSync(Path.dirname(file), { recursive: true })
    return Fs.openSync(file, "wx", mode)
  }
}

/** Flushes a folder's entries (a rename in it) to disk. */
const syncFolder = async (directory: string): Promise<void> => {
  const folder = Fs.openSync(directory, "r")
  try {
    await fsync(folder)
  } finally {
    Fs.closeSync(folder)
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
  removeLeftovers(directory, name)
  const existing = Fs.statSync(target, { throwIfNoEntry: false })
  const mode = existing === undefined ? options.mode ?? 0o644 : existing.mode & 0o7777
  const temporary = Path.join(directory, `.${name}.maikit-${Crypto.randomBytes(6).toString("hex")}.tmp`)
  let renamed = false
  try {
    const handle = createExclusive(temporary, mode)
    try {
      Fs.writeFileSync(handle, data)
      // The mode given to open is masked by the umask; the file must have the target's.
      Fs.fchmodSync(handle, mode)
      await fsync(handle)
    } finally {
      Fs.closeSync(handle)
    }
    Fs.renameSync(temporary, target)
    renamed = true
    await syncFolder(directory)
  } finally {
    if (!renamed) Fs.rmSync(temporary, { force: true })
  }
}
