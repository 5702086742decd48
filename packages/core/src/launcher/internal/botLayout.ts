/**
 * Where a MaiBot checkout keeps what MaiKit edits, for both generations (`shared/contracts/maibot-generations.md`):
 * which generation a folder holds, where each config file and its template are, and whether a path stays
 * inside the folder it belongs to once symlinks are resolved.
 *
 * Synchronous: each answer is a few system calls on a local folder (microseconds), asked on every config and
 * database request, where a round trip through the thread pool per call cost more than the calls themselves.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { parse as parseToml } from "smol-toml"

export type Generation = "0.x" | "1.x" | "unknown"

const isFolder = (path: string): boolean => {
  try {
    return Fs.statSync(path).isDirectory()
  } catch {
    return false
  }
}

/**
 * 0.x ships a `template/` folder; 1.x has none and requires Python 3.12 or newer in `pyproject.toml`.
 * `unknown` when the tree tells neither (the database may still: see `BotDatabase`).
 */
export const detectGeneration = (instanceDir: string): Generation => {
  if (isFolder(Path.join(instanceDir, "template"))) return "0.x"
  let requires: unknown
  try {
    const pyproject = Fs.readFileSync(Path.join(instanceDir, "pyproject.toml"), "utf8")
    requires = (parseToml(pyproject) as { project?: { "requires-python"?: unknown } }).project?.["requires-python"]
  } catch {
    return "unknown"
  }
  const match = typeof requires === "string" ? /(\d+)\.(\d+)/.exec(requires) : null
  if (match === null) return "unknown"
  const [major, minor] = [Number(match[1]), Number(match[2])]
  return major > 3 || (major === 3 && minor >= 12) ? "1.x" : "0.x"
}

/** The real path of `path`, resolving symlinks of its existing part (the rest may not exist yet). */
export const realPath = (path: string): string => {
  const missing: Array<string> = []
  let current = Path.resolve(path)
  for (;;) {
    try {
      const real = Fs.realpathSync.native(current)
      return missing.length === 0 ? real : Path.join(real, ...missing.toReversed())
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== "ENOENT") throw cause
      const parent = Path.dirname(current)
      if (parent === current) return Path.resolve(path)
      missing.push(Path.basename(current))
      current = parent
    }
  }
}

/** Whether `path`, symlinks resolved, is `root` itself or inside it (also resolved). */
export const confine = (root: string, path: string): { readonly real: string; readonly inside: boolean } => {
  const realRoot = realPath(root)
  const real = realPath(path)
  const relative = Path.relative(realRoot, real)
  return { real, inside: relative === "" || (!relative.startsWith("..") && !Path.isAbsolute(relative)) }
}

/** The 1.x adapter plugin's folder inside a MaiBot checkout. */
export const adapterPluginDir = (instanceDir: string): string =>
  Path.join(instanceDir, "plugins", "MaiBot-Napcat-Adapter")

/** The 0.x adapter's folder when no adapter service is registered: where the original launcher looked. */
export const adapterDefaultDir = (instanceDir: string): string => Path.join(instanceDir, "napcat-ada")
