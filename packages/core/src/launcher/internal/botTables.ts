/**
 * The original launcher's emoji and person records over both generations of MaiBot's database. 0.x keeps
 * emoji in `emoji` (epoch-second floats), 1.x as `images` rows whose `image_type` is `EMOJI` (SQLAlchemy
 * stores the enum's name) with SQLAlchemy datetimes, and renamed several `person_info` columns. Each original
 * field maps to the first of its candidate columns the table really has (found with `PRAGMA table_info`), so
 * versions between the two work too; a field without a column reads as `null`.
 */

export const emojiFields = [
  "id",
  "full_path",
  "format",
  "emoji_hash",
  "description",
  "query_count",
  "is_registered",
  "is_banned",
  "emotion",
  "record_time",
  "register_time",
  "usage_count",
  "last_used_time"
] as const
export type EmojiField = typeof emojiFields[number]

export const personFields = [
  "id",
  "person_id",
  "person_name",
  "name_reason",
  "platform",
  "user_id",
  "nickname",
  "impression",
  "short_impression",
  "points",
  "forgotten_points",
  "info_list",
  "know_times",
  "know_since",
  "last_know"
] as const
export type PersonField = typeof personFields[number]

const emojiCandidates: Readonly<Record<EmojiField, ReadonlyArray<string>>> = {
  id: ["id"],
  full_path: ["full_path"],
  format: ["format"],
  emoji_hash: ["emoji_hash", "image_hash"],
  description: ["description"],
  query_count: ["query_count"],
  is_registered: ["is_registered"],
  is_banned: ["is_banned"],
  emotion: ["emotion"],
  record_time: ["record_time"],
  register_time: ["register_time"],
  usage_count: ["usage_count"],
  last_used_time: ["last_used_time"]
}

const personCandidates: Readonly<Record<PersonField, ReadonlyArray<string>>> = {
  id: ["id"],
  person_id: ["person_id"],
  person_name: ["person_name"],
  name_reason: ["name_reason"],
  platform: ["platform"],
  user_id: ["user_id"],
  nickname: ["nickname", "user_nickname"],
  impression: ["impression"],
  short_impression: ["short_impression"],
  // 0.10+ and 1.x renamed the impression points "memory_points".
  points: ["points", "memory_points"],
  forgotten_points: ["forgotten_points"],
  info_list: ["info_list"],
  // 1.x counts acquaintances in `know_counts` and keeps datetimes where 0.x kept epoch seconds.
  know_times: ["know_times", "know_counts"],
  know_since: ["know_since", "first_known_time"],
  last_know: ["last_know", "last_known_time"]
}

export interface ColumnInfo {
  readonly name: string
  readonly type: string
  readonly notNull: boolean
  readonly hasDefault: boolean
}

export interface TableMap<Field extends string> {
  readonly table: string
  /** A constant condition selecting the table's rows that are records of this kind (1.x emoji), or none. */
  readonly only: string | undefined
  readonly columns: ReadonlyArray<ColumnInfo>
  readonly fields: Readonly<Record<Field, string | undefined>>
  /** Columns holding SQL datetimes (`YYYY-MM-DD HH:MM:SS.ffffff`, local time) instead of epoch seconds. */
  readonly datetimes: ReadonlySet<string>
  /** Columns that lead an index (searches may walk them in order). */
  readonly indexed: ReadonlySet<string>
}

const mapFields = <Field extends string>(
  candidates: Readonly<Record<Field, ReadonlyArray<string>>>,
  columns: ReadonlyArray<ColumnInfo>
): Record<Field, string | undefined> => {
  const names = new Set(columns.map((column) => column.name))
  const fields = {} as Record<Field, string | undefined>
  for (const [field, options] of Object.entries(candidates) as Array<[Field, ReadonlyArray<string>]>) {
    fields[field] = options.find((name) => names.has(name))
  }
  return fields
}

const datetimeColumns = (columns: ReadonlyArray<ColumnInfo>): ReadonlySet<string> =>
  new Set(columns.filter((column) => /DATE|TIME/i.test(column.type)).map((column) => column.name))

export type Generation = "0.x" | "1.x"

/** 1.x's emoji rows: the enum's name as SQLAlchemy stores it (and its value, which older rows may hold). */
export const emojiOnly = "image_type IN ('EMOJI', 'emoji')"

export const emojiMap = (
  generation: Generation,
  columns: ReadonlyArray<ColumnInfo>,
  indexed: ReadonlySet<string>
): TableMap<EmojiField> => ({
  table: generation === "1.x" ? "images" : "emoji",
  only: generation === "1.x" ? emojiOnly : undefined,
  columns,
  fields: mapFields(emojiCandidates, columns),
  datetimes: datetimeColumns(columns),
  indexed
})

export const personMap = (columns: ReadonlyArray<ColumnInfo>, indexed: ReadonlySet<string>): TableMap<PersonField> => ({
  table: "person_info",
  only: undefined,
  columns,
  fields: mapFields(personCandidates, columns),
  datetimes: datetimeColumns(columns),
  indexed
})

const pad = (value: number, width = 2) => String(value).padStart(width, "0")

/** Epoch seconds as the local-time datetime text SQLAlchemy writes to SQLite. */
export const toSqlDatetime = (seconds: number): string => {
  const micros = Math.round(seconds * 1_000_000)
  const date = new Date(Math.floor(micros / 1000))
  const fraction = ((micros % 1_000_000) + 1_000_000) % 1_000_000
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${
    pad(date.getMinutes())
  }:${pad(date.getSeconds())}.${pad(fraction, 6)}`
}

/** SQLAlchemy's datetime text (local time) as epoch seconds; anything else passes through. */
export const fromSqlDatetime = (value: unknown): unknown => {
  if (typeof value !== "string") return value
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(value)
  if (match === null) return value
  const [, y, mo, d, h, mi, s, fraction = ""] = match
  const millis = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)).getTime()
  return millis / 1000 + Number(`0.${fraction || "0"}`)
}

/**
 * A row in the original's shape: its fields first (`null` where the table has no column), then every other
 * column under its own name, so what newer MaiBot versions add passes through.
 */
export const toRecord = <Field extends string>(
  map: TableMap<Field>,
  fieldOrder: ReadonlyArray<Field>,
  row: Readonly<Record<string, unknown>>
): Record<string, unknown> => {
  const record: Record<string, unknown> = {}
  const used = new Set<string>()
  for (const field of fieldOrder) {
    const column = map.fields[field]
    if (column === undefined) {
      record[field] = null
      continue
    }
    used.add(column)
    const value = row[column] ?? null
    record[field] = map.datetimes.has(column) ? fromSqlDatetime(value) : value
  }
  for (const [column, value] of Object.entries(row)) {
    if (!used.has(column) && !(column in record)) record[column] = value
  }
  return record
}

/** A value of an original field as its column stores it (epoch seconds become datetimes where needed). */
export const toColumnValue = (map: TableMap<string>, column: string, value: unknown): unknown => {
  if (map.datetimes.has(column) && typeof value === "number") return toSqlDatetime(value)
  if (column === "know_counts" && typeof value === "number") return Math.round(value)
  return value
}

/** `%x%` for LIKE with `\` as the escape character: the search text matches literally. */
export const likePattern = (text: string): string => `%${text.replace(/[\\%_]/g, "\\$&")}%`
