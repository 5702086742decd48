/**
 * TOML documents edited the way a person would edit them: the file is parsed into a concrete syntax tree
 * (`toml-eslint-parser`, which keeps the exact source range of every key, value, table and comment), the
 * submitted JSON is compared with the document's own JSON view, and only what differs is replaced, added or
 * removed, as splices of the source text. New values and tables are written by `@decimalturn/toml-patch`'s
 * serializer; nothing outside a spliced range changes by a byte. Before anything is returned, the result is
 * parsed again and must read back as exactly the submitted document, so a splice that went wrong can never
 * reach the disk.
 *
 * Why not a patch library alone: `@decimalturn/toml-patch`'s `patch` reformats parts it was not asked to touch
 * (trailing spaces after values, the alignment of comments in multi-line arrays — a no-op patch of MaiBot's own
 * `bot_config_template.toml` changes 119 lines), and `@rainbowatcher/toml-edit-js` (Rust's `toml_edit`) cannot
 * address top-level keys or quoted keys and mangles arrays it appends to.
 */
import { stringify as stringifyToml, TomlFormat } from "@decimalturn/toml-patch"
import { Result } from "effect"
import { type AST, ParseError, parseTOML } from "toml-eslint-parser"

export type Json = string | number | boolean | ReadonlyArray<Json> | JsonTable
export interface JsonTable {
  readonly [key: string]: Json
}
export type KeyPath = ReadonlyArray<string | number>

/** A syntax error in a document, 1-based line and column. */
export interface SyntaxProblem {
  readonly _tag: "Syntax"
  readonly line: number
  readonly column: number
  readonly message: string
}

/** A value that cannot be written: `null`, a type that differs from the reference's, an unrepresentable one. */
export interface ValueProblem {
  readonly _tag: "Value"
  readonly path: KeyPath
  readonly message: string
}

export type Problem = SyntaxProblem | ValueProblem

type ValueNode = AST.TOMLValue | AST.TOMLArray | AST.TOMLInlineTable

/** A place where key/values of a table are written: the root, a `[table]` or an `[[array]]` element. */
interface Block {
  readonly path: KeyPath
  /** Offset of the header line's start (0 for the root). */
  readonly start: number
  /** Offset just after the header line (0 for the root). */
  readonly bodyStart: number
  readonly header: boolean
  /** The key/values written in this block, in order, with their full paths. */
  readonly entries: Array<{ readonly path: KeyPath; readonly node: AST.TOMLKeyValue }>
}

type TableKind = "root" | "header" | "inline" | "implicit"

interface TableInfo {
  readonly kind: TableKind
  /** The block where keys of this table are written: its own, or the one whose dotted keys define it. */
  readonly home: Block
}

export interface Document {
  readonly text: string
  readonly value: JsonTable
  /** Every value, array element and inline table by `pathKey`. */
  readonly values: ReadonlyMap<string, ValueNode>
  readonly tables: ReadonlyMap<string, TableInfo>
  readonly blocks: ReadonlyArray<Block>
  /** Paths (by `pathKey`) of arrays written as `[[array]]` tables. */
  readonly arraysOfTables: ReadonlySet<string>
}

export const pathKey = (path: KeyPath): string => JSON.stringify(path)

/** `chat.talk_value_rules[1].value`, for messages. */
export const formatPath = (path: KeyPath): string => {
  let out = ""
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else out += out === "" ? segment : `.${segment}`
  }
  return out === "" ? "(root)" : out
}

const isTable = (value: unknown): value is JsonTable =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const keyName = (key: AST.TOMLBare | AST.TOMLQuoted): string => key.type === "TOMLBare" ? key.name : key.value

const keyNames = (key: AST.TOMLKey): Array<string> => key.keys.map(keyName)

/** TOML datetimes read as RFC 3339 / ISO 8601 strings, with `T` between date and time. */
const normalizeDatetime = (text: string): string => text.replace(/^(\d{4}-\d{2}-\d{2})[ tT]/, "$1T").replace(/z$/, "Z")

const datetimeText = (node: AST.TOMLDateTimeValue): string => normalizeDatetime(node.datetime)

const specialFloat = (value: number): string | undefined =>
  Number.isNaN(value) ? "nan" : value === Infinity ? "inf" : value === -Infinity ? "-inf" : undefined

/**
 * Parses a document. Datetimes become ISO strings and `inf`/`nan` the strings `"inf"`, `"-inf"`, `"nan"`, since
 * JSON has neither; integers beyond 2^53 lose precision as they would in any JSON client.
 */
export const parse = (text: string): Result.Result<Document, SyntaxProblem> => {
  let program: AST.TOMLProgram
  try {
    program = parseTOML(text)
  } catch (cause) {
    if (cause instanceof ParseError) {
      return Result.fail({ _tag: "Syntax", line: cause.lineNumber, column: cause.column + 1, message: cause.message })
    }
    throw cause
  }
  const root: Record<string, Json> = {}
  const values = new Map<string, ValueNode>()
  const tables = new Map<string, TableInfo>()
  const blocks: Array<Block> = []
  const arraysOfTables = new Set<string>()

  const rootBlock: Block = { path: [], start: 0, bodyStart: 0, header: false, entries: [] }
  blocks.push(rootBlock)
  // Homes are settled once every block is known: a table seen only as a parent (`a` of `[a.b]`) gets the
  // nearest ancestor block that has a header (or the root), and is written there with dotted keys.
  const homes = new Map<string, { kind: TableKind; home: Block | undefined }>()
  homes.set(pathKey([]), { kind: "root", home: rootBlock })

  const noteTable = (path: KeyPath, kind: TableKind, home: Block | undefined) => {
    const key = pathKey(path)
    const known = homes.get(key)
    if (known === undefined) homes.set(key, { kind, home })
    else if (kind === "header" || kind === "inline") homes.set(key, { kind, home })
    else if (known.kind === "implicit" && known.home === undefined) known.home = home
  }

  /** Walks (creating) the JSON view along a header's path, noting the parent tables it passes. */
  const container = (path: KeyPath): Record<string, Json> => {
    let current: Record<string, Json> | Array<Json> = root
    for (let i = 0; i < path.length; i++) {
      const segment = path[i] as string | number
      const next = path[i + 1]
      if (typeof segment === "number") {
        const list = current as Array<Json>
        while (list.length <= segment) list.push({})
        current = list[segment] as Record<string, Json>
      } else {
        const table = current as Record<string, Json>
        if (table[segment] === undefined) table[segment] = typeof next === "number" ? [] : {}
        current = table[segment] as Record<string, Json> | Array<Json>
      }
      if (typeof next !== "number" && i < path.length - 1) noteTable(path.slice(0, i + 1), "implicit", undefined)
    }
    return current as Record<string, Json>
  }

  const toJson = (node: ValueNode, path: KeyPath): Json => {
    values.set(pathKey(path), node)
    switch (node.type) {
      case "TOMLArray":
        return node.elements.map((element, index) => toJson(element, [...path, index]))
      case "TOMLInlineTable": {
        noteTable(path, "inline", undefined)
        const table: Record<string, Json> = {}
        for (const entry of node.body) setEntry(table, path, entry, undefined)
        return table
      }
      case "TOMLValue":
        switch (node.kind) {
          case "integer":
            return Number(node.bigint)
          case "float":
            return specialFloat(node.value) ?? node.value
          case "offset-date-time":
          case "local-date-time":
          case "local-date":
          case "local-time":
            return datetimeText(node)
          default:
            return node.value
        }
    }
  }

  /** Sets a key/value (dotted keys create the tables on the way) relative to `table` at `base`. */
  const setEntry = (table: Record<string, Json>, base: KeyPath, entry: AST.TOMLKeyValue, block: Block | undefined) => {
    const names = keyNames(entry.key)
    let current = table
    for (let i = 0; i < names.length - 1; i++) {
      const name = names[i] as string
      if (current[name] === undefined) current[name] = {}
      current = current[name] as Record<string, Json>
      const tablePath = [...base, ...names.slice(0, i + 1)]
      noteTable(tablePath, block === undefined ? "inline" : "implicit", block)
    }
    const path = [...base, ...names]
    current[names[names.length - 1] as string] = toJson(entry.value, path)
    block?.entries.push({ path, node: entry })
  }

  for (const item of program.body[0]?.body ?? []) {
    if (item.type === "TOMLKeyValue") {
      setEntry(root, [], item, rootBlock)
      continue
    }
    const path = item.resolvedKey
    const block: Block = {
      path,
      start: lineStart(text, item.range[0]),
      bodyStart: lineEnd(text, item.key.range[1]),
      header: true,
      entries: []
    }
    blocks.push(block)
    if (item.kind === "array") arraysOfTables.add(pathKey(path.slice(0, -1)))
    const table = container(path)
    noteTable(path, "header", block)
    for (const entry of item.body) setEntry(table, path, entry, block)
  }
  for (const [key, info] of homes) {
    let home = info.home
    let ancestor = (JSON.parse(key) as KeyPath).slice(0, -1)
    while (home === undefined) {
      const found = homes.get(pathKey(ancestor))
      if (found !== undefined && (found.kind === "header" || found.kind === "root")) home = found.home
      ancestor = ancestor.slice(0, -1)
      if (ancestor.length === 0 && home === undefined) home = rootBlock
    }
    tables.set(key, { kind: info.kind, home })
  }
  return Result.succeed({ text, value: root, values, tables, blocks, arraysOfTables })
}

/** Offset of the start of the line holding `offset`. */
const lineStart = (text: string, offset: number): number => text.lastIndexOf("\n", offset - 1) + 1

/** Offset just after the newline ending the line holding `offset` (or the end of the text). */
const lineEnd = (text: string, offset: number): number => {
  const newline = text.indexOf("\n", offset)
  return newline === -1 ? text.length : newline + 1
}

const isCommentLine = (line: string): boolean => /^[ \t]*#/.test(line)

/**
 * The start of the comment lines directly above `start` (no blank line between): they describe what follows
 * them and go with it when it is removed, as in `toml_edit` and `toml-patch`.
 */
const ownedStart = (text: string, start: number): number => {
  let current = start
  while (current > 0) {
    const previous = lineStart(text, current - 1)
    const line = text.slice(previous, current).replace(/\r?\n$/, "")
    if (!isCommentLine(line)) break
    current = previous
  }
  return current
}

// ---------------------------------------------------------------------------------------------------------
// Changes between the document and a submitted value

export type Change =
  | { readonly _tag: "Replace"; readonly path: KeyPath; readonly value: Json }
  | { readonly _tag: "Add"; readonly path: KeyPath; readonly value: Json }
  | { readonly _tag: "Remove"; readonly path: KeyPath }
  | { readonly _tag: "AppendTables"; readonly path: KeyPath; readonly from: number; readonly values: ReadonlyArray<Json> }
  | { readonly _tag: "TruncateTables"; readonly path: KeyPath; readonly length: number; readonly was: number }

const datetimeShape = /^\d{4}-\d{2}-\d{2}[ tT]/

const equal = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a === "string" && typeof b === "string") {
    return datetimeShape.test(a) && datetimeShape.test(b) && normalizeDatetime(a) === normalizeDatetime(b)
  }
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, index) => equal(item, b[index]))
  }
  if (isTable(a) && isTable(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && equal(a[key], b[key]))
  }
  return false
}

const maxDepth = 64

/**
 * Checks that `value` is JSON a TOML document can hold: no `null` (TOML has none; the original launcher
 * truncated the file on one), no non-finite numbers, no nesting deeper than 64 levels.
 */
export const validateJson = (value: unknown, path: KeyPath = []): ValueProblem | undefined => {
  if (path.length > maxDepth) return { _tag: "Value", path, message: `nested deeper than ${maxDepth} levels` }
  if (value === null || value === undefined) {
    return { _tag: "Value", path, message: "null has no TOML form; leave the key out to remove it" }
  }
  if (typeof value === "number" && !Number.isFinite(value)) {
    return { _tag: "Value", path, message: "not a finite number" }
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = validateJson(value[i], [...path, i])
      if (problem !== undefined) return problem
    }
    return undefined
  }
  if (typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      const problem = validateJson(item, [...path, key])
      if (problem !== undefined) return problem
    }
    return undefined
  }
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return undefined
  return { _tag: "Value", path, message: `unsupported value of type ${typeof value}` }
}

/** What must change in `document` to make its value `next`. */
export const diff = (document: Document, next: JsonTable): ReadonlyArray<Change> => {
  const changes: Array<Change> = []
  const table = (path: KeyPath, current: JsonTable, wanted: JsonTable) => {
    for (const key of Object.keys(current)) {
      if (!Object.hasOwn(wanted, key)) changes.push({ _tag: "Remove", path: [...path, key] })
    }
    for (const [key, value] of Object.entries(wanted)) {
      if (Object.hasOwn(current, key)) item([...path, key], current[key] as Json, value)
      else changes.push({ _tag: "Add", path: [...path, key], value })
    }
  }
  const item = (path: KeyPath, current: Json, wanted: Json) => {
    if (equal(current, wanted)) return
    const key = pathKey(path)
    if (isTable(current) && isTable(wanted)) {
      const inline = document.tables.get(key)?.kind === "inline"
      const sameKeys = Object.keys(current).length === Object.keys(wanted).length &&
        Object.keys(current).every((name) => Object.hasOwn(wanted, name))
      if (inline && !sameKeys) changes.push({ _tag: "Replace", path, value: wanted })
      else table(path, current, wanted)
      return
    }
    if (Array.isArray(current) && Array.isArray(wanted)) {
      if (document.arraysOfTables.has(key) && wanted.every(isTable)) {
        const common = Math.min(current.length, wanted.length)
        for (let i = 0; i < common; i++) item([...path, i], current[i] as Json, wanted[i] as Json)
        if (wanted.length < current.length) {
          changes.push({ _tag: "TruncateTables", path, length: wanted.length, was: current.length })
        }
        if (wanted.length > current.length) {
          changes.push({ _tag: "AppendTables", path, from: current.length, values: wanted.slice(current.length) })
        }
        return
      }
      if (!document.arraysOfTables.has(key) && current.length === wanted.length) {
        for (let i = 0; i < current.length; i++) item([...path, i], current[i] as Json, wanted[i] as Json)
        return
      }
    }
    changes.push({ _tag: "Replace", path, value: wanted })
  }
  table([], document.value, next)
  return changes
}

// ---------------------------------------------------------------------------------------------------------
// Type checks against a reference document (a template, or the file itself)

type Reference = ValueNode | "table" | "tables" | undefined

/** The node at `path` in `document`; an array index the reference lacks falls back to its first element. */
const referenceAt = (document: Document, path: KeyPath): Reference => {
  const resolved: Array<string | number> = []
  for (const segment of path) {
    if (typeof segment === "number") {
      const exact = [...resolved, segment]
      resolved.push(
        document.values.has(pathKey(exact)) || document.tables.has(pathKey(exact)) ? segment : 0
      )
    } else {
      resolved.push(segment)
    }
  }
  const key = pathKey(resolved)
  const node = document.values.get(key)
  if (node !== undefined) return node
  if (document.arraysOfTables.has(key)) return "tables"
  return document.tables.has(key) ? "table" : undefined
}

const describe = (value: Json): string =>
  Array.isArray(value)
    ? "an array"
    : isTable(value)
    ? "a table"
    : typeof value === "string"
    ? "a string"
    : typeof value === "boolean"
    ? "a boolean"
    : Number.isInteger(value)
    ? "an integer"
    : "a float"

const isDatetimeKind = (kind: string): boolean => kind.includes("date") || kind.includes("time")

/** Whether a string is a TOML datetime literal, checked by the parser itself. */
export const isDatetimeLiteral = (text: string): boolean => {
  if (!/^[0-9][0-9:.+\-TtZz ]*$/.test(text)) return false
  try {
    const value = parseTOML(`v = ${text}`).body[0]?.body[0]
    return value?.type === "TOMLKeyValue" && value.value.type === "TOMLValue" && isDatetimeKind(value.value.kind)
  } catch {
    return false
  }
}

/** How `parse` shows the floats JSON cannot carry; written back as the same TOML literals. */
const specialFloats = new Set(["inf", "-inf", "nan"])

const checkScalar = (node: AST.TOMLValue, value: Json, path: KeyPath, source: string): ValueProblem | undefined => {
  const wrong = (expected: string) => ({
    _tag: "Value" as const,
    path,
    message: `expected ${expected} (as in ${source}), got ${describe(value)}`
  })
  switch (node.kind) {
    case "string":
      return typeof value === "string" ? undefined : wrong("a string")
    case "boolean":
      return typeof value === "boolean" ? undefined : wrong("a boolean")
    // Templates write `talk_value = 1` for a float setting: integer and float are one type here.
    case "integer":
    case "float":
      return typeof value === "number" || (typeof value === "string" && specialFloats.has(value))
        ? undefined
        : wrong("a number")
    default:
      return typeof value === "string" && isDatetimeLiteral(value) ? undefined : wrong(`a ${node.kind}`)
  }
}

/**
 * Checks a value to be written at `path` against what `reference` holds there: the same TOML type (numbers
 * of either kind where a number stands), recursively for arrays and tables. Paths the reference does not know
 * are not checked.
 */
export const checkType = (
  reference: Document,
  source: string,
  path: KeyPath,
  value: Json
): ValueProblem | undefined => {
  const node = referenceAt(reference, path)
  if (node === undefined) return undefined
  return checkAgainst(reference, source, path, value, node)
}

const checkAgainst = (
  reference: Document,
  source: string,
  path: KeyPath,
  value: Json,
  node: Exclude<Reference, undefined>
): ValueProblem | undefined => {
  const wrong = (expected: string): ValueProblem => ({
    _tag: "Value",
    path,
    message: `expected ${expected} (as in ${source}), got ${describe(value)}`
  })
  if (node === "table" || (node !== "tables" && node.type === "TOMLInlineTable")) {
    if (!isTable(value)) return wrong("a table")
    for (const [key, item] of Object.entries(value)) {
      const problem = checkType(reference, source, [...path, key], item)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  if (node === "tables" || node.type === "TOMLArray") {
    if (!Array.isArray(value)) return wrong("an array")
    for (let i = 0; i < value.length; i++) {
      const problem = checkType(reference, source, [...path, i], value[i] as Json)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  return checkScalar(node, value, path, source)
}

export interface TypeReference {
  readonly document: Document
  /** Named in messages: "the template", "the current file". */
  readonly source: string
}

/**
 * Checks every value a set of changes writes. Each path is checked against the first reference that knows it
 * (the template, then the file as it is), so keys the template lacks keep the type they already have.
 */
export const checkChanges = (
  changes: ReadonlyArray<Change>,
  references: ReadonlyArray<TypeReference>
): ValueProblem | undefined => {
  const check = (path: KeyPath, value: Json): ValueProblem | undefined => {
    for (const reference of references) {
      const node = referenceAt(reference.document, path)
      if (node !== undefined) return checkAgainst(reference.document, reference.source, path, value, node)
    }
    return undefined
  }
  for (const change of changes) {
    const problem = change._tag === "Replace" || change._tag === "Add"
      ? check(change.path, change.value)
      : change._tag === "AppendTables"
      ? change.values.map((value, i) => check([...change.path, change.from + i], value)).find((p) => p !== undefined)
      : undefined
    if (problem !== undefined) return problem
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------
// Writing changes as splices

interface Splice {
  readonly start: number
  readonly end: number
  readonly text: string
}

const bareKey = /^[A-Za-z0-9_-]+$/

const formatFor = (text: string): TomlFormat => TomlFormat.autoDetectFormat(text)

/** The document's format with some options changed (the serializer takes a whole `TomlFormat`). */
const withOptions = (format: TomlFormat, options: Partial<TomlFormat>): TomlFormat =>
  Object.assign(TomlFormat.default(), format, options)

/** One value in TOML syntax, written by the serializer (`v = <value>` with the key cut off). */
const serialize = (value: Json, format: TomlFormat, options: Partial<TomlFormat> = {}): string => {
  const written = stringifyToml({ v: value }, withOptions(format, { ...options, inlineTableStart: 0, trailingNewline: 0 }))
  return written.slice("v = ".length)
}

/** A key as TOML writes it: bare when it can be, quoted by the serializer otherwise. */
const keyText = (segments: ReadonlyArray<string>, format: TomlFormat): string =>
  segments.map((segment) => {
    if (bareKey.test(segment)) return segment
    const written = stringifyToml({ [segment]: 0 }, withOptions(format, { trailingNewline: 0 }))
    return written.slice(0, -" = 0".length)
  }).join(".")

// oxlint-disable-next-line no-control-regex -- control characters are what TOML strings must escape
const controlCharacters = /[\u0000-\u0008\u000b-\u001f\u007f]/

/** A string in the quoting style the value had, where the new text fits that style. */
const stringInStyle = (node: AST.TOMLStringValue, value: string, format: TomlFormat): string => {
  if (node.style === "literal" && !controlCharacters.test(value)) {
    if (!node.multiline && !/['\r\n]/.test(value)) return `'${value}'`
    if (node.multiline && !value.includes("'''") && !value.startsWith("\n") && !value.endsWith("'")) {
      return `'''${value}'''`
    }
  }
  if (node.multiline && value.includes("\n")) {
    const escaped = value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\r/g, "\\r")
      .replace(new RegExp(controlCharacters.source, "g"), (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)
    return `"""${escaped.startsWith("\n") ? `\\n${escaped.slice(1)}` : escaped}"""`
  }
  return serialize(value, format)
}

const valueText = (node: ValueNode | undefined, value: Json, format: TomlFormat, text: string): string => {
  if (node?.type === "TOMLValue") {
    if (node.kind === "string" && typeof value === "string") return stringInStyle(node, value, format)
    if (node.kind === "float" && typeof value === "string") return value
    if (node.kind === "float" && typeof value === "number" && Number.isInteger(value)) {
      return serialize(value, format, { minimumDecimals: 1 })
    }
    if (isDatetimeKind(node.kind) && typeof value === "string") return normalizeDatetime(value)
  }
  if (node?.type === "TOMLArray") {
    const multiline = text.slice(node.range[0], node.range[1]).includes("\n")
    return serialize(value, format, { multilineArray: multiline })
  }
  return serialize(value, format)
}

const blocksUnder = (document: Document, path: KeyPath): Array<Block> =>
  document.blocks.filter((block) =>
    block.header && block.path.length >= path.length && path.every((segment, i) => block.path[i] === segment)
  )

const startsWith = (path: KeyPath, prefix: KeyPath): boolean =>
  path.length >= prefix.length && prefix.every((segment, i) => path[i] === segment)

/** Where a block (and the blocks nested under it that follow it) ends: at the next block's owned comments. */
const blockEnd = (document: Document, block: Block): number => {
  const index = document.blocks.indexOf(block)
  const following = document.blocks.slice(index + 1).find((next) => !startsWith(next.path, block.path))
  return following === undefined ? document.text.length : ownedStart(document.text, following.start)
}

const entryRange = (text: string, node: AST.TOMLKeyValue): Splice => ({
  start: ownedStart(text, lineStart(text, node.range[0])),
  end: lineEnd(text, node.range[1]),
  text: ""
})

/** The offset after which a new key of the table at `path` is written, and the key prefix relative to it. */
const insertionPoint = (document: Document, path: KeyPath): { offset: number; prefix: KeyPath } => {
  const home = document.tables.get(pathKey(path))?.home ?? document.blocks[0] as Block
  const inside = home.entries.filter((entry) => startsWith(entry.path, path))
  const last = inside.at(-1) ?? home.entries.at(-1)
  const offset = last === undefined ? home.bodyStart : lineEnd(document.text, last.node.range[1])
  return { offset, prefix: path.slice(home.path.length) }
}

const newline = (text: string): string => text.includes("\r\n") ? "\r\n" : "\n"

const splicesFor = (document: Document, change: Change, format: TomlFormat): Array<Splice> => {
  const { text } = document
  const eol = newline(text)
  const atOffset = (offset: number, line: string): Splice => {
    const needsBreak = offset > 0 && text[offset - 1] !== "\n"
    return { start: offset, end: offset, text: `${needsBreak ? eol : ""}${line}${eol}` }
  }
  switch (change._tag) {
    case "Replace": {
      const node = document.values.get(pathKey(change.path))
      if (node !== undefined) {
        return [{ start: node.range[0], end: node.range[1], text: valueText(node, change.value, format, text) }]
      }
      // A table written with headers or dotted keys becomes something else: remove it, write the new value.
      return [...splicesFor(document, { _tag: "Remove", path: change.path }, format), ...splicesFor(document, {
        _tag: "Add",
        path: change.path,
        value: change.value
      }, format)]
    }
    case "Remove": {
      const splices: Array<Splice> = []
      for (const block of blocksUnder(document, change.path)) {
        splices.push({ start: ownedStart(text, block.start), end: blockEnd(document, block), text: "" })
      }
      for (const block of document.blocks) {
        for (const entry of block.entries) {
          if (startsWith(entry.path, change.path)) splices.push(entryRange(text, entry.node))
        }
      }
      return splices
    }
    case "Add": {
      const parent = change.path.slice(0, -1)
      const name = change.path[change.path.length - 1] as string
      if (parent.length === 0 && isTable(change.value)) {
        const section = stringifyToml({ [name]: change.value }, withOptions(format, { trailingNewline: 1, inlineTableStart: 1 }))
        const needsBreak = text.length > 0 && !text.endsWith("\n")
        return [{ start: text.length, end: text.length, text: `${needsBreak ? eol : ""}${text.length > 0 ? eol : ""}${section}` }]
      }
      const { offset, prefix } = insertionPoint(document, parent)
      return [atOffset(offset, `${keyText([...prefix, name] as Array<string>, format)} = ${serialize(change.value, format)}`)]
    }
    case "AppendTables": {
      const last = blocksUnder(document, [...change.path, change.from - 1])[0]
      const offset = last === undefined ? text.length : blockEnd(document, last)
      const header = `[[${keyText(change.path.filter((s): s is string => typeof s === "string"), format)}]]`
      const body = change.values.map((value) =>
        `${header}${eol}${stringifyToml(value, withOptions(format, { inlineTableStart: 0, trailingNewline: 1 }))}`
      ).join(eol)
      if (offset === text.length) {
        const needsBreak = text.length > 0 && !text.endsWith("\n")
        return [{ start: offset, end: offset, text: `${needsBreak ? eol : ""}${eol}${body}` }]
      }
      return [{ start: offset, end: offset, text: `${body}${eol}` }]
    }
    case "TruncateTables": {
      const first = blocksUnder(document, [...change.path, change.length])[0]
      const last = blocksUnder(document, [...change.path, change.was - 1])[0]
      if (first === undefined || last === undefined) return []
      return [{ start: ownedStart(text, first.start), end: blockEnd(document, last), text: "" }]
    }
  }
}

/** Applies splices back to front; overlapping removals merge, anything else overlapping is a bug. */
const applySplices = (text: string, splices: ReadonlyArray<Splice>): string | undefined => {
  const sorted = splices.toSorted((a, b) => a.start - b.start || a.end - b.end)
  const merged: Array<Splice> = []
  for (const splice of sorted) {
    const previous = merged.at(-1)
    if (previous !== undefined && splice.start < previous.end) {
      if (previous.text !== "" || splice.text !== "") return undefined
      merged[merged.length - 1] = { start: previous.start, end: Math.max(previous.end, splice.end), text: "" }
      continue
    }
    merged.push(splice)
  }
  let out = text
  for (let i = merged.length - 1; i >= 0; i--) {
    const splice = merged[i] as Splice
    out = out.slice(0, splice.start) + splice.text + out.slice(splice.end)
  }
  return out
}

/**
 * The text of `document` changed to hold `next`, touching only what differs, with the new text's parsed
 * document (the read-back check parses it anyway). Fails when a value cannot be written or when the result
 * would not read back as `next`.
 */
export const patch = (document: Document, next: JsonTable): Result.Result<Document, ValueProblem> => {
  const changes = diff(document, next)
  if (changes.length === 0) return Result.succeed(document)
  const format = formatFor(document.text)
  const splices: Array<Splice> = []
  for (const change of changes) {
    if (change._tag === "Replace" || change._tag === "Add") {
      const problem = unwritable(change.path, change.value)
      if (problem !== undefined) return Result.fail(problem)
    }
    splices.push(...splicesFor(document, change, format))
  }
  const text = applySplices(document.text, splices)
  const reread = text === undefined ? undefined : parse(text)
  if (reread === undefined || Result.isFailure(reread) || !equal(reread.success.value, next)) {
    return Result.fail({
      _tag: "Value",
      path: [],
      message: "the change could not be written without disturbing the rest of the file; edit the raw text instead"
    })
  }
  return Result.succeed(reread.success)
}

/** Values JSON can carry that TOML cannot write faithfully. */
const unwritable = (path: KeyPath, value: Json): ValueProblem | undefined => {
  if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return { _tag: "Value", path, message: "an integer beyond ±2^53 cannot be written exactly from JSON" }
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = unwritable([...path, i], value[i] as Json)
      if (problem !== undefined) return problem
    }
  } else if (isTable(value)) {
    for (const [key, item] of Object.entries(value)) {
      const problem = unwritable([...path, key], item)
      if (problem !== undefined) return problem
    }
  }
  return undefined
}
