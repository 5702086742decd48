/**
 * A config file as MaiKit's file routes carry it (TOML or `.env` read into JSON), laid out for a form: sections
 * (tables, and each entry of an array of tables) of fields, each with the type its current value has and the
 * comment the file gives it; and the difference between two versions of the document as a list of changed keys.
 */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
export type Document = { readonly [key: string]: Json }
/** Keys of tables and indexes of arrays, from the top of the document. */
export type Path = ReadonlyArray<string | number>

export type FieldKind = "boolean" | "number" | "string" | "list" | "json"

export interface Field {
  readonly path: Path
  readonly key: string
  readonly kind: FieldKind
  /** The comment on the key's line, or the comment lines just above it. */
  readonly note: string | undefined
}

export interface Section {
  /** `[]` for the top-level keys that are not tables. */
  readonly path: Path
  readonly note: string | undefined
  readonly fields: ReadonlyArray<Field>
}

/** Comments by `noteKey(path)`. */
export type Notes = ReadonlyMap<string, string>

export const noteKey = (path: Path) => JSON.stringify(path)

const isTable = (value: Json | undefined): value is { readonly [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isTableArray = (value: Json): value is ReadonlyArray<{ readonly [key: string]: Json }> =>
  Array.isArray(value) && value.length > 0 && value.every((item) => isTable(item))

const kindOf = (value: Json): FieldKind =>
  typeof value === "boolean"
    ? "boolean"
    : typeof value === "number"
    ? "number"
    : typeof value === "string"
    ? "string"
    : Array.isArray(value) && value.every((item) => typeof item === "string" || typeof item === "number")
    ? "list"
    : "json"

/** `bot.nickname`, `api_providers[0].name`. */
export const label = (path: Path): string =>
  path.map((part, index) => (typeof part === "number" ? `[${part}]` : index === 0 ? part : `.${part}`)).join("")

/** Tables and the entries of arrays of tables become sections (nested ones flattened to dotted names). */
export const sectionsOf = (document: Document, notes: Notes = new Map()): ReadonlyArray<Section> => {
  const sections: Array<Section> = []
  const visit = (table: { readonly [key: string]: Json }, path: Path) => {
    const fields: Array<Field> = []
    const nested: Array<[Path, { readonly [key: string]: Json }]> = []
    for (const [key, value] of Object.entries(table)) {
      if (isTable(value)) nested.push([[...path, key], value])
      else if (isTableArray(value)) value.forEach((item, index) => nested.push([[...path, key, index], item]))
      else fields.push({ path: [...path, key], key, kind: kindOf(value), note: notes.get(noteKey([...path, key])) })
    }
    if (fields.length > 0 || path.length > 0) sections.push({ path, note: notes.get(noteKey(path)), fields })
    for (const [childPath, value] of nested) visit(value, childPath)
  }
  visit(document, [])
  return sections
}

export const getAt = (document: Json, path: Path): Json => {
  let current: Json = document
  for (const part of path) {
    current = typeof part === "number"
      ? (Array.isArray(current) ? (current as ReadonlyArray<Json>)[part] ?? null : null)
      : isTable(current) ? current[part] ?? null : null
  }
  return current
}

const setIn = (container: Json, path: Path, value: Json): Json => {
  const [head, ...rest] = path
  if (head === undefined) return value
  if (typeof head === "number") {
    const items = Array.isArray(container) ? [...(container as ReadonlyArray<Json>)] : []
    items[head] = setIn(items[head] ?? null, rest, value)
    return items
  }
  const table = isTable(container) ? container : {}
  return { ...table, [head]: setIn(table[head] ?? null, rest, value) }
}

/** A copy of `document` with `value` at `path`. */
export const setAt = (document: Document, path: Path, value: Json): Document => setIn(document, path, value) as Document

export interface Change {
  readonly path: Path
  readonly key: string
  readonly before: string
  readonly after: string
}

const show = (value: Json | undefined) => (value === undefined ? "∅" : JSON.stringify(value))

/** Every leaf that differs between `before` and `after` (arrays of tables entry by entry). */
export const diff = (before: Json | undefined, after: Json | undefined, path: Path = []): ReadonlyArray<Change> => {
  if (isTable(before) && isTable(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    return keys.flatMap((key) => diff(before[key], after[key], [...path, key]))
  }
  if (before !== undefined && after !== undefined && isTableArray(before) && isTableArray(after) && before.length === after.length) {
    return before.flatMap((item, index) => diff(item, after[index], [...path, index]))
  }
  return show(before) === show(after) ? [] : [{ path, key: label(path), before: show(before), after: show(after) }]
}

/** Applies the changes between `base` and `edited` to `latest`: one's edits kept on top of another's. */
export const rebase = (base: Document, edited: Document, latest: Document): Document =>
  diff(base, edited).reduce<Document>((document, change) => setAt(document, change.path, getAt(edited, change.path)), latest)

// --- Comments ------------------------------------------------------------------------------------------------

/** Splits `a."b.c".d` at the dots outside quotes, unquoting each part. */
const splitKey = (text: string): Array<string> => {
  const parts: Array<string> = []
  let current = ""
  let quote: string | undefined
  for (const char of text.trim()) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined
      else current += char
    } else if (char === "\"" || char === "'") quote = char
    else if (char === ".") {
      parts.push(current.trim())
      current = ""
    } else current += char
  }
  parts.push(current.trim())
  return parts
}

/** Where the value's comment starts (`#` outside strings), and how the brackets it opens stand at the line's end. */
const scanValue = (text: string, depth: number): { readonly comment: number; readonly depth: number } => {
  let quote: string | undefined
  for (let index = 0; index < text.length; index++) {
    const char = text[index]
    if (quote !== undefined) {
      if (char === "\\" && quote === "\"") index++
      else if (char === quote) quote = undefined
    } else if (char === "\"" || char === "'") quote = char
    else if (char === "[" || char === "{") depth++
    else if (char === "]" || char === "}") depth--
    else if (char === "#") return { comment: index, depth }
  }
  return { comment: -1, depth }
}

const commentText = (line: string) => line.replace(/^\s*#+\s?/, "").trim()

/**
 * The comments a TOML or `.env` file gives its keys and tables: the comment on the same line, or the comment lines
 * right above (a blank line ends them; `.env` values have no trailing comments). Multi-line strings are not
 * followed; keys after one may get no note.
 */
export const notesOf = (text: string, format: "toml" | "env" = "toml"): Notes => {
  const notes = new Map<string, string>()
  const tableArrays = new Map<string, number>()
  let table: Path = []
  let above: Array<string> = []
  let depth = 0
  const resolve = (parts: ReadonlyArray<string>): Array<string | number> => {
    const path: Array<string | number> = []
    for (const part of parts) {
      path.push(part)
      const index = tableArrays.get(noteKey(path))
      if (index !== undefined) path.push(index)
    }
    return path
  }
  const note = (path: Path, trailing: string | undefined) => {
    const value = trailing !== undefined && trailing !== "" ? trailing : above.join(" ")
    if (value !== "") notes.set(noteKey(path), value)
    above = []
  }
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (depth > 0) {
      depth = scanValue(line, depth).depth
      continue
    }
    if (line === "") {
      above = []
      continue
    }
    if (line.startsWith("#")) {
      const comment = commentText(line)
      if (comment !== "") above.push(comment)
      continue
    }
    const header = format === "toml" ? /^\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$/.exec(line) : null
    if (header !== null) {
      const parts = splitKey(header[1] ?? "")
      if (line.startsWith("[[")) {
        const parent = resolve(parts.slice(0, -1))
        const own = noteKey([...parent, parts.at(-1) ?? ""])
        const index = (tableArrays.get(own) ?? -1) + 1
        tableArrays.set(own, index)
        table = [...parent, parts.at(-1) ?? "", index]
      } else {
        table = resolve(parts)
      }
      note(table, header[2] === undefined ? undefined : commentText(header[2]))
      continue
    }
    const equals = line.indexOf("=")
    if (equals <= 0) {
      above = []
      continue
    }
    const value = line.slice(equals + 1)
    // In `.env` a `#` after the value belongs to the value.
    const scanned = format === "toml" ? scanValue(value, 0) : { comment: -1, depth: 0 }
    depth = Math.max(0, scanned.depth)
    note([...table, ...splitKey(line.slice(0, equals).replace(/^export\s+/, ""))], scanned.comment < 0 ? undefined : commentText(value.slice(scanned.comment)))
  }
  return notes
}
