/**
 * The statements `BotDatabase` runs: filters, pages, single records, inserts, updates and deletes, all
 * parameterised, over whichever generation's table a `Connection` found.
 */
import { Effect, Option, type Scope } from "effect"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"
import type { EmojiFilter, Generation, Page, PageResult, PersonFilter } from "../BotDatabase.ts"
import { BotDatabaseError, BotDatabaseUnavailable, BotRecordNotFound, BotRecordRejected } from "../BotDatabaseError.ts"
import * as Tables from "./botTables.ts"
import type * as ReadThread from "./readThread.ts"

/** Pages are capped at this many records. */
export const maxLimit = 1000

/** One open bot database: its client, its generation and how its tables map onto the original's fields. */
export interface Connection {
  /** The database file, symlinks resolved. */
  readonly file: string
  /** The file's version: its path, device and inode. */
  readonly identity: string
  readonly scope: Scope.Closeable
  readonly sql: SqlClient.SqlClient
  readonly generation: Generation
  readonly emoji: Tables.TableMap<Tables.EmojiField>
  readonly person: Tables.TableMap<Tables.PersonField> | undefined
  readonly readThread: ReadThread.ReadThread
  /** Passes over at least this many ids are split with the read thread. */
  readonly parallelScanRows: number
}

const nonEmpty = (value: string | null | undefined): value is string => typeof value === "string" && value !== ""

export const unavailable = (instanceId: string, path: string, reason: BotDatabaseUnavailable["reason"], detail: string) =>
  new BotDatabaseUnavailable({ instanceId, path, reason, detail })

export const failed = (instanceId: string, operation: string) => (cause: SqlError) =>
  new BotDatabaseError({ instanceId, operation, reason: cause.message, cause })

export const whereOf = (sql: SqlClient.SqlClient, map: Tables.TableMap<string>, clauses: Array<Statement.Fragment>) => {
  // The generation's own condition (1.x: which images are emoji) compares text, so it goes last, where SQLite
  // evaluates it only for rows the caller's filters kept.
  const all = map.only === undefined ? clauses : [...clauses, sql.literal(map.only)]
  return all.length === 0 ? sql.literal("1 = 1") : sql.and(all)
}

export const never = (sql: SqlClient.SqlClient) => sql.literal("0 = 1")

/**
 * `column LIKE '%text%'`, the original's substring filter. SQLite's LIKE ignores case in ASCII letters only, so
 * for text without them (Chinese, digits) it finds exactly what the faster `instr` finds.
 */
const contains = (sql: SqlClient.SqlClient, column: string, text: string) =>
  /[A-Za-z]/.test(text)
    ? sql`${sql(column)} LIKE ${Tables.likePattern(text)} ESCAPE '\\'`
    : sql`instr(${sql(column)}, ${text}) > 0`

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
    clauses.push(column === undefined ? never(sql) : contains(sql, column, filter.description_like))
  }
  return clauses
}

export const personClauses = (sql: SqlClient.SqlClient, map: Tables.TableMap<Tables.PersonField>, filter: PersonFilter) => {
  const clauses: Array<Statement.Fragment> = []
  const like = (field: Tables.PersonField, text: string) => {
    const column = map.fields[field]
    clauses.push(column === undefined ? never(sql) : contains(sql, column, text))
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

/** Pages ending up to this far in are found in one pass; further ones are counted, then sorted by SQLite. */
const onePassLimit = 2000

/** Intruders (see `pageOf`) up to this many are merged in memory; more are left to SQLite's sort. */
const intruderLimit = 2000

type Keyed = { readonly id: number; readonly k: unknown }

/** SQLite's storage classes in its own order: NULL < numbers < text < blobs. */
const storageRank = (value: unknown): number =>
  value === null || value === undefined ? 0 : typeof value === "number" || typeof value === "bigint" ? 1 : typeof value === "string" ? 2 : 3

/** `ORDER BY k DESC, id DESC` as SQLite sorts it (text by code point, as its BINARY collation does for UTF-8). */
const newestFirst = (a: Keyed, b: Keyed) => {
  const rank = storageRank(b.k) - storageRank(a.k)
  if (rank !== 0) return rank
  if (a.k !== b.k && a.k !== null && a.k !== undefined) {
    if (typeof a.k === "string" && typeof b.k === "string") return b.k < a.k ? -1 : 1
    if (typeof a.k === "number" && typeof b.k === "number") return b.k - a.k
  }
  return b.id - a.id
}

/** A table's lowest and highest row id; undefined when it is empty. */
type IdRange = { readonly low: number; readonly high: number } | undefined

const idRangeOf = (connection: Connection, table: Statement.Identifier) =>
  Effect.map(
    // Each in its own subquery: SQLite reads a lone min() or max() off the end of the table's tree, but scans
    // the whole table for the two together.
    connection.sql<{ readonly low: number | null; readonly high: number | null }>`SELECT
      (SELECT min(id) FROM ${table}) AS low, (SELECT max(id) FROM ${table}) AS high`,
    ([row]): IdRange => row === undefined || row.low === null || row.high === null ? undefined : { low: row.low, high: row.high }
  )

/**
 * Where a pass over the ids below `below` (every id when it is undefined) splits between the read thread (the
 * ids below the middle) and this one (the rest); undefined when the span is shorter than `parallelScanRows`. The
 * thread's snapshot is its own, taken in the same milliseconds: only the bot changing older rows in those
 * milliseconds could tell the two apart, and a new row (a higher id) always falls in this thread's half.
 */
const middleOf = (connection: Connection, ids: IdRange, below: number | undefined): number | undefined => {
  if (ids === undefined) return undefined
  const upper = below ?? ids.high + 1
  return upper - ids.low < connection.parallelScanRows ? undefined : ids.low + Math.floor((upper - ids.low) / 2)
}

/**
 * One row of counts (aggregates that add up) over the rows of `table` matching `where` whose ids are below
 * `below` (every row when it is undefined), in halves with the read thread over a large table.
 */
const countsOf = <Counts extends Readonly<Record<string, number>>>(
  connection: Connection,
  table: Statement.Identifier,
  counts: Statement.Fragment,
  where: Statement.Fragment,
  below: number | undefined,
  ids: IdRange
) =>
  Effect.gen(function*() {
    const { sql } = connection
    const over = (range: Statement.Fragment) => sql<Counts>`SELECT ${counts} FROM ${table} WHERE ${where} AND ${range}`
    const first = (rows: ReadonlyArray<Counts>) => rows[0] as Counts
    const belowClause = below === undefined ? sql.literal("1 = 1") : sql`id < ${below}`
    const middle = middleOf(connection, ids, below)
    if (middle === undefined) return first(yield* over(belowClause))
    const older = over(sql`id < ${middle}`)
    const olderThere = yield* connection.readThread.first(connection.file, connection.identity, older.compile())
    const newer = first(yield* over(sql`id >= ${middle} AND ${belowClause}`))
    const olderCounts = (Option.getOrUndefined(yield* olderThere) as Counts | undefined) ?? first(yield* older)
    return Object.fromEntries(
      Object.entries(newer).map(([name, value]) => [name, Number(value) + Number(olderCounts[name] ?? 0)])
    ) as Counts
  })

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
    const key = sql(orderColumn)
    const where = whereOf(sql, map, clauses)
    const table = sql(map.table)
    const wanted = offset + limit
    const result = (rows: ReadonlyArray<Record<string, unknown>>, total: number | null): PageResult => ({
      records: rows.map((row) => Tables.toRecord(map, fields, row)),
      total,
      limit,
      offset
    })

    /** The rows of these ids, in this order. */
    const rowsOf = (ids: ReadonlyArray<number>) =>
      ids.length === 0 ? Effect.succeed([]) : Effect.map(
        sql<Record<string, unknown>>`SELECT * FROM ${table} WHERE id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
        (rows) => {
          const byId = new Map(rows.map((row) => [row.id, row] as const))
          return ids.flatMap((id) => {
            const row = byId.get(id)
            return row === undefined ? [] : [row]
          })
        }
      )

    const sortedPage = (total: number | null) => {
      // The page is chosen by row id first, so the sort carries (key, id) pairs instead of whole rows. Walking the
      // order column's index pays when matches are dense (few rows walked per match); for sparse matches it would
      // visit most of the table in index order, so they are scanned and sorted instead (`+column` hides the index).
      const walk = orderColumn === "id" || (map.indexed.has(orderColumn) && (total === null || total > 4 * wanted))
      const order = orderColumn === "id" ? sql`id DESC` : walk ? sql`${key} DESC, id DESC` : sql`+${key} DESC, id DESC`
      return sql<Record<string, unknown>>`SELECT * FROM ${table} WHERE id IN (
          SELECT id FROM ${table} WHERE ${where} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}
        ) ORDER BY ${orderColumn === "id" ? sql`id DESC` : sql`${key} DESC, id DESC`}`
    }

    /**
     * The `wanted` matches with the highest ids (all of them when there are fewer). Over a large table the read
     * thread walks the older half while this thread walks the newer one: when the matches are sparse, the walk
     * is most of the pass; when they are dense, the older half is not needed and its walk stops early.
     */
    const newestMatches = (ids: IdRange) => Effect.gen(function*() {
      const walk = (range: Statement.Fragment) =>
        sql<Keyed>`SELECT id, ${key} AS k FROM ${table} WHERE ${where} AND ${range} ORDER BY id DESC LIMIT ${wanted}`
      const middle = middleOf(connection, ids, undefined)
      if (middle === undefined) return yield* walk(sql.literal("1 = 1"))
      const older = walk(sql`id < ${middle}`)
      const olderThere = yield* connection.readThread.all(connection.file, connection.identity, older.compile())
      const newer = yield* walk(sql`id >= ${middle}`)
      if (newer.length >= wanted) return newer
      const olderWalked = (Option.getOrUndefined(yield* olderThere) as ReadonlyArray<Keyed> | undefined) ?? (yield* older)
      return newer.concat(olderWalked).slice(0, wanted)
    })

    // One pass over the table in all but unusual cases. The walk takes the matches with the highest ids; when they
    // are all the matches, the page comes from them. Otherwise the rest of the table is counted in the same pass
    // that looks for intruders: older rows (lower ids) whose key ranks above the `wanted`-th walked match, which is
    // all they must do to belong on the page, since they lose every tie on id. Bots record newer emoji and people
    // with later times, so there are usually none and the walked matches hold the page; when there are, a few are
    // merged and many are left to SQLite's sort.
    const onePass = Effect.gen(function*() {
      const ids = yield* idRangeOf(connection, table)
      const walked = yield* newestMatches(ids)
      const ranked = walked.toSorted(newestFirst)
      if (walked.length < wanted) {
        return result(yield* rowsOf(ranked.slice(offset, wanted).map((row) => row.id)), walked.length)
      }
      const oldest = (walked[walked.length - 1] as Keyed).id
      const last = (ranked[ranked.length - 1] as Keyed).k
      // `+column` has no affinity, so `>` compares the way `ORDER BY` sorts: no conversions, NULL lowest.
      const outranks = last === null || last === undefined ? sql`+${key} IS NOT NULL` : sql`+${key} > ${last}`
      // With an index on the key, the intruders are looked up in it and the pass only counts; without one, the
      // pass counts them too.
      const lookedUp = orderColumn === "id" || (map.indexed.has(orderColumn) && last !== null && last !== undefined)
      const rest = yield* countsOf<{ readonly total: number; readonly intruders?: number }>(
        connection,
        table,
        lookedUp ? sql`COUNT(*) AS total` : sql`COUNT(*) AS total, COUNT(*) FILTER (WHERE ${outranks}) AS intruders`,
        where,
        oldest,
        ids
      )
      const total = wanted + rest.total
      const lookUpIntruders = Effect.map(
        sql<{ readonly intruders: number }>`SELECT COUNT(*) AS intruders FROM ${table}
          WHERE ${key} > ${last} AND ${where} AND +id < ${oldest}`,
        (rows) => rows[0]?.intruders ?? 0
      )
      const intruders = !lookedUp ? rest.intruders ?? 0 : orderColumn === "id" ? 0 : yield* lookUpIntruders
      if (intruders > intruderLimit) return result(yield* sortedPage(total), total)
      const merged = intruders === 0 ? ranked : ranked.concat(
        yield* sql<Keyed>`SELECT id, ${key} AS k FROM ${table} WHERE ${where} AND id < ${oldest} AND ${outranks}`
      ).toSorted(newestFirst)
      return result(yield* rowsOf(merged.slice(offset, wanted).map((row) => row.id)), total)
    })

    const countThenSort = Effect.gen(function*() {
      const total = page.count === false
        ? null
        : (yield* countsOf<{ readonly total: number }>(
          connection,
          table,
          sql`COUNT(*) AS total`,
          where,
          undefined,
          yield* idRangeOf(connection, table)
        )).total
      if (total !== null && offset >= total) return result([], total)
      return result(yield* sortedPage(total), total)
    })

    // One read transaction, so what this thread reads comes from one snapshot while the bot writes (over a large
    // table, the read thread's half comes from its own; see `middleOf`).
    return yield* sql.withTransaction(
      page.count !== false && wanted > 0 && wanted <= onePassLimit ? onePass : countThenSort
    )
  }).pipe(Effect.mapError((error) => error._tag === "SqlError" ? failed(instanceId, "search")(error) : error))

export const countOf = (instanceId: string, connection: Connection, map: Tables.TableMap<string>, clauses: Array<Statement.Fragment>) => {
  const { sql } = connection
  const table = sql(map.table)
  return Effect.flatMap(
    idRangeOf(connection, table),
    (ids) => countsOf<{ readonly total: number }>(connection, table, sql`COUNT(*) AS total`, whereOf(sql, map, clauses), undefined, ids)
  ).pipe(Effect.map((counts) => counts.total), Effect.mapError(failed(instanceId, "count")))
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

