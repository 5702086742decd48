/**
 * The statements `BotDatabase` runs: filters, pages, single records, inserts, updates and deletes, all
 * parameterised, over whichever generation's table a `Connection` found.
 */
import { Effect, type Scope } from "effect"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"
import type { EmojiFilter, Generation, Page, PageResult, PersonFilter } from "../BotDatabase.ts"
import { BotDatabaseError, BotDatabaseUnavailable, BotRecordNotFound, BotRecordRejected } from "../BotDatabaseError.ts"
import * as Tables from "./botTables.ts"

/** Pages are capped at this many records. */
export const maxLimit = 1000

/** One open bot database: its client, its generation and how its tables map onto the original's fields. */
export interface Connection {
  readonly identity: string
  readonly scope: Scope.Closeable
  readonly sql: SqlClient.SqlClient
  readonly generation: Generation
  readonly emoji: Tables.TableMap<Tables.EmojiField>
  readonly person: Tables.TableMap<Tables.PersonField> | undefined
}

const nonEmpty = (value: string | null | undefined): value is string => typeof value === "string" && value !== ""

export const unavailable = (instanceId: string, path: string, reason: BotDatabaseUnavailable["reason"], detail: string) =>
  new BotDatabaseUnavailable({ instanceId, path, reason, detail })

export const failed = (instanceId: string, operation: string) => (cause: SqlError) =>
  new BotDatabaseError({ instanceId, operation, reason: cause.message, cause })

export const whereOf = (sql: SqlClient.SqlClient, map: Tables.TableMap<string>, clauses: Array<Statement.Fragment>) => {
  const all = map.only === undefined ? clauses : [sql.literal(map.only), ...clauses]
  return all.length === 0 ? sql.literal("1 = 1") : sql.and(all)
}

export const never = (sql: SqlClient.SqlClient) => sql.literal("0 = 1")

export const emojiClauses = (sql: SqlClient.SqlClient, map: Tables.TableMap<Tables.EmojiField>, filter: EmojiFilter) => {
  const clauses: Array<Statement.Fragment> = []
  const equals = (field: Tables.EmojiField, value: unknown) => {
    const column = map.fields[field]
    clauses.push(column === undefined ? never(sql) : sql`${sql(column)} = ${value}`)
  }
  if (nonEmpty(filter.emotion)) equals("emotion", filter.emotion)
  if (nonEmpty(filter.format)) equals("format", filter.format)
  if (filter.is_registered !== null && filter.is_registered !== undefined) equals("is_registered", filter.is_registered)
  if (filter.is_banned !== null && filter.is_banned !== undefined) equals("is_banned", filter.is_banned)
  if (nonEmpty(filter.description_like)) {
    const column = map.fields.description
    clauses.push(
      column === undefined
        ? never(sql)
        : sql`${sql(column)} LIKE ${Tables.likePattern(filter.description_like)} ESCAPE '\\'`
    )
  }
  return clauses
}

export const personClauses = (sql: SqlClient.SqlClient, map: Tables.TableMap<Tables.PersonField>, filter: PersonFilter) => {
  const clauses: Array<Statement.Fragment> = []
  const like = (field: Tables.PersonField, text: string) => {
    const column = map.fields[field]
    clauses.push(column === undefined ? never(sql) : sql`${sql(column)} LIKE ${Tables.likePattern(text)} ESCAPE '\\'`)
  }
  if (nonEmpty(filter.platform)) {
    const column = map.fields.platform
    clauses.push(column === undefined ? never(sql) : sql`${sql(column)} = ${filter.platform}`)
  }
  if (nonEmpty(filter.person_name_like)) like("person_name", filter.person_name_like)
  if (nonEmpty(filter.nickname_like)) like("nickname", filter.nickname_like)
  if (nonEmpty(filter.impression_like)) like("impression", filter.impression_like)
  if (filter.has_person_name !== null && filter.has_person_name !== undefined) {
    const column = map.fields.person_name
    if (column === undefined) {
      if (filter.has_person_name) clauses.push(never(sql))
    } else {
      clauses.push(
        filter.has_person_name
          ? sql`(${sql(column)} IS NOT NULL AND ${sql(column)} != '')`
          : sql`(${sql(column)} IS NULL OR ${sql(column)} = '')`
      )
    }
  }
  return clauses
}

export const checkPage = (instanceId: string, kind: "emoji" | "person", page: Page) =>
  page.limit < 0 || page.offset < 0 || !Number.isInteger(page.limit) || !Number.isInteger(page.offset)
    ? Effect.fail(
      new BotRecordRejected({
        instanceId,
        kind,
        reason: "bad-page",
        detail: `limit and offset must be non-negative integers (got ${page.limit}, ${page.offset})`
      })
    )
    : Effect.succeed({ limit: Math.min(page.limit, maxLimit), offset: page.offset })

/** Matches up to this many are paged in memory after one scan. */
const probeLimit = 2000

/** SQLite's storage classes in its own order: NULL < numbers < text < blobs. */
const storageRank = (value: unknown): number =>
  value === null || value === undefined ? 0 : typeof value === "number" || typeof value === "bigint" ? 1 : typeof value === "string" ? 2 : 3

/** `ORDER BY k DESC, id DESC` as SQLite sorts it (text by code point, as its BINARY collation does for UTF-8). */
const newestFirst = (a: { readonly id: number; readonly k: unknown }, b: { readonly id: number; readonly k: unknown }) => {
  const rank = storageRank(b.k) - storageRank(a.k)
  if (rank !== 0) return rank
  if (a.k !== b.k && a.k !== null && a.k !== undefined) {
    if (typeof a.k === "string" && typeof b.k === "string") return b.k < a.k ? -1 : 1
    if (typeof a.k === "number" && typeof b.k === "number") return b.k - a.k
  }
  return b.id - a.id
}

export const pageOf = <Field extends string>(
  instanceId: string,
  kind: "emoji" | "person",
  connection: Connection,
  map: Tables.TableMap<Field>,
  fields: ReadonlyArray<Field>,
  clauses: Array<Statement.Fragment>,
  page: Page,
  recentField: Field
) =>
  Effect.gen(function*() {
    const { sql } = connection
    const { limit, offset } = yield* checkPage(instanceId, kind, page)
    const orderColumn = page.order === "recent" ? map.fields[recentField] ?? "id" : "id"
    const where = whereOf(sql, map, clauses)
    const counting = page.count !== false
    const result = (rows: ReadonlyArray<Record<string, unknown>>, total: number | null): PageResult => ({
      records: rows.map((row) => Tables.toRecord(map, fields, row)),
      total,
      limit,
      offset
    })
    if (counting) {
      // One scan collects the (key, id) pairs of a few matches; when that is all of them, the count and the page
      // come from it and a second pass over the table is saved.
      const probe = yield* sql<{ readonly id: number; readonly k: unknown }>`SELECT id, ${
        sql(orderColumn)
      } AS k FROM ${sql(map.table)} WHERE ${where} LIMIT ${probeLimit + 1}`
      if (probe.length <= probeLimit) {
        const ids = probe.toSorted(newestFirst).slice(offset, offset + limit).map((row) => row.id)
        if (ids.length === 0) return result([], probe.length)
        const rows = yield* sql<Record<string, unknown>>`SELECT * FROM ${sql(map.table)}
          WHERE id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`
        const byId = new Map(rows.map((row) => [row.id, row] as const))
        return result(ids.flatMap((id) => {
          const row = byId.get(id)
          return row === undefined ? [] : [row]
        }), probe.length)
      }
    }
    const counted = counting
      ? yield* sql<{ readonly total: number }>`SELECT COUNT(*) AS total FROM ${sql(map.table)} WHERE ${where}`
      : []
    const total = counting ? counted[0]?.total ?? 0 : null
    // The page is chosen by row id first, so the sort carries (key, id) pairs instead of whole rows. Walking the
    // order column's index pays when matches are dense (few rows walked per match); for sparse matches it would
    // visit most of the table in index order, so they are scanned and sorted instead (`+column` hides the index).
    const walk = orderColumn === "id" ||
      (map.indexed.has(orderColumn) && (total === null || total > 4 * (offset + limit)))
    const order = orderColumn === "id"
      ? sql`id DESC`
      : walk
      ? sql`${sql(orderColumn)} DESC, id DESC`
      : sql`+${sql(orderColumn)} DESC, id DESC`
    if (total !== null && offset >= total) return result([], total)
    const rows = yield* sql<Record<string, unknown>>`SELECT * FROM ${sql(map.table)} WHERE id IN (
        SELECT id FROM ${sql(map.table)} WHERE ${where} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}
      ) ORDER BY ${orderColumn === "id" ? sql`id DESC` : sql`${sql(orderColumn)} DESC, id DESC`}`
    return result(rows, total)
  }).pipe(Effect.mapError((error) => error._tag === "SqlError" ? failed(instanceId, "search")(error) : error))

export const countOf = (instanceId: string, connection: Connection, map: Tables.TableMap<string>, clauses: Array<Statement.Fragment>) => {
  const { sql } = connection
  return sql<{ readonly total: number }>`SELECT COUNT(*) AS total FROM ${sql(map.table)} WHERE ${whereOf(sql, map, clauses)}`
    .pipe(Effect.map((rows) => rows[0]?.total ?? 0), Effect.mapError(failed(instanceId, "count")))
}

export const oneBy = <Field extends string>(
  instanceId: string,
  kind: "emoji" | "person",
  connection: Connection,
  map: Tables.TableMap<Field>,
  fields: ReadonlyArray<Field>,
  key: string,
  field: Field,
  value: string | number
) => {
  const { sql } = connection
  const column = map.fields[field]
  if (column === undefined) {
    return Effect.fail(new BotRecordNotFound({ instanceId, kind, key, value: String(value) }))
  }
  return sql<Record<string, unknown>>`SELECT * FROM ${sql(map.table)} WHERE ${
    whereOf(sql, map, [sql`${sql(column)} = ${value}`])
  } LIMIT 1`.pipe(
    Effect.mapError(failed(instanceId, "get")),
    Effect.flatMap((rows) =>
      rows[0] === undefined
        ? Effect.fail(new BotRecordNotFound({ instanceId, kind, key, value: String(value) }))
        : Effect.succeed(Tables.toRecord(map, fields, rows[0]))
    )
  )
}

/** Maps original fields to columns; fields without a column are reported, not written. */
export const columnsFor = (map: Tables.TableMap<string>, values: Readonly<Record<string, unknown>>) => {
  const record: Record<string, unknown> = {}
  const ignored: Array<string> = []
  for (const [field, value] of Object.entries(values)) {
    if (value === undefined) continue
    const column = map.fields[field]
    if (column === undefined) {
      if (value !== null && value !== "") ignored.push(field)
      continue
    }
    record[column] = Tables.toColumnValue(map, column, value)
  }
  return { record, ignored }
}

/** Zero values for required columns a newer MaiBot added and the request cannot know about. */
export const withRequiredDefaults = (map: Tables.TableMap<string>, record: Record<string, unknown>, nowSeconds: number) => {
  for (const column of map.columns) {
    if (column.name === "id" || column.name in record || !column.notNull || column.hasDefault) continue
    record[column.name] = map.datetimes.has(column.name)
      ? Tables.toSqlDatetime(nowSeconds)
      : /INT|BOOL|REAL|FLOA|DOUB|NUM/i.test(column.type)
      ? 0
      : ""
  }
  return record
}

export const insert = (instanceId: string, connection: Connection, map: Tables.TableMap<string>, record: Record<string, unknown>) => {
  const { sql } = connection
  return sql<{ readonly id: number }>`INSERT INTO ${sql(map.table)} ${sql.insert(record)} RETURNING id`.pipe(
    Effect.map((rows) => rows[0]?.id ?? null),
    Effect.mapError(failed(instanceId, "create"))
  )
}

export const updateWhere = (
  instanceId: string,
  kind: "emoji" | "person",
  connection: Connection,
  map: Tables.TableMap<string>,
  set: Statement.Fragment,
  keyColumn: string,
  key: string,
  value: string | number
) => {
  const { sql } = connection
  return sql<{ readonly id: number }>`UPDATE ${sql(map.table)} SET ${set} WHERE ${
    whereOf(sql, map, [sql`${sql(keyColumn)} = ${value}`])
  } RETURNING id`.pipe(
    Effect.mapError(failed(instanceId, "update")),
    Effect.flatMap((rows) =>
      rows[0] === undefined
        ? Effect.fail(new BotRecordNotFound({ instanceId, kind, key, value: String(value) }))
        : Effect.succeed(rows[0].id)
    )
  )
}

export const deleteWhere = (
  instanceId: string,
  kind: "emoji" | "person",
  connection: Connection,
  map: Tables.TableMap<string>,
  keyColumn: string,
  key: string,
  value: string | number
) => {
  const { sql } = connection
  return sql<{ readonly id: number }>`DELETE FROM ${sql(map.table)} WHERE ${
    whereOf(sql, map, [sql`${sql(keyColumn)} = ${value}`])
  } RETURNING id`.pipe(
    Effect.mapError(failed(instanceId, "delete")),
    Effect.flatMap((rows) =>
      rows[0] === undefined ? Effect.fail(new BotRecordNotFound({ instanceId, kind, key, value: String(value) })) : Effect.void
    )
  )
}

export const nothingToUpdate = (instanceId: string, kind: "emoji" | "person", ignored: ReadonlyArray<string>) =>
  new BotRecordRejected({
    instanceId,
    kind,
    reason: "nothing-to-update",
    detail: ignored.length === 0
      ? "no field to update"
      : `this database has no column for ${ignored.join(", ")}`
  })

