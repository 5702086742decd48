/**
 * The refs of MaiBot's repository, from the first remote that answers `git ls-remote`, cached on disk with a
 * TTL. It never fails: with no remote reachable it answers from the cache, however old, and without one from
 * a built-in list.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { capture } from "./tool.ts"
import { builtinRefs, parseLsRemote, type Ref } from "./versions.ts"

export interface Source {
  readonly kind: "remote" | "cache" | "builtin"
  /** The remote the refs came from (for the cache: the one that answered then). */
  readonly remote: string | undefined
  /** Epoch ms of the `ls-remote` that produced them. */
  readonly fetchedAt: number | undefined
}

export interface Loaded {
  readonly refs: ReadonlyArray<Ref>
  readonly source: Source
}

export interface Options {
  readonly remotes: ReadonlyArray<string>
  readonly cacheFile: string
  readonly ttlMs: number
  readonly env: Readonly<Record<string, string | undefined>>
  readonly timeoutMs: number
  /** Skip a fresh cache and ask the remotes. */
  readonly refresh?: boolean | undefined
}

interface CacheFile {
  readonly remotes: ReadonlyArray<string>
  readonly remote: string
  readonly fetchedAt: number
  readonly refs: ReadonlyArray<Ref>
}

/** A local repository path as a `file://` URL, so that `--depth` works and git reports its progress. */
export const gitUrl = (remote: string): string => {
  const expanded = remote.startsWith("~/") ? Path.join(Os.homedir(), remote.slice(2)) : remote
  return Path.isAbsolute(expanded) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(expanded) ? `file://${expanded}` : remote
}

const readCache = (file: string): CacheFile | undefined => {
  try {
    const parsed = JSON.parse(Fs.readFileSync(file, "utf8")) as CacheFile
    return Array.isArray(parsed.refs) && typeof parsed.fetchedAt === "number" ? parsed : undefined
  } catch {
    return undefined
  }
}

const writeCache = (file: string, cache: CacheFile) =>
  Effect.sync(() => {
    try {
      Fs.mkdirSync(Path.dirname(file), { recursive: true })
      const temp = `${file}.${process.pid}.tmp`
      Fs.writeFileSync(temp, JSON.stringify(cache))
      Fs.renameSync(temp, file)
    } catch {
      // A cache that cannot be written only costs the next listing a round trip.
    }
  })

export const load = (options: Options): Effect.Effect<Loaded> =>
  Effect.gen(function*() {
    const cached = readCache(options.cacheFile)
    const now = Date.now()
    const sameRemotes = cached !== undefined && JSON.stringify(cached.remotes) === JSON.stringify(options.remotes)
    if (cached !== undefined && sameRemotes && options.refresh !== true && now - cached.fetchedAt < options.ttlMs) {
      return { refs: cached.refs, source: { kind: "cache", remote: cached.remote, fetchedAt: cached.fetchedAt } }
    }
    for (const remote of options.remotes) {
      const output = yield* capture("git", ["ls-remote", "--tags", "--heads", gitUrl(remote)], {
        env: { ...options.env, GIT_TERMINAL_PROMPT: "0" },
        timeoutMs: options.timeoutMs
      })
      if (output === undefined) continue
      const refs = parseLsRemote(output)
      if (refs.length === 0) continue
      yield* writeCache(options.cacheFile, { remotes: options.remotes, remote, fetchedAt: now, refs })
      return { refs, source: { kind: "remote", remote, fetchedAt: now } }
    }
    if (cached !== undefined) {
      return { refs: cached.refs, source: { kind: "cache", remote: cached.remote, fetchedAt: cached.fetchedAt } }
    }
    return { refs: builtinRefs, source: { kind: "builtin", remote: undefined, fetchedAt: undefined } }
  })
