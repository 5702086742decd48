/**
 * The emoji and person records in a MaiBot instance's own database, `<instance>/data/MaiBot.db`, in the
 * original launcher's field names over both generations (0.x `emoji`, 1.x `images` rows of type emoji; see
 * `internal/botTables.ts`). The bot keeps running while MaiKit reads and writes: one connection per instance,
 * opened on first use without changing the journal mode (both generations run WAL), a busy timeout instead of
 * failing on the bot's lock, one statement per transaction, every statement parameterised and prepared once per
 * connection (the SQLite client's statement cache). A search over a large table reads it in halves, the older
 * one on a second thread with its own connection (`internal/readThread.ts`). MaiKit never creates
 * the file. With `BotConfigFiles`, this is the architecture's ResourceStore.
 */
import { Clock, Context, Effect, Exit, Layer, Option, Scope, Semaphore } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import type * as Statement from "effect/sql/Statement"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as SqliteClient from "../platform/SqliteClient.ts"
import { BotDatabaseError, BotDatabaseUnavailable, BotRecordNotFound, BotRecordRejected } from "./BotDatabaseError.ts"
import { InstanceRegistry } from "./InstanceRegistry.ts"
import type { InstanceNotFound, InstanceRegistryError } from "./InstanceRegistryError.ts"
import * as BotLayout from "./internal/botLayout.ts"
import * as ReadThread from "./internal/readThread.ts"
import {
  unavailable,
  failed,
  emojiClauses,
  personClauses,
  pageOf,
  countOf,
  oneBy,
  columnsFor,
  withRequiredDefaults,
  insert,
  updateWhere,
  deleteWhere,
  nothingToUpdate,
  type Connection
} from "./internal/botQueries.ts"
import * as Tables from "./internal/botTables.ts"

export { BotDatabaseError, BotDatabaseUnavailable, BotRecordNotFound, BotRecordRejected } from "./BotDatabaseError.ts"

export type Generation = Tables.Generation
export type DatabaseRecord = Readonly<Record<string, unknown>>

export interface EmojiFilter {
  readonly emotion?: string | null | undefined
  readonly format?: string | null | undefined
  readonly is_registered?: number | null | undefined
  readonly is_banned?: number | null | undefined
  readonly description_like?: string | null | undefined
}

export interface PersonFilter {
  readonly platform?: string | null | undefined
  readonly person_name_like?: string | null | undefined
  readonly nickname_like?: string | null | undefined
  readonly impression_like?: string | null | undefined
  readonly has_person_name?: boolean | null | undefined
}

export interface Page {
  readonly limit: number
  readonly offset: number
  /** `recent`: the original's search order (newest first); `id`: its batch order (highest id first). */
  readonly order: "recent" | "id"
  /** Whether to count every match (the original's search does, its batch does not). Default true. */
  readonly count?: boolean | undefined
}

export interface PageResult {
  readonly records: ReadonlyArray<DatabaseRecord>
  /** Every match, or `null` when the page did not ask for the count. */
  readonly total: number | null
  /** The limit applied (requests above `maxLimit` are capped). */
  readonly limit: number
  readonly offset: number
}

export interface NewEmoji {
  readonly full_path: string
  readonly format: string
  readonly emoji_hash: string
  readonly description?: string | null | undefined
  readonly emotion?: string | null | undefined
  readonly record_time?: number | null | undefined
}

export type EmojiUpdate = Partial<Record<
  "full_path" | "format" | "emoji_hash" | "description" | "emotion" | "is_registered" | "is_banned",
  string | number | null | undefined
>>

export interface NewPerson {
  readonly person_id: string
  readonly platform: string
  readonly user_id: string
  readonly [field: string]: string | number | null | undefined
}

export type PersonUpdate = Readonly<Record<string, string | number | null | undefined>>

export interface Interaction {
  readonly impression_update?: string | null | undefined
  readonly short_impression_update?: string | null | undefined
  readonly points_update?: string | null | undefined
}

/** What a write did; `ignored` lists submitted fields this generation's table has no column for. */
export interface WriteOutcome {
  readonly id: number | null
  readonly ignored: ReadonlyArray<string>
}

export interface DatabaseInfo {
  readonly instance_id: string
  readonly instance_name: string
  readonly instance_path: string
  /** From the database's tables, else from the checkout (`template/`, `pyproject.toml`); `null` when neither tells. */
  readonly generation: Generation | null
  readonly database: { readonly path: string; readonly exists: boolean; readonly valid: boolean; readonly size: number }
  readonly data_folder: { readonly path: string; readonly exists: boolean }
}

export { maxLimit } from "./internal/botQueries.ts"

export type OpenError = InstanceNotFound | InstanceRegistryError | BotDatabaseUnavailable
type Failure = OpenError | BotDatabaseError

export interface Service {
  readonly info: (instanceId: string) => Effect.Effect<DatabaseInfo, InstanceNotFound | InstanceRegistryError>
  readonly infoAll: Effect.Effect<
    ReadonlyArray<DatabaseInfo | { readonly instance_id: string; readonly error: string }>,
    InstanceRegistryError
  >
  readonly emoji: {
    readonly create: (instanceId: string, emoji: NewEmoji) => Effect.Effect<WriteOutcome, Failure>
    readonly get: (instanceId: string, id: number) => Effect.Effect<DatabaseRecord, Failure | BotRecordNotFound>
    readonly getByHash: (instanceId: string, hash: string) => Effect.Effect<DatabaseRecord, Failure | BotRecordNotFound>
    readonly search: (
      instanceId: string,
      filter: EmojiFilter,
      page: Page
    ) => Effect.Effect<PageResult, Failure | BotRecordRejected>
    readonly count: (instanceId: string, filter: EmojiFilter) => Effect.Effect<number, Failure>
    readonly update: (
      instanceId: string,
      id: number,
      update: EmojiUpdate
    ) => Effect.Effect<WriteOutcome, Failure | BotRecordNotFound | BotRecordRejected>
    readonly remove: (instanceId: string, id: number) => Effect.Effect<void, Failure | BotRecordNotFound>
    /** `usage_count + 1` (where the table counts uses) and `last_used_time = now`. */
    readonly recordUsage: (instanceId: string, id: number) => Effect.Effect<WriteOutcome, Failure | BotRecordNotFound>
    readonly recordQuery: (instanceId: string, id: number) => Effect.Effect<void, Failure | BotRecordNotFound>
  }
  readonly person: {
    readonly create: (instanceId: string, person: NewPerson) => Effect.Effect<WriteOutcome, Failure | BotRecordRejected>
    readonly getByRecordId: (instanceId: string, id: number) => Effect.Effect<DatabaseRecord, Failure | BotRecordNotFound>
    readonly getByPersonId: (instanceId: string, personId: string) => Effect.Effect<DatabaseRecord, Failure | BotRecordNotFound>
    readonly getByPlatform: (
      instanceId: string,
      platform: string,
      userId: string
    ) => Effect.Effect<DatabaseRecord, Failure | BotRecordNotFound>
    readonly search: (
      instanceId: string,
      filter: PersonFilter,
      page: Page
    ) => Effect.Effect<PageResult, Failure | BotRecordRejected>
    readonly count: (instanceId: string, filter: PersonFilter) => Effect.Effect<number, Failure>
    readonly update: (
      instanceId: string,
      personId: string,
      update: PersonUpdate
    ) => Effect.Effect<WriteOutcome, Failure | BotRecordNotFound | BotRecordRejected>
    readonly remove: (instanceId: string, personId: string) => Effect.Effect<void, Failure | BotRecordNotFound>
    /** `last_know = now` and each non-null update (an empty string overwrites). */
    readonly interaction: (
      instanceId: string,
      personId: string,
      interaction: Interaction
    ) => Effect.Effect<WriteOutcome, Failure | BotRecordNotFound>
  }
}

export interface Options {
  /** Milliseconds a statement waits for the bot's lock. Default 3000 (MaiBot 1.x itself waits 1000). */
  readonly busyTimeout?: number | undefined
  /**
   * A search's pass (its walk to the newest matches, its total) over at least this many row ids is split between
   * this thread and a second one (started on first use), each reading half. Default 20,000; `Infinity` keeps
   * every pass on this thread.
   */
  readonly parallelScanRows?: number | undefined
}

const databasePath = (instancePath: string) => Path.join(instancePath, "data", "MaiBot.db")

const ColumnRow = (row: Record<string, unknown>): Tables.ColumnInfo => ({
  name: String(row.name),
  type: String(row.type ?? ""),
  notNull: Number(row.not_null) === 1,
  hasDefault: row.dflt_value !== null && row.dflt_value !== undefined
})

const personTable = (instanceId: string, connection: Connection) =>
  connection.person === undefined
    ? Effect.fail(unavailable(instanceId, "person_info", "not-maibot", "has no person_info table"))
    : Effect.succeed(connection.person)

export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const registry = yield* InstanceRegistry
  const busyTimeout = options.busyTimeout ?? 3000
  const parallelScanRows = options.parallelScanRows ?? 20_000
  const readThread = yield* ReadThread.make({ busyTimeout, mmapSize: SqliteClient.defaultMmapSize })
  const connections = new Map<string, Connection>()
  const opening = Semaphore.makeUnsafe(1)

  yield* Effect.addFinalizer(() =>
    Effect.forEach([...connections.values()], (connection) => Scope.close(connection.scope, Exit.void), {
      discard: true
    })
  )

  /** Opens the file as SQLite and finds which generation's tables it has. */
  const connect = (instanceId: string, path: string, identity: string) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Scope.addFinalizer(scope, Effect.sync(() => readThread.forget(identity)))
      const opened = yield* SqliteClient.make({
        filename: path,
        fileMustExist: true,
        walMode: false,
        busyTimeout
      }).pipe(Scope.provide(scope), Effect.provide(Reactivity.layer), Effect.exit)
      const fail = (detail: string) =>
        Effect.andThen(Scope.close(scope, Exit.void), Effect.fail(unavailable(instanceId, path, "unreadable", detail)))
      if (Exit.isFailure(opened)) return yield* fail("cannot be opened as SQLite")
      const sql = Context.get(opened.value, SqlClient.SqlClient)
      const columnsOf = (table: string) =>
        Effect.map(
          sql<Record<string, unknown>>`SELECT name, type, "notnull" AS not_null, dflt_value FROM pragma_table_info(${table})`,
          (rows) => rows.map(ColumnRow)
        )
      const indexedOf = (table: string) =>
        Effect.map(
          sql<{ readonly name: string }>`SELECT info.name AS name FROM pragma_index_list(${table}) AS list,
            pragma_index_info(list.name) AS info WHERE info.seqno = 0`,
          (rows) => new Set(rows.map((row) => row.name))
        )
      const inspected = yield* Effect.gen(function*() {
        const images = yield* columnsOf("images")
        const emoji = yield* columnsOf("emoji")
        const person = yield* columnsOf("person_info")
        return {
          images,
          emoji,
          person,
          imagesIndexed: yield* indexedOf("images"),
          emojiIndexed: yield* indexedOf("emoji"),
          personIndexed: yield* indexedOf("person_info")
        }
      }).pipe(Effect.exit)
      if (Exit.isFailure(inspected)) return yield* fail("is not a SQLite database")
      const { images, emoji, person, imagesIndexed, emojiIndexed, personIndexed } = inspected.value
      const generation: Generation | undefined = images.some((column) => column.name === "image_type")
        ? "1.x"
        : emoji.length > 0
        ? "0.x"
        : undefined
      if (generation === undefined) {
        yield* Scope.close(scope, Exit.void)
        return yield* unavailable(instanceId, path, "not-maibot", "has neither an emoji nor an images table")
      }
      return {
        file: path,
        identity,
        scope,
        sql,
        generation,
        emoji: generation === "1.x"
          ? Tables.emojiMap(generation, images, imagesIndexed)
          : Tables.emojiMap(generation, emoji, emojiIndexed),
        person: person.length === 0 ? undefined : Tables.personMap(person, personIndexed),
        readThread,
        parallelScanRows
      } satisfies Connection
    })

  /** The instance's connection, reopened when the file was replaced (another inode) since it was opened. */
  const open = (instanceId: string) =>
    Effect.gen(function*() {
      const instance = yield* registry.get(instanceId)
      const path = databasePath(instance.path)
      const confined = yield* Effect.sync(() => BotLayout.confine(instance.path, path))
      if (!confined.inside) {
        return yield* unavailable(instanceId, path, "outside", `resolves to ${confined.real}, outside the instance folder`)
      }
      const stat = yield* Effect.promise(() => Fs.stat(confined.real).catch(() => undefined))
      const cached = connections.get(instanceId)
      if (stat === undefined || !stat.isFile()) {
        if (cached !== undefined) {
          connections.delete(instanceId)
          yield* Scope.close(cached.scope, Exit.void)
        }
        return yield* unavailable(instanceId, path, "missing", "does not exist")
      }
      const identity = `${confined.real}:${stat.dev}:${stat.ino}`
      if (cached?.identity === identity) return cached
      return yield* opening.withPermit(Effect.gen(function*() {
        const again = connections.get(instanceId)
        if (again?.identity === identity) return again
        if (again !== undefined) {
          connections.delete(instanceId)
          yield* Scope.close(again.scope, Exit.void)
        }
        const connection = yield* connect(instanceId, confined.real, identity)
        connections.set(instanceId, connection)
        return connection
      }))
    })

  const nowSeconds = Effect.map(Clock.currentTimeMillis, (millis) => millis / 1000)

  const emoji: Service["emoji"] = {
    create: Effect.fn("BotDatabase.emoji.create")(function*(instanceId: string, input: NewEmoji) {
      const connection = yield* open(instanceId)
      const map = connection.emoji
      const now = yield* nowSeconds
      const { record, ignored } = columnsFor(map, {
        full_path: input.full_path,
        format: input.format,
        emoji_hash: input.emoji_hash,
        description: input.description ?? "",
        emotion: input.emotion ?? "",
        query_count: 0,
        is_registered: 0,
        is_banned: 0,
        // The original inserted NULL here, which MaiBot's NOT NULL refused; the client never sends one.
        record_time: input.record_time ?? now,
        usage_count: 0
      })
      if (connection.generation === "1.x") record.image_type = "EMOJI"
      const id = yield* insert(instanceId, connection, map, withRequiredDefaults(map, record, now))
      return { id, ignored: ignored.filter((field) => field !== "usage_count") }
    }),
    get: Effect.fn("BotDatabase.emoji.get")(function*(instanceId: string, id: number) {
      const connection = yield* open(instanceId)
      return yield* oneBy(instanceId, "emoji", connection, connection.emoji, Tables.emojiFields, "id", "id", id)
    }),
    getByHash: Effect.fn("BotDatabase.emoji.getByHash")(function*(instanceId: string, hash: string) {
      const connection = yield* open(instanceId)
      return yield* oneBy(instanceId, "emoji", connection, connection.emoji, Tables.emojiFields, "hash", "emoji_hash", hash)
    }),
    search: Effect.fn("BotDatabase.emoji.search")(function*(instanceId: string, filter: EmojiFilter, page: Page) {
      const connection = yield* open(instanceId)
      const clauses = emojiClauses(connection.sql, connection.emoji, filter)
      return yield* pageOf(instanceId, "emoji", connection, connection.emoji, Tables.emojiFields, clauses, page, "record_time")
    }),
    count: Effect.fn("BotDatabase.emoji.count")(function*(instanceId: string, filter: EmojiFilter) {
      const connection = yield* open(instanceId)
      return yield* countOf(instanceId, connection, connection.emoji, emojiClauses(connection.sql, connection.emoji, filter))
    }),
    update: Effect.fn("BotDatabase.emoji.update")(function*(instanceId: string, id: number, update: EmojiUpdate) {
      const connection = yield* open(instanceId)
      const given = Object.fromEntries(Object.entries(update).filter(([, value]) => value !== null && value !== undefined))
      const { record, ignored } = columnsFor(connection.emoji, given)
      if (Object.keys(record).length === 0) return yield* nothingToUpdate(instanceId, "emoji", ignored)
      const { sql } = connection
      yield* updateWhere(instanceId, "emoji", connection, connection.emoji, sql`${sql.update(record)}`, "id", "id", id)
      return { id, ignored }
    }),
    remove: Effect.fn("BotDatabase.emoji.remove")(function*(instanceId: string, id: number) {
      const connection = yield* open(instanceId)
      yield* deleteWhere(instanceId, "emoji", connection, connection.emoji, "id", "id", id)
    }),
    recordUsage: Effect.fn("BotDatabase.emoji.recordUsage")(function*(instanceId: string, id: number) {
      const connection = yield* open(instanceId)
      const { sql } = connection
      const map = connection.emoji
      const now = yield* nowSeconds
      const set: Array<Statement.Fragment> = []
      if (map.fields.usage_count !== undefined) set.push(sql`${sql(map.fields.usage_count)} = ${sql(map.fields.usage_count)} + 1`)
      if (map.fields.last_used_time !== undefined) {
        set.push(sql`${sql(map.fields.last_used_time)} = ${Tables.toColumnValue(map, map.fields.last_used_time, now)}`)
      }
      // Neither column: still tell whether the record exists.
      if (set.length === 0) set.push(sql`id = id`)
      yield* updateWhere(instanceId, "emoji", connection, map, sql.csv(set), "id", "id", id)
      return { id, ignored: map.fields.usage_count === undefined ? ["usage_count"] : [] }
    }),
    recordQuery: Effect.fn("BotDatabase.emoji.recordQuery")(function*(instanceId: string, id: number) {
      const connection = yield* open(instanceId)
      const { sql } = connection
      const column = connection.emoji.fields.query_count ?? "query_count"
      yield* updateWhere(instanceId, "emoji", connection, connection.emoji, sql`${sql(column)} = ${sql(column)} + 1`, "id", "id", id)
    })
  }

  const person: Service["person"] = {
    create: Effect.fn("BotDatabase.person.create")(function*(instanceId: string, input: NewPerson) {
      const connection = yield* open(instanceId)
      const map = yield* personTable(instanceId, connection)
      const { sql } = connection
      const existing = yield* sql<{ readonly id: number }>`SELECT id FROM ${sql(map.table)} WHERE ${
        sql(map.fields.person_id ?? "person_id")
      } = ${input.person_id} LIMIT 1`.pipe(Effect.mapError(failed(instanceId, "create")))
      if (existing.length > 0) {
        return yield* new BotRecordRejected({ instanceId, kind: "person", reason: "duplicate", detail: input.person_id })
      }
      const now = yield* nowSeconds
      const known = Object.fromEntries(
        Object.entries(input).filter(([field]) => (Tables.personFields as ReadonlyArray<string>).includes(field) && field !== "id")
      )
      const { record, ignored } = columnsFor(map, known)
      return { id: yield* insert(instanceId, connection, map, withRequiredDefaults(map, record, now)), ignored }
    }),
    getByRecordId: Effect.fn("BotDatabase.person.getByRecordId")(function*(instanceId: string, id: number) {
      const connection = yield* open(instanceId)
      const map = yield* personTable(instanceId, connection)
      return yield* oneBy(instanceId, "person", connection, map, Tables.personFields, "record_id", "id", id)
    }),
    getByPersonId: Effect.fn("BotDatabase.person.getByPersonId")(function*(instanceId: string, personId: string) {
      const connection = yield* open(instanceId)
      const map = yield* personTable(instanceId, connection)
      return yield* oneBy(instanceId, "person", connection, map, Tables.personFields, "person_id", "person_id", personId)
    }),
    getByPlatform: Effect.fn("BotDatabase.person.getByPlatform")(function*(
      instanceId: string,
      platform: string,
      userId: string
    ) {
      const connection = yield* open(instanceId)
      const map = yield* personTable(instanceId, connection)
      const { sql } = connection
      const notFound = new BotRecordNotFound({ instanceId, kind: "person", key: "platform", value: `${platform}:${userId}` })
      if (map.fields.platform === undefined || map.fields.user_id === undefined) return yield* notFound
      const rows = yield* sql<Record<string, unknown>>`SELECT * FROM ${sql(map.table)} WHERE ${
        sql(map.fields.platform)
      } = ${platform} AND ${sql(map.fields.user_id)} = ${userId} LIMIT 1`.pipe(Effect.mapError(failed(instanceId, "get")))
      if (rows[0] === undefined) return yield* notFound
      return Tables.toRecord(map, Tables.personFields, rows[0])
    }),
    search: Effect.fn("BotDatabase.person.search")(function*(instanceId: string, filter: PersonFilter, page: Page) {
      const connection = yield* open(instanceId)
      const map = yield* personTable(instanceId, connection)
      const clauses = personClauses(connection.sql, map, filter)
      return yield* pageOf(instanceId, "person", connection, map, Tables.personFields, clauses, page, "last_know")
    }),
    count: Effect.fn("BotDatabase.person.count")(function*(instanceId: string, filter: PersonFilter) {
      const connection = yield* open(instanceId)
      const map = yield* personTable(instanceId, connection)
      return yield* countOf(instanceId, connection, map, personClauses(connection.sql, map, filter))
    }),
    update: Effect.fn("BotDatabase.person.update")(function*(instanceId: string, personId: string, update: PersonUpdate) {
      const connection = yield* open(instanceId)
      const map = yield* personTable(instanceId, connection)
      const given = Object.fromEntries(
        Object.entries(update).filter(([field, value]) =>
          value !== null && value !== undefined && field !== "id" && field !== "person_id" &&
          (Tables.personFields as ReadonlyArray<string>).includes(field)
        )
      )
      const { record, ignored } = columnsFor(map, given)
      if (Object.keys(record).length === 0) return yield* nothingToUpdate(instanceId, "person", ignored)
      const id = yield* updateWhere(
        instanceId,
        "person",
        connection,
        map,
        connection.sql`${connection.sql.update(record)}`,
        map.fields.person_id ?? "person_id",
        "person_id",
        personId
      )
      return { id, ignored }
    }),
    remove: Effect.fn("BotDatabase.person.remove")(function*(instanceId: string, personId: string) {
      const connection = yield* open(instanceId)
      const map = yield* personTable(instanceId, connection)
      yield* deleteWhere(instanceId, "person", connection, map, map.fields.person_id ?? "person_id", "person_id", personId)
    }),
    interaction: Effect.fn("BotDatabase.person.interaction")(function*(
      instanceId: string,
      personId: string,
      interaction: Interaction
    ) {
      const connection = yield* open(instanceId)
      const map = yield* personTable(instanceId, connection)
      const now = yield* nowSeconds
      const { record, ignored } = columnsFor(map, {
        last_know: now,
        impression: interaction.impression_update ?? undefined,
        short_impression: interaction.short_impression_update ?? undefined,
        points: interaction.points_update ?? undefined
      })
      const id = yield* updateWhere(
        instanceId,
        "person",
        connection,
        map,
        connection.sql`${connection.sql.update(record)}`,
        map.fields.person_id ?? "person_id",
        "person_id",
        personId
      )
      return { id, ignored }
    })
  }

  const info = Effect.fn("BotDatabase.info")(function*(instanceId: string) {
    const instance = yield* registry.get(instanceId)
    const path = databasePath(instance.path)
    const dataFolder = Path.dirname(path)
    const stat = yield* Effect.promise(() => Fs.stat(path).catch(() => undefined))
    const folder = yield* Effect.promise(() => Fs.stat(dataFolder).catch(() => undefined))
    const opened = yield* Effect.exit(open(instanceId))
    const failure = Exit.findErrorOption(opened)
    const treeGeneration = yield* Effect.sync(() => BotLayout.detectGeneration(instance.path))
    return {
      instance_id: instance.id,
      instance_name: instance.name,
      instance_path: instance.path,
      generation: Exit.isSuccess(opened) ? opened.value.generation : treeGeneration === "unknown" ? null : treeGeneration,
      database: {
        path,
        exists: stat?.isFile() === true,
        // The original's meaning: the file opens as SQLite (whether or not it is MaiBot's).
        valid: Exit.isSuccess(opened) ||
          (Option.isSome(failure) && failure.value._tag === "BotDatabaseUnavailable" &&
            failure.value.reason === "not-maibot"),
        size: stat?.size ?? 0
      },
      data_folder: { path: dataFolder, exists: folder?.isDirectory() === true }
    } satisfies DatabaseInfo
  })

  const infoAll = Effect.gen(function*() {
    const instances = yield* registry.list
    return yield* Effect.forEach(instances, (instance) =>
      info(instance.id).pipe(
        Effect.catch((error) => Effect.succeed({ instance_id: instance.id, error: error.message }))
      ))
  }).pipe(Effect.withSpan("BotDatabase.infoAll"))

  return { info, infoAll, emoji, person } satisfies Service
})

export class BotDatabase extends Context.Service<BotDatabase, Service>()("@maikit/core/BotDatabase") {
  /** Needs the instance registry; connections close with the layer. */
  static readonly layer = (options: Options = {}): Layer.Layer<BotDatabase, never, InstanceRegistry> =>
    Layer.effect(BotDatabase, make(options))
}
