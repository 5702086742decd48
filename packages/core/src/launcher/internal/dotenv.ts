/**
 * `.env` files as python-dotenv (which MaiBot 0.x loads them with) reads them, edited line by line: a changed
 * value rewrites only its own line, a removed key only its own lines, new keys go at the end, and comments,
 * blank lines, `export` prefixes and lines that are not assignments stay as they are.
 */
import { Result } from "effect"

export interface EnvProblem {
  readonly key: string
  readonly message: string
}

interface Assignment {
  readonly key: string
  /** `null` for a bare `KEY` line (python-dotenv reads it as `None`). */
  readonly value: string | null
  /** The lines it spans (a quoted value may run over several). */
  readonly first: number
  readonly last: number
  /** What stood before the key on its line (`export `, indentation): kept when the value changes. */
  readonly lead: string
  /** A `# comment` after the value on its last line: kept when the value changes. */
  readonly comment: string
}

export interface EnvDocument {
  readonly lines: ReadonlyArray<string>
  readonly eol: string
  readonly assignments: ReadonlyArray<Assignment>
  /** Keys in the order they first appear, with the value of their last assignment. */
  readonly values: Readonly<Record<string, string | null>>
}

const assignment = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_.-]*)\s*(=)?\s*(.*)$/

const doubleEscapes: Readonly<Record<string, string>> = {
  "\\": "\\",
  "'": "'",
  "\"": "\"",
  a: "\u0007",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v"
}

const decodeDouble = (raw: string): string =>
  raw.replace(/\\([\\'"abfnrtv])/g, (_, char: string) => doubleEscapes[char] ?? char)

const decodeSingle = (raw: string): string => raw.replace(/\\([\\'])/g, "$1")

/** The closing quote's index in `text` from `from`, skipping backslash escapes; -1 when it does not close. */
const closingQuote = (text: string, quote: string, from: number): number => {
  for (let i = from; i < text.length; i++) {
    if (text[i] === "\\") i++
    else if (text[i] === quote) return i
  }
  return -1
}

export const parse = (text: string): EnvDocument => {
  const eol = text.includes("\r\n") ? "\r\n" : "\n"
  const lines = text.split(/\r?\n/)
  const assignments: Array<Assignment> = []
  const values: Record<string, string | null> = {}
  for (let i = 0; i < lines.length; i++) {
    const match = assignment.exec(lines[i] as string)
    if (match === null) continue
    const [, lead = "", key = "", equals, rest = ""] = match
    if (equals === undefined) {
      if (rest.trim() !== "" && !rest.trimStart().startsWith("#")) continue
      assignments.push({ key, value: null, first: i, last: i, lead, comment: rest.trim() })
      values[key] = null
      continue
    }
    const quote = rest[0]
    if (quote === "'" || quote === "\"") {
      // A quoted value may span lines; find the closing quote across them.
      let joined = rest
      let last = i
      let close = closingQuote(joined, quote, 1)
      while (close === -1 && last + 1 < lines.length) {
        last++
        joined += `\n${lines[last]}`
        close = closingQuote(joined, quote, 1)
      }
      if (close === -1) continue
      const raw = joined.slice(1, close)
      const after = joined.slice(close + 1).trim()
      const value = quote === "'" ? decodeSingle(raw) : decodeDouble(raw)
      assignments.push({ key, value, first: i, last, lead, comment: after.startsWith("#") ? after : "" })
      values[key] = value
      i = last
      continue
    }
    const hash = rest.search(/\s#/)
    const value = (hash === -1 ? rest : rest.slice(0, hash)).trim()
    assignments.push({ key, value, first: i, last: i, lead, comment: hash === -1 ? "" : rest.slice(hash).trim() })
    values[key] = value
  }
  return { lines, eol, assignments, values }
}

const keyPattern = /^[A-Za-z_][A-Za-z0-9_.-]*$/
const plain = /^[A-Za-z0-9_\-.:/@+,%]*$/

/**
 * A value as python-dotenv reads it back: bare when it is plain, otherwise single-quoted (no `${VAR}`
 * expansion happens inside single quotes) with `\` and `'` escaped.
 */
export const quote = (value: string): string =>
  plain.test(value) ? value : `'${value.replace(/[\\']/g, "\\$&")}'`

export const validate = (values: Readonly<Record<string, unknown>>): EnvProblem | undefined => {
  for (const [key, value] of Object.entries(values)) {
    if (!keyPattern.test(key)) return { key, message: "not a valid variable name ([A-Za-z_][A-Za-z0-9_.-]*)" }
    if (typeof value !== "string") {
      return { key, message: value === null ? "null is not a value; leave the key out to remove it" : "not a string" }
    }
    if (/[\r\n]/.test(value)) return { key, message: "a value cannot contain a line break" }
    if (value.includes("\u0000")) return { key, message: "a value cannot contain a NUL character" }
  }
  return undefined
}

/**
 * The text with `next` as its variables: changed values rewritten in place, keys that `next` lacks removed,
 * new keys appended. Unchanged assignments keep their exact text, whatever quoting they use.
 */
export const patch = (document: EnvDocument, next: Readonly<Record<string, string>>): Result.Result<string, EnvProblem> => {
  const problem = validate(next)
  if (problem !== undefined) return Result.fail(problem)
  const replaced = new Map<number, string | undefined>()
  const lastOf = new Map<string, Assignment>()
  for (const entry of document.assignments) lastOf.set(entry.key, entry)
  for (const entry of document.assignments) {
    const wanted = next[entry.key]
    if (wanted === undefined) {
      for (let line = entry.first; line <= entry.last; line++) replaced.set(line, undefined)
      continue
    }
    if (lastOf.get(entry.key) !== entry || wanted === entry.value) continue
    const comment = entry.comment === "" ? "" : ` ${entry.comment}`
    replaced.set(entry.first, `${entry.lead}${entry.key}=${quote(wanted)}${comment}`)
    for (let line = entry.first + 1; line <= entry.last; line++) replaced.set(line, undefined)
  }
  const out: Array<string> = []
  document.lines.forEach((line, index) => {
    if (!replaced.has(index)) out.push(line)
    else if (replaced.get(index) !== undefined) out.push(replaced.get(index) as string)
  })
  const added = Object.entries(next).filter(([key]) => !lastOf.has(key)).map(([key, value]) => `${key}=${quote(value)}`)
  if (added.length > 0) {
    // A text ending with a newline splits into a final "": the new lines go before it.
    if (out.length > 0 && out[out.length - 1] === "") out.splice(out.length - 1, 0, ...added)
    else out.push(...added, "")
  }
  return Result.succeed(out.join(document.eol))
}
