/**
 * File work of a deploy: where a requested path lands, what may be written there, the agreement files MaiBot
 * checks, templates, the ports in `.env` and the adapter's `config.toml`, and removing exactly what a job
 * created. Heavy copies and removals are asynchronous so a job never stalls the server's event loop.
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Created } from "./store.ts"

/**
 * `~` is the user's home (the original used its working directory). On POSIX a path that starts `~\` came from
 * a Windows client (`~\MaiBot\Deployments\<name>` is the Vue client's default), so its backslashes separate.
 */
export const expandHome = (raw: string, home: string = Os.homedir()): string => {
  const text = raw.trim()
  if (text === "~") return home
  if (text.startsWith("~/") || text.startsWith("~\\")) {
    const rest = process.platform === "win32" ? text.slice(2) : text.slice(2).replaceAll("\\", "/")
    return Path.join(home, rest)
  }
  return text
}

/** Whether a path names a parent folder anywhere (`..` as a segment, with either separator). */
export const hasParentSegment = (raw: string): boolean => raw.split(/[\\/]+/).includes("..")

export type PathKind = "directory" | "file" | "missing"

export const kindOf = (path: string): PathKind => {
  try {
    return Fs.statSync(path).isDirectory() ? "directory" : "file"
  } catch {
    return "missing"
  }
}

export const isEmptyDirectory = (path: string): boolean => {
  try {
    return Fs.readdirSync(path).length === 0
  } catch {
    return false
  }
}

/** The nearest folder of `path` (itself included) that exists, and the missing folders below it, outermost first. */
export const existingAncestor = (path: string): { readonly existing: string; readonly missing: ReadonlyArray<string> } => {
  const missing: Array<string> = []
  let current = path
  while (kindOf(current) === "missing") {
    missing.unshift(current)
    const parent = Path.dirname(current)
    if (parent === current) break
    current = parent
  }
  return { existing: current, missing }
}

/**
 * Whether a folder can be written, by making (and at once removing) an empty folder in it, as the original did
 * with a test file: permission bits alone do not tell (root ignores them; sysfs refuses root all the same).
 */
export const isWritable = (path: string): boolean => {
  try {
    Fs.rmdirSync(Fs.mkdtempSync(Path.join(path, ".maikit-write-test-")))
    return true
  } catch {
    return false
  }
}

/** Free bytes for an unprivileged user on the file system holding `path`. */
export const freeBytes = (path: string): number | undefined => {
  try {
    const stats = Fs.statfsSync(path)
    return stats.bavail * stats.bsize
  } catch {
    return undefined
  }
}

export const formatBytes = (bytes: number): string =>
  bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(1)} GB`
    : bytes >= 1024 ** 2
    ? `${(bytes / 1024 ** 2).toFixed(1)} MB`
    : `${Math.round(bytes / 1024)} KB`

export const isInside = (child: string, parent: string): boolean => {
  const relative = Path.relative(parent, child)
  return relative === "" || (!relative.startsWith("..") && !Path.isAbsolute(relative))
}

/**
 * MaiBot's agreement hash: the MD5 hex of the file read as Python reads text (UTF-8, universal newlines), so a
 * checkout with CRLF line ends still matches what `bot.py` computes.
 */
export const agreementHash = (file: string): string | undefined => {
  try {
    const text = Fs.readFileSync(file, "utf8").replace(/\r\n?/g, "\n")
    return Crypto.createHash("md5").update(text, "utf8").digest("hex")
  } catch {
    return undefined
  }
}

/** `template/x_template.toml` → `config/x.toml`, `template/template.env` → `.env`: the 0.x layout's targets. */
export const templateTargets = (root: string): ReadonlyArray<{ readonly from: string; readonly to: string }> => {
  const folder = Path.join(root, "template")
  let names: Array<string>
  try {
    names = Fs.readdirSync(folder)
  } catch {
    return []
  }
  return names.toSorted().flatMap((name) => {
    if (name === "template.env") return [{ from: Path.join(folder, name), to: Path.join(root, ".env") }]
    const match = /^(.+)_template\.toml$/.exec(name)
    return match === null ? [] : [{ from: Path.join(folder, name), to: Path.join(root, "config", `${match[1]}.toml`) }]
  })
}

/** Sets `KEY=value` in a dotenv text: the first assignment is replaced (comments kept), or one is appended. */
export const setEnvValue = (text: string, key: string, value: string): string => {
  const pattern = new RegExp(`^(\\s*${key}\\s*=\\s*)[^\\r\\n#]*`, "m")
  if (pattern.test(text)) return text.replace(pattern, `$1${value}`)
  return `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}${key}=${value}\n`
}

/**
 * Sets `port` in the named TOML sections (matched case-insensitively: the adapter's templates write
 * `[napcat_server]`, the original launcher looked for `[Napcat_Server]`), keeping comments and layout.
 */
export const setSectionPorts = (text: string, ports: Readonly<Record<string, number>>): string => {
  let section = ""
  const wanted = new Map(Object.entries(ports).map(([name, port]) => [name.toLowerCase(), port]))
  return text.split("\n").map((line) => {
    const header = /^\s*\[([^\]]+)\]/.exec(line)
    if (header !== null) {
      section = (header[1] ?? "").trim().toLowerCase()
      return line
    }
    const port = wanted.get(section)
    return port === undefined ? line : line.replace(/^(\s*port\s*=\s*)\d+/, `$1${port}`)
  }).join("\n")
}

/** Writes through a temporary file and a rename, so a reader (MaiBot's config watcher) never sees half a file. */
export const writeAtomic = (file: string, text: string): void => {
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  const temp = `${file}.maikit-${process.pid}.tmp`
  Fs.writeFileSync(temp, text)
  Fs.renameSync(temp, file)
}

export interface Removal {
  readonly removed: ReadonlyArray<string>
  readonly kept: ReadonlyArray<string>
}

/**
 * Removes what a job created, newest first: a folder or file it made goes; a folder that existed before keeps
 * itself and loses only its entries (it was empty when the job began). Never follows a symlink out.
 */
export const removeCreated = async (created: ReadonlyArray<Created>): Promise<Removal> => {
  const removed: Array<string> = []
  const kept: Array<string> = []
  for (const entry of created.toReversed()) {
    if (created.some((other) => other !== entry && !other.contentsOnly && other.path !== entry.path && isInside(entry.path, other.path))) {
      continue
    }
    try {
      if (entry.contentsOnly) {
        const names = await Fs.promises.readdir(entry.path).catch(() => [] as Array<string>)
        for (const name of names) await Fs.promises.rm(Path.join(entry.path, name), { recursive: true, force: true })
        kept.push(entry.path)
        if (names.length > 0) removed.push(...names.map((name) => Path.join(entry.path, name)))
      } else {
        const exists = await Fs.promises.lstat(entry.path).then(() => true, () => false)
        await Fs.promises.rm(entry.path, { recursive: true, force: true })
        if (exists) removed.push(entry.path)
      }
    } catch {
      kept.push(entry.path)
    }
  }
  return { removed, kept }
}

/** Total size of a folder's files, not following links. */
export const sizeOf = async (path: string): Promise<number> => {
  let total = 0
  const entries = await Fs.promises.readdir(path, { recursive: true, withFileTypes: true }).catch(() => [])
  for (const entry of entries) {
    if (!entry.isFile()) continue
    const stat = await Fs.promises.lstat(Path.join(entry.parentPath, entry.name)).catch(() => undefined)
    total += stat?.size ?? 0
  }
  return total
}
