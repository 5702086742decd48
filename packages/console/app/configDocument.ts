/**
 * A config file as the launcher's routes carry it (TOML or `.env` read into JSON, `launcher-api.md` §1.7), laid
 * out for a form: sections (tables) of fields, each with the type its current value has, and the difference
 * between two versions of the document as a list of changed paths.
 */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
export type Document = { readonly [key: string]: Json }

export type FieldKind = "boolean" | "number" | "string" | "list" | "json"

export interface Field {
  readonly path: ReadonlyArray<string>
  readonly key: string
  readonly kind: FieldKind
}

export interface Section {
  /** `[]` for the top-level keys that are not tables. */
  readonly path: ReadonlyArray<string>
  readonly fields: ReadonlyArray<Field>
}

const isTable = (value: Json): value is { readonly [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

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

/** Tables become sections (nested tables flattened to dotted section names); everything else a field. */
export const sectionsOf = (document: Document): ReadonlyArray<Section> => {
  const sections: Array<Section> = []
  const visit = (table: { readonly [key: string]: Json }, path: ReadonlyArray<string>) => {
    const fields: Array<Field> = []
    const nested: Array<[string, { readonly [key: string]: Json }]> = []
    for (const [key, value] of Object.entries(table)) {
      if (isTable(value)) nested.push([key, value])
      else fields.push({ path: [...path, key], key, kind: kindOf(value) })
    }
    if (fields.length > 0 || path.length > 0) sections.push({ path, fields })
    for (const [key, value] of nested) visit(value, [...path, key])
  }
  visit(document, [])
  return sections
}

export const getAt = (document: Json, path: ReadonlyArray<string>): Json => {
  let current: Json = document
  for (const key of path) current = isTable(current) ? current[key] ?? null : null
  return current
}

/** A copy of `document` with `value` at `path`. */
export const setAt = (document: Document, path: ReadonlyArray<string>, value: Json): Document => {
  const [head, ...rest] = path
  if (head === undefined) return document
  const current = document[head]
  return { ...document, [head]: rest.length === 0 ? value : setAt(isTable(current ?? null) ? (current as Document) : {}, rest, value) }
}

export interface Change {
  readonly path: string
  readonly before: string
  readonly after: string
}

const show = (value: Json | undefined) => (value === undefined ? "∅" : JSON.stringify(value))

/** Every leaf that differs between `before` and `after`, by dotted path. */
export const diff = (before: Json | undefined, after: Json | undefined, path: ReadonlyArray<string> = []): ReadonlyArray<Change> => {
  if (before !== undefined && after !== undefined && isTable(before) && isTable(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    return keys.flatMap((key) => diff(before[key], after[key], [...path, key]))
  }
  return show(before) === show(after) ? [] : [{ path: path.join("."), before: show(before), after: show(after) }]
}
