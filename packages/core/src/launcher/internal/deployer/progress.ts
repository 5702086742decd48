/**
 * How far a tool has got, read from what it prints (never from a clock): git's `--progress` phases with their
 * object counts, pip's `Collecting` / `Processing` / `Downloading` lines against the number of requirements, then
 * `Installing collected packages` and `Successfully installed`; uv's `Resolved` / `Prepared` / `Installed`
 * summaries. Each tracker answers a fraction in [0, 1] that never goes down.
 */

export interface Tracker {
  /** Reads one output line; returns the fraction done so far. */
  readonly feed: (line: string) => number
}

const monotonic = (compute: (line: string) => number | undefined): Tracker => {
  let done = 0
  return {
    feed: (line) => {
      const next = compute(line)
      if (next !== undefined && next > done) done = Math.min(1, next)
      return done
    }
  }
}

/** git phases, in the order a clone or fetch goes through them, with the share of the work each stands for. */
const gitPhases: ReadonlyArray<readonly [RegExp, number, number]> = [
  [/^remote: (Enumerating|Counting) objects:/i, 0, 0.05],
  [/^remote: Compressing objects:/i, 0.05, 0.15],
  [/^Receiving objects:/i, 0.15, 0.8],
  [/^Resolving deltas:/i, 0.8, 0.95],
  [/^(Updating files|Checking out files):/i, 0.95, 1]
]

const counts = /(\d+)% \((\d+)\/(\d+)\)/

export const git = (): Tracker =>
  monotonic((line) => {
    const text = line.trim()
    for (const [pattern, from, to] of gitPhases) {
      if (!pattern.test(text)) continue
      const match = counts.exec(text)
      const total = Number(match?.[3] ?? 0)
      const fraction = total > 0 ? Number(match?.[2] ?? 0) / total : 0
      return from + (to - from) * fraction
    }
    return undefined
  })

/** Requirement lines of a requirements file: not blank, not a comment, not an option (`-r`, `--index-url`). */
export const countRequirements = (text: string): number =>
  text.split(/\r?\n/).map((line) => line.replace(/(^|\s)#.*$/, "").trim()).filter((line) =>
    line !== "" && !line.startsWith("-")
  ).length

/**
 * pip: resolving is most of the time (downloads happen there), so collected requirements count for 80 %,
 * `Installing collected packages` for the next 15 % and `Successfully installed` ends it. Dependencies of
 * dependencies are collected too, so the count is capped at the requirements' number.
 */
export const pip = (requirements: number): Tracker => {
  const seen = new Set<string>()
  const total = Math.max(1, requirements)
  return monotonic((line) => {
    const text = line.trim()
    const collected = /^(Collecting|Processing|Requirement already satisfied:)\s+(\S+)/.exec(text)
    if (collected !== null) {
      seen.add((collected[2] ?? "").toLowerCase())
      return 0.8 * Math.min(1, seen.size / total)
    }
    if (text.startsWith("Installing collected packages:")) return 0.85
    if (/^Successfully installed\b/.test(text)) return 1
    return undefined
  })
}

/** uv's one-line summaries of its phases. */
export const uv = (): Tracker =>
  monotonic((line) => {
    const text = line.trim()
    if (/^(Using CPython|Creating virtual environment)/.test(text)) return 0.05
    if (/^Resolved \d+ packages?/.test(text)) return 0.3
    if (/^Prepared \d+ packages?/.test(text)) return 0.8
    if (/^(Installed|Audited) \d+ packages?/.test(text)) return 1
    return undefined
  })
