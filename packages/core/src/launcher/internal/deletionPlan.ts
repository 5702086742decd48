/**
 * Which folders deleting an instance may remove. Only folders the instance owns: its own folder and its
 * services' folders, compared by their real paths (`realpath`) so that a symbolic link anywhere on the way cannot
 * redirect a recursive delete. Refused, whatever the caller asked:
 *
 * - a path that is, or goes through, a symbolic link (its real path differs from the stored one);
 * - a filesystem root, the user's home or a folder that contains it;
 * - MaiKit's data folder, anything inside it and any folder that contains it (the database, logs and
 *   histories live there), and a folder that contains MaiKit's working directory;
 * - a folder above the instance's own folder (a service registered at `..`);
 * - a folder that another registered instance uses, contains or lies inside of.
 *
 * The checks run just before the delete; a folder swapped for a link in between is not covered (the delete of a
 * link removes the link, not its target, so only a swapped parent could still redirect it).
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export interface Entry {
  readonly path: string
  /** Why the folder must not be deleted; `undefined` when it may be. */
  readonly refusal: string | undefined
}

export interface Protected {
  /** MaiKit's data folder. */
  readonly dataDir: string
  /** Where the supervisor keeps terminal histories (inside the data folder by default). */
  readonly historyRoot: string
  /** The folders of every other registered instance, with its name. */
  readonly others: ReadonlyArray<{ readonly name: string; readonly paths: ReadonlyArray<string> }>
}

/** `child` is `parent` or lies inside it. */
export const isInside = (child: string, parent: string): boolean => {
  const relative = Path.relative(parent, child)
  return relative === "" || (!relative.startsWith("..") && !Path.isAbsolute(relative))
}

const realOrResolved = (path: string): string => {
  try {
    return Fs.realpathSync(path)
  } catch {
    return Path.resolve(path)
  }
}

type Kind = "directory" | "link" | "other" | "missing"

const kindOf = (path: string): Kind => {
  try {
    const stat = Fs.lstatSync(path)
    return stat.isSymbolicLink() ? "link" : stat.isDirectory() ? "directory" : "other"
  } catch {
    return "missing"
  }
}

/** The refusal for one existing folder, whose real path is `real`. */
const refusalOf = (
  path: string,
  real: string,
  context: {
    readonly instancePath: string
    readonly home: string
    readonly kept: ReadonlyArray<string>
    readonly dataDir: string
    readonly others: Protected["others"]
  }
): string | undefined => {
  if (real !== path) return `经由符号链接到达 ${real}，拒绝删除`
  if (real === Path.parse(real).root) return "拒绝删除文件系统根目录"
  if (isInside(context.home, real)) return "拒绝删除用户主目录或包含它的文件夹"
  if (isInside(real, context.dataDir)) return "拒绝删除 MaiKit 数据文件夹及其中的内容"
  if (context.kept.some((kept) => isInside(kept, real))) return "拒绝删除包含 MaiKit 数据或工作目录的文件夹"
  if (real !== context.instancePath && isInside(context.instancePath, real)) return "拒绝删除实例文件夹的上级目录"
  const other = context.others.find((entry) =>
    entry.paths.some((used) => isInside(used, real) || isInside(real, used))
  )
  if (other !== undefined) return `拒绝删除实例 ${other.name} 使用的文件夹`
  return undefined
}

/**
 * The folders of an instance that exist, outermost first, each with its refusal if it must stay. A folder inside
 * one that will be deleted is left out (it goes with its parent); a folder that is not a directory is left out.
 */
export const plan = (
  instance: { readonly path: string; readonly components: ReadonlyArray<{ readonly path: string }> },
  protect: Protected
): ReadonlyArray<Entry> => {
  const dataDir = realOrResolved(protect.dataDir)
  const context = {
    instancePath: realOrResolved(instance.path),
    home: realOrResolved(Os.homedir()),
    kept: [dataDir, realOrResolved(protect.historyRoot), realOrResolved(process.cwd())],
    dataDir,
    others: protect.others.map((other) => ({ name: other.name, paths: other.paths.map(realOrResolved) }))
  }
  const candidates = [...new Set([instance.path, ...instance.components.map((component) => component.path)])]
    .map((path) => Path.resolve(path))
    .toSorted((a, b) => a.length - b.length)
  const entries: Array<Entry> = []
  for (const path of candidates) {
    if (entries.some((entry) => entry.refusal === undefined && isInside(path, entry.path))) continue
    const kind = kindOf(path)
    if (kind === "missing" || kind === "other") continue
    const real = realOrResolved(path)
    if (kind === "link" && real === path) continue
    entries.push({ path, refusal: refusalOf(path, real, context) })
  }
  return entries
}
