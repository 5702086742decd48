/**
 * What MaiKit says about its own version: the running release, the releases it knows of, and the
 * launcher's integer `internal_version` (major·1000 + minor·100 + patch·10 + preview number), which the
 * original launcher's client compares.
 */
import { Schema } from "effect"
import corePackage from "../../package.json" with { type: "json" }

export const Release = Schema.Struct({
  version: Schema.String,
  internal_version: Schema.Int,
  release_date: Schema.String,
  release_notes: Schema.String
})
export type Release = typeof Release.Type

const parsed = (version: string) => {
  const match = /^(\d+)\.(\d+)\.(\d+)(?:-[A-Za-z]+\.?(\d+))?/.exec(version)
  return match === null
    ? undefined
    : { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), pre: Number(match[4] ?? 0) }
}

/** `0.1.0-Preview.3` → 103; a string that is not a version → 0. */
export const internalVersion = (version: string): number => {
  const v = parsed(version)
  return v === undefined ? 0 : v.major * 1000 + v.minor * 100 + v.patch * 10 + v.pre
}

const isPrerelease = (version: string) => version.includes("-")

/** Orders two version strings; pre-releases sort before their release. */
export const compare = (a: string, b: string): number => {
  const x = parsed(a)
  const y = parsed(b)
  if (x === undefined || y === undefined) return a.localeCompare(b)
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch ||
    (isPrerelease(a) === isPrerelease(b) ? x.pre - y.pre : isPrerelease(a) ? -1 : 1)
}

/** Newest first. Each release adds its line here when its changesets are versioned. */
export const releases: ReadonlyArray<Release> = [
  {
    version: "0.1.0",
    internal_version: internalVersion("0.1.0"),
    release_date: "2026-11-23",
    release_notes: "First MaiKit release: core platform, launcher API family, CLI and all-in-one server."
  }
]

export const current: Release = releases.find((release) => release.version === corePackage.version) ?? {
  version: corePackage.version,
  internal_version: internalVersion(corePackage.version),
  release_date: "",
  release_notes: "development build"
}
