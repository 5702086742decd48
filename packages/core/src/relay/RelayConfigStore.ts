/**
 * The status relay's configs (MQTT connections, BLE lights, ESP32 devices) in SQLite, with change
 * notifications so the links apply a create, update, disable or delete at once. Every write is one
 * `BEGIN IMMEDIATE` transaction, so a read-check-write (secrets kept, conflicts refused) is atomic even
 * against another process — `maikit light config` editing the file a running relay uses. Such outside
 * commits are noticed through SQLite's `data_version` and announced like local ones.
 */
import { type Cause, Context, Duration, Effect, Layer, type Queue, Schedule, Schema, type Scope, Stream, Struct } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as Database from "../platform/Database.ts"
import { Broadcast } from "./internal/broadcast.ts"
import * as RelayConfig from "./RelayConfig.ts"
import {
  RelayConfigConflict,
  RelayConfigInvalid,
  RelayConfigNotFound,
  RelayConfigStoreError
} from "./RelayConfigStoreError.ts"

export { RelayConfigConflict, RelayConfigInvalid, RelayConfigNotFound, RelayConfigStoreError } from "./RelayConfigStoreError.ts"

/** Which kind changed; `external` when another process committed to the database. */
export type Change = RelayConfig.Kind | "external"

export interface Repository<A extends { readonly id: number }, Create, Update> {
  readonly list: Effect.Effect<ReadonlyArray<A>, RelayConfigStoreError>
  readonly get: (id: number) => Effect.Effect<A, RelayConfigNotFound | RelayConfigStoreError>
  readonly create: (input: Create) => Effect.Effect<A, RelayConfigConflict | RelayConfigStoreError>
  readonly update: (
    id: number,
    patch: Update
  ) => Effect.Effect<A, RelayConfigNotFound | RelayConfigConflict | RelayConfigStoreError>
  readonly remove: (id: number) => Effect.Effect<void, RelayConfigNotFound | RelayConfigStoreError>
}

export interface Service {
  readonly mqtt: Repository<RelayConfig.MqttConfig, RelayConfig.MqttConfigCreate, RelayConfig.MqttConfigUpdate>
  readonly ble: Repository<RelayConfig.BleConfig, RelayConfig.BleConfigCreate, RelayConfig.BleConfigUpdate>
  readonly device: Repository<
    RelayConfig.DeviceConfig,
    RelayConfig.DeviceConfigCreate,
    RelayConfig.DeviceConfigUpdate
  >
  /** A queue of changes from now on, for the scope's lifetime. Subscribe before reading, then follow. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<Change, Cause.Done>, never, Scope.Scope>
  readonly changes: Stream.Stream<Change>
}

export interface Options {
  /** How often to look for commits by other processes. Default 1 second; `0` turns it off. */
  readonly externalChangeInterval?: Duration.Input | undefined
}

export const migrations = Database.migrations("status-relay", {
  "0001_create_mqtt_configs": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE relay_mqtt_configs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      broker TEXT NOT NULL,
      client_id TEXT NOT NULL,
      username TEXT NOT NULL,
      password TEXT NOT NULL,
      topic TEXT NOT NULL,
      enabled INTEGER NOT NULL
    )`
  }),
  "0002_create_ble_configs": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE relay_ble_configs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      device_name TEXT NOT NULL,
      service_uuid TEXT NOT NULL,
      char_uuid TEXT NOT NULL,
      enabled INTEGER NOT NULL
    )`
  }),
  "0003_create_device_configs": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE relay_device_configs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      device_name TEXT NOT NULL,
      config_topic TEXT NOT NULL,
      wifi_ssid TEXT NOT NULL,
      wifi_pass TEXT NOT NULL,
      mqtt_broker TEXT NOT NULL,
      mqtt_port INTEGER NOT NULL,
      mqtt_user TEXT NOT NULL,
      mqtt_pass TEXT NOT NULL,
      mqtt_client TEXT NOT NULL,
      mqtt_topic TEXT NOT NULL,
      mqtt_status TEXT NOT NULL,
      pin_red INTEGER NOT NULL,
      pin_green INTEGER NOT NULL,
      pin_yellow INTEGER NOT NULL,
      enabled INTEGER NOT NULL
    )`
  })
})

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const storeError = (action: string) => (cause: SqlError | Schema.SchemaError) =>
  new RelayConfigStoreError({ message: `cannot ${action}: ${describe(cause)}`, cause })

interface Spec<A extends { readonly id: number }> {
  readonly kind: RelayConfig.Kind
  readonly table: string
  readonly row: Schema.Codec<A, unknown>
  readonly defaults: Readonly<Record<string, unknown>>
  /** Why `candidate` may not be stored next to `others`, if it may not. */
  readonly conflict?: (candidate: A, others: ReadonlyArray<A>) => string | undefined
}

const definedEntries = (input: object): Record<string, unknown> =>
  Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined))

/** Row shape: SQLite keeps booleans as 0/1. */
const rowOf = <F extends Schema.Struct.Fields & { readonly enabled: typeof Schema.Boolean }>(
  schema: Schema.Struct<F>
) => schema.mapFields(Struct.assign({ enabled: Schema.BooleanFromBit }))

const makeRepository = <A extends { readonly id: number }, Create extends object, Update extends object>(
  sql: SqlClient.SqlClient,
  spec: Spec<A>,
  announce: (change: Change) => Effect.Effect<void>
): Repository<A, Create, Update> => {
  const label = RelayConfig.kindLabels[spec.kind]
  const secrets = RelayConfig.secretFields[spec.kind]
  const table = sql(spec.table)
  const decodeRows = Schema.decodeUnknownEffect(Schema.Array(spec.row))
  const transaction = <X, E, R>(effect: Effect.Effect<X, E, R>) =>
    sql.withTransaction(effect).pipe(Effect.provideService(SqlClient.BeginTransaction, "BEGIN IMMEDIATE"))

  const notFound = (id: number) =>
    new RelayConfigNotFound({ kind: spec.kind, id, message: `${label} ${id} not found` })

  const list = sql`SELECT * FROM ${table} ORDER BY id`.pipe(
    Effect.flatMap(decodeRows),
    Effect.mapError(storeError(`list ${label}s`))
  )

  const find = (id: number) =>
    sql`SELECT * FROM ${table} WHERE id = ${id}`.pipe(
      Effect.flatMap(decodeRows),
      Effect.mapError(storeError(`read ${label} ${id}`)),
      Effect.flatMap(([row]) => (row === undefined ? Effect.fail(notFound(id)) : Effect.succeed(row)))
    )

  const checkConflict = (candidate: A) =>
    spec.conflict === undefined
      ? Effect.void
      : Effect.flatMap(list, (all) => {
        const reason = spec.conflict?.(candidate, all.filter((other) => other.id !== candidate.id))
        return reason === undefined ? Effect.void : Effect.fail(new RelayConfigConflict({ kind: spec.kind, message: reason }))
      })

  const create = (input: Create) =>
    transaction(Effect.gen(function*() {
      const values: Record<string, unknown> = { ...spec.defaults, ...definedEntries(input) }
      // A masked secret has no stored value to keep on create.
      for (const field of secrets) if (values[field] === RelayConfig.secretMask) values[field] = ""
      yield* checkConflict({ ...values, id: 0 } as unknown as A)
      const rows = yield* sql`INSERT INTO ${table} ${sql.insert(values)} RETURNING *`.pipe(
        Effect.flatMap(decodeRows),
        Effect.mapError(storeError(`create ${label}`))
      )
      const [created] = rows
      if (created === undefined) {
        return yield* new RelayConfigStoreError({ message: `cannot create ${label}: no row returned`, cause: rows })
      }
      return created
    })).pipe(
      Effect.mapError((error) => (error._tag === "SqlError" ? storeError(`create ${label}`)(error) : error)),
      Effect.tap(() => announce(spec.kind))
    )

  const update = (id: number, patch: Update) =>
    transaction(Effect.gen(function*() {
      const existing = yield* find(id)
      const changes = definedEntries(patch)
      for (const field of secrets) {
        if (changes[field] === RelayConfig.secretMask) delete changes[field]
      }
      const merged = { ...existing, ...changes, id } as A
      yield* checkConflict(merged)
      if (Object.keys(changes).length > 0) {
        yield* sql`UPDATE ${table} SET ${sql.update(changes)} WHERE id = ${id}`.pipe(
          Effect.mapError(storeError(`update ${label} ${id}`))
        )
      }
      return merged
    })).pipe(
      Effect.mapError((error) => (error._tag === "SqlError" ? storeError(`update ${label} ${id}`)(error) : error)),
      Effect.tap(() => announce(spec.kind))
    )

  const remove = (id: number) =>
    sql<{ readonly id: number }>`DELETE FROM ${table} WHERE id = ${id} RETURNING id`.pipe(
      Effect.mapError(storeError(`delete ${label} ${id}`)),
      Effect.flatMap((rows) => (rows.length === 0 ? Effect.fail(notFound(id)) : Effect.void)),
      Effect.tap(() => announce(spec.kind))
    )

  return { list, get: find, create, update, remove }
}

const brokerKey = (broker: string) => {
  const url = new URL(broker)
  const secure = /^(mqtts|ssl|tls|wss):$/i.test(url.protocol)
  return `${url.hostname.toLowerCase()}:${url.port === "" ? (secure ? "8883" : "1883") : url.port}`
}

/** Brokers disconnect an older session when a client id connects again, so two such links evict each other forever. */
const duplicateClientId = (candidate: RelayConfig.MqttConfig, others: ReadonlyArray<RelayConfig.MqttConfig>) => {
  if (!candidate.enabled) return undefined
  const twin = others.find((other) =>
    other.enabled && other.client_id === candidate.client_id && brokerKey(other.broker) === brokerKey(candidate.broker)
  )
  return twin === undefined
    ? undefined
    : `MQTT config ${twin.id} already connects to ${brokerKey(candidate.broker)} as client "${candidate.client_id}"; ` +
      "a broker disconnects one of two clients with the same id, so use another client_id or disable one"
}

export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const sql = yield* SqlClient.SqlClient
  const broadcast = new Broadcast<Change>()
  yield* Effect.addFinalizer(() => Effect.sync(() => broadcast.end()))
  const announce = (change: Change) => Effect.sync(() => broadcast.publish(change))

  const mqtt = makeRepository<RelayConfig.MqttConfig, RelayConfig.MqttConfigCreate, RelayConfig.MqttConfigUpdate>(
    sql,
    {
      kind: "mqtt",
      table: "relay_mqtt_configs",
      row: rowOf(RelayConfig.MqttConfig),
      defaults: { ...RelayConfig.mqttDefaults, username: "", password: "" },
      conflict: duplicateClientId
    },
    announce
  )
  const ble = makeRepository<RelayConfig.BleConfig, RelayConfig.BleConfigCreate, RelayConfig.BleConfigUpdate>(
    sql,
    { kind: "ble", table: "relay_ble_configs", row: rowOf(RelayConfig.BleConfig), defaults: RelayConfig.bleDefaults },
    announce
  )
  const device = makeRepository<
    RelayConfig.DeviceConfig,
    RelayConfig.DeviceConfigCreate,
    RelayConfig.DeviceConfigUpdate
  >(
    sql,
    {
      kind: "device",
      table: "relay_device_configs",
      row: rowOf(RelayConfig.DeviceConfig),
      defaults: RelayConfig.deviceDefaults
    },
    announce
  )

  const interval = Duration.fromInputUnsafe(options.externalChangeInterval ?? "1 second")
  if (Duration.toMillis(interval) > 0) {
    // `data_version` changes only when another connection commits, so our own writes never echo here.
    const version = sql<{ readonly data_version: number }>`PRAGMA data_version`.pipe(
      Effect.map(([row]) => row?.data_version)
    )
    let last = yield* Effect.orElseSucceed(version, () => undefined)
    yield* version.pipe(
      Effect.tap((current) =>
        Effect.sync(() => {
          if (current !== last) broadcast.publish("external")
          last = current
        })
      ),
      Effect.catch((error) => Effect.logDebug("status relay: cannot read data_version", error)),
      Effect.repeat(Schedule.spaced(interval)),
      Effect.forkScoped
    )
  }

  const subscribe = broadcast.subscribe(64)
  return RelayConfigStore.of({
    mqtt,
    ble,
    device,
    subscribe,
    changes: Stream.unwrap(Effect.map(subscribe, Stream.fromQueue))
  })
})

export class RelayConfigStore extends Context.Service<RelayConfigStore, Service>()("@maikit/core/RelayConfigStore") {
  /** The store on the database's `SqlClient`; builds its tables first. */
  static readonly layer = (
    options: Options = {}
  ): Layer.Layer<RelayConfigStore, Database.DatabaseMigrationError, SqlClient.SqlClient> =>
    Layer.effect(RelayConfigStore, make(options)).pipe(Layer.provide(migrations))
}

const inputSchemas = {
  mqtt: { create: RelayConfig.MqttConfigCreate, update: RelayConfig.MqttConfigUpdate },
  ble: { create: RelayConfig.BleConfigCreate, update: RelayConfig.BleConfigUpdate },
  device: { create: RelayConfig.DeviceConfigCreate, update: RelayConfig.DeviceConfigUpdate }
} as const

/** Decodes loose values (e.g. from the command line) into a create or update input of `kind`. */
export const decodeInput = <K extends RelayConfig.Kind, Mode extends "create" | "update">(
  kind: K,
  mode: Mode,
  input: unknown
): Effect.Effect<(typeof inputSchemas)[K][Mode]["Type"], RelayConfigInvalid> =>
  Schema.decodeUnknownEffect(inputSchemas[kind][mode] as Schema.Codec<(typeof inputSchemas)[K][Mode]["Type"], unknown>)(
    input,
    { onExcessProperty: "error" }
  ).pipe(
    Effect.mapError((error) =>
      new RelayConfigInvalid({ kind, message: `invalid ${RelayConfig.kindLabels[kind]}: ${error.message}` })
    )
  )
