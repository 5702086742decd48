/**
 * MaiBot's version names and the catalog made of a remote's refs. Tags carry no `v` (`1.2.1`, `1.0.0-rc.4`,
 * `0.11.6-beta`), a few are not quite semantic versions (`0.6.3-fix4-alpha` is, `0.5.15hotfix-alpha` is not) and
 * some are not versions at all (`EasyInstall-windows`). A tag becomes a version when it starts with
 * `major.minor.patch`; whatever follows (after an optional `-`) is its pre-release, ordered by semver's rules.
 */
import { SemVer } from "effect"

export interface Ref {
  readonly name: string
  readonly kind: "tag" | "branch"
  readonly commit: string
}

export interface TagVersion {
  readonly tag: string
  readonly version: SemVer.SemVer
}

const leading = /^v?(\d+)\.(\d+)\.(\d+)(?:-?(.*))?$/

/** `1.2.1`, `1.0.0-rc.4`, `0.5.15hotfix-alpha` (pre-release `hotfix-alpha`); `undefined` for anything else. */
export const parseTag = (tag: string): SemVer.SemVer | undefined => {
  const match = leading.exec(tag.trim())
  if (match === null) return undefined
  const rest = match[4] ?? ""
  const prerelease = rest === ""
    ? []
    : rest.split(".").map((part) => part.replace(/[^0-9A-Za-z-]/g, "-")).filter((part) => part !== "")
  try {
    return SemVer.make({
      major: Number(match[1]),
      minor: Number(match[2]),
      patch: Number(match[3]),
      prerelease: prerelease.map((part) => (/^(0|[1-9]\d*)$/.test(part) ? Number(part) : part))
    })
  } catch {
    return undefined
  }
}

/** Newest first. */
export const sortTags = (tags: ReadonlyArray<string>): ReadonlyArray<TagVersion> =>
  tags.flatMap((tag) => {
    const version = parseTag(tag)
    return version === undefined ? [] : [{ tag, version }]
  }).toSorted((a, b) => SemVer.Order(b.version, a.version) || a.tag.localeCompare(b.tag))

/** Whether `version`'s `major.minor.patch` is at least `minimum`'s: a minimum never hides a release's pre-releases. */
export const atLeast = (version: SemVer.SemVer, minimum: SemVer.SemVer | undefined): boolean =>
  minimum === undefined ||
  SemVer.Order(SemVer.release(version), SemVer.release(minimum)) >= 0

/** The branches every listing offers, after the tags (`main` before them, as the original did). */
export const listedBranches = ["main", "dev"] as const

export interface Catalog {
  readonly refs: ReadonlyArray<Ref>
  /** Tags at or above the minimum, newest first. */
  readonly tags: ReadonlyArray<TagVersion>
  /** The newest tag without a pre-release suffix. */
  readonly latest: string | undefined
}

export const catalogOf = (refs: ReadonlyArray<Ref>, minimum: SemVer.SemVer | undefined): Catalog => {
  const tags = sortTags(refs.filter((ref) => ref.kind === "tag").map((ref) => ref.name)).filter((entry) =>
    atLeast(entry.version, minimum)
  )
  return { refs, tags, latest: tags.find((entry) => !SemVer.isPrerelease(entry.version))?.tag }
}

/** What `/deploy/versions` lists: `latest`, `main`, the tags newest first, then `dev`. */
export const listing = (catalog: Catalog): ReadonlyArray<string> => {
  const branches = new Set(catalog.refs.filter((ref) => ref.kind === "branch").map((ref) => ref.name))
  return [
    ...(catalog.latest === undefined ? [] : ["latest"]),
    ...(branches.has("main") ? ["main"] : []),
    ...catalog.tags.map((entry) => entry.tag),
    ...(branches.has("dev") ? ["dev"] : [])
  ]
}

export interface Resolved {
  /** The ref to clone: a tag or a branch name. */
  readonly ref: string
  readonly kind: "tag" | "branch"
  /** The semantic version of a tag; branches have none until their tree says so. */
  readonly version: SemVer.SemVer | undefined
}

/**
 * A requested version as a ref: `latest`, a tag, a branch (`main`, `dev`), or the client's `v0.6.3`, which is
 * the newest tag of that `major.minor.patch` (here `0.6.3-fix4-alpha`).
 */
export const resolve = (catalog: Catalog, requested: string): Resolved | undefined => {
  const name = requested.trim()
  if (name === "latest") {
    const latest = catalog.tags.find((entry) => entry.tag === catalog.latest)
    return latest === undefined ? undefined : { ref: latest.tag, kind: "tag", version: latest.version }
  }
  const exact = catalog.refs.find((ref) => ref.name === name)
  if (exact !== undefined) return { ref: exact.name, kind: exact.kind, version: exact.kind === "tag" ? parseTag(exact.name) : undefined }
  const wanted = parseTag(name)
  if (wanted === undefined) return undefined
  const allTags = sortTags(catalog.refs.filter((ref) => ref.kind === "tag").map((ref) => ref.name))
  const same = allTags.find((entry) =>
    SemVer.equals(SemVer.release(entry.version), SemVer.release(wanted)) &&
    (SemVer.isPrerelease(wanted) ? SemVer.equals(entry.version, wanted) : true)
  )
  return same === undefined ? undefined : { ref: same.tag, kind: "tag", version: same.version }
}

/** `git ls-remote --tags --heads` output as refs; peeled `^{}` lines give an annotated tag's commit. */
export const parseLsRemote = (output: string): ReadonlyArray<Ref> => {
  const refs = new Map<string, Ref>()
  for (const line of output.split("\n")) {
    const [commit, fullName] = line.trim().split(/\s+/)
    if (commit === undefined || fullName === undefined || !/^[0-9a-f]{40,64}$/.test(commit)) continue
    const tag = /^refs\/tags\/(.+?)(\^\{\})?$/.exec(fullName)
    if (tag !== null) {
      const name = tag[1] ?? ""
      if (tag[2] !== undefined || !refs.has(`tag:${name}`)) refs.set(`tag:${name}`, { name, kind: "tag", commit })
      continue
    }
    const branch = /^refs\/heads\/(.+)$/.exec(fullName)
    if (branch !== null) refs.set(`branch:${branch[1]}`, { name: branch[1] ?? "", kind: "branch", commit })
  }
  return [...refs.values()]
}

/**
 * What the deployer knows without any remote: today's newest releases of both generations and the branches,
 * so the client's own names (`latest`, `main`, `dev`) resolve offline too (the clone will tell whether the
 * network is really gone).
 */
export const builtinRefs: ReadonlyArray<Ref> = [
  { name: "1.2.1", kind: "tag", commit: "" },
  { name: "0.12.3", kind: "tag", commit: "" },
  { name: "main", kind: "branch", commit: "" },
  { name: "dev", kind: "branch", commit: "" }
]
