/**
 * API keys of the control plane, in the original's format — `mmc_` + base64 of
 * `tenant_<12hex>_agent_<12hex>_<16hex>_v1` — so keys issued by the original parse and, once imported,
 * validate. Beyond the original (which stored keys in plain text, returned them on every read and never
 * looked at the tenant or agent):
 *
 * - the random part comes from the CSPRNG; only a SHA-256 hash and a short display prefix are stored, the
 *   full key is returned once, by `create`, and reads show it masked;
 * - validation compares hashes in constant time, and also requires the key's tenant and agent to exist and
 *   be active;
 * - a required permission the key lacks fails validation (`ApiKeyPermissionDenied`, the original's
 *   documented but never emitted `AUTH_003`);
 * - keys can be disabled (the original documented `POST /api-keys/{id}/disable` and never built it);
 * - a disabled, expired or deleted key fails the very next check, on this process and on every other one
 *   sharing the database: checks are served from an in-memory index of stored keys that is valid for one
 *   "key epoch" only. Every check reads the epoch, a one-row table that database triggers bump whenever a
 *   key, its tenant or its agent changes in a way that can affect validity — whoever writes it (another
 *   replica, the CLI, a hand-written SQL statement) — and a changed epoch empties the index. A point read of
 *   one row costs a fraction of the indexed key lookup it replaces;
 * - usage (`usage_count`, `last_used_at`) is counted in memory and written in batches, so validation does not
 *   wait for a write. A batch is appended to a journal table as soon as `usageFlushMaxPending` uses (default 256)
 *   are waiting and at the latest `usageFlushInterval` (default 1 s) after the previous one; the journal is folded
 *   into the keys' rows at most once an interval and when the layer's scope closes (a graceful stop, SIGINT or
 *   SIGTERM of `maikit serve`, loses nothing). Reads add what the journal and memory still hold. A crash (`kill -9`, power loss) loses
 *   only the uses not yet written: fewer than `usageFlushMaxPending` counted since the last batch began, plus
 *   that batch if the crash interrupts its write — at most 2 × 256 = 512 uses, and at most the uses of the last
 *   second. On SQLite a validation waits for the connection while a batch is written, so uses cannot pile up
 *   behind a slow write; on PostgreSQL and MySQL/MariaDB they can for as long as one write takes. `pendingUsage`
 *   tells how many are waiting (the control plane's `/health` shows it).
 */
import { Clock, Context, DateTime, Effect, Latch, Layer, Option, Schema } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import * as Crypto from "node:crypto"
import {
  ApiKeyAlreadyStored,
  ApiKeyDisabled,
  ApiKeyExpired,
  ApiKeyMalformed,
  ApiKeyNameTaken,
  ApiKeyNotFound,
  ApiKeyOwnerInactive,
  ApiKeyPermissionDenied,
  ApiKeyStorageError,
  ApiKeyUnknown
} from "./ApiKeyAuthError.ts"
import * as Database from "../platform/Database.ts"
import { SqliteClient } from "../platform/SqliteClient.ts"
import { DbInt, ddl, deleteWhere, isUniqueViolation, naiveIso, newId } from "./internal/controlPlaneSql.ts"
import { Description, IdParam, Name, TenantStore, Text } from "./TenantStore.ts"
import type { AgentNotFound, AgentNotInTenant, TenantNotFound, TenantStoreStorageError } from "./TenantStoreError.ts"

export {
  ApiKeyAlreadyStored,
  ApiKeyDisabled,
  ApiKeyExpired,
  ApiKeyMalformed,
  ApiKeyNameTaken,
  ApiKeyNotFound,
  ApiKeyOwnerInactive,
  ApiKeyPermissionDenied,
  ApiKeyStorageError,
  ApiKeyUnknown
} from "./ApiKeyAuthError.ts"

export const ApiKeyStatus = Schema.Literals(["active", "disabled", "expired"])
export type ApiKeyStatus = typeof ApiKeyStatus.Type

export const prefix = "mmc_"
export const version = "v1"
/** What reads show after the display prefix in place of the rest of the key. */
export const maskSuffix = "********"
export const maxKeyLength = 1024

export const ParsedKey = Schema.Struct({
  tenant_id: Schema.String,
  agent_id: Schema.String,
  random_hash: Schema.String,
  version: Schema.String,
  format_valid: Schema.Boolean
}).annotate({ identifier: "ParsedApiKey" })
export type ParsedKey = typeof ParsedKey.Type

const utf8 = new TextDecoder("utf-8", { fatal: true })
const base64Alphabet = /[^A-Za-z0-9+/=]/g
const wellPadded = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * Parses a key as the original does: `mmc_`, then base64 (characters outside the alphabet are discarded, as
 * Python's non-strict `b64decode` does; bad padding is refused), then UTF-8, then split on `_` — six or more
 * parts are `tenant_x`, `agent_y`, random, version; four or five are the legacy `tenant`, `agent`, random,
 * version. Parsing checks the format only, never the database.
 */
export const parseKey = (apiKey: string): ParsedKey | undefined => {
  if (!apiKey.startsWith(prefix) || apiKey.length > maxKeyLength) return undefined
  const encoded = apiKey.slice(prefix.length).replace(base64Alphabet, "")
  if (encoded.length === 0 || encoded.length % 4 !== 0 || !wellPadded.test(encoded)) return undefined
  let plain: string
  try {
    plain = utf8.decode(Buffer.from(encoded, "base64"))
  } catch {
    return undefined
  }
  const parts = plain.split("_")
  if (parts.length >= 6) {
    return {
      tenant_id: `${parts[0]}_${parts[1]}`,
      agent_id: `${parts[2]}_${parts[3]}`,
      random_hash: parts[4] ?? "",
      version: parts[5] ?? "",
      format_valid: true
    }
  }
  if (parts.length >= 4) {
    return {
      tenant_id: parts[0] ?? "",
      agent_id: parts[1] ?? "",
      random_hash: parts[2] ?? "",
      version: parts[3] ?? "",
      format_valid: true
    }
  }
  return undefined
}

export const parse = (apiKey: string): Effect.Effect<ParsedKey, ApiKeyMalformed> =>
  Effect.suspend(() => {
    const parsed = parseKey(apiKey)
    return parsed === undefined
      ? Effect.fail(new ApiKeyMalformed({ message: "API密钥格式无效" }))
      : Effect.succeed(parsed)
  })

/** A new key for an agent: 64 random bits from the CSPRNG, in the original's layout. */
export const generate = (tenantId: string, agentId: string): string =>
  prefix + Buffer.from(`${tenantId}_${agentId}_${Crypto.randomBytes(8).toString("hex")}_${version}`).toString("base64")

export const hash = (apiKey: string): string => Crypto.hash("sha256", apiKey, "hex")

/** The start of a key kept for display: enough to tell keys apart in a list, never enough to use one. */
export const displayPrefix = (apiKey: string): string => apiKey.slice(0, Math.min(20, Math.floor(apiKey.length / 4)))

const hashesEqual = (a: string, b: string): boolean => {
  const left = Buffer.from(a, "hex")
  const right = Buffer.from(b, "hex")
  return left.length === right.length && Crypto.timingSafeEqual(left, right)
}

/** A key as presented: any text up to 1024 characters (NUL refused, like every stored text). */
export const PresentedKey = Text(maxKeyLength)

export const Permission = Name(100)
export const Permissions = Schema.Array(Permission).check(Schema.isMaxLength(100))

const farFuture = Date.UTC(10_000, 0, 1)

/** An expiry: ISO 8601 (a string without a zone is UTC), between 1970 and 9999. */
export const ExpiresAt = Schema.DateTimeUtcFromString.check(
  Schema.makeFilter((value: DateTime.Utc) => {
    const millis = DateTime.toEpochMillis(value)
    return (millis >= 0 && millis < farFuture) || "must be between 1970 and 9999"
  })
)

/** A key as lists and reads show it: the key itself masked. */
export const ApiKey = Schema.Struct({
  api_key_id: Schema.String,
  tenant_id: Schema.String,
  agent_id: Schema.String,
  name: Schema.String,
  description: Schema.NullOr(Schema.String),
  /** The display prefix followed by `********`; the full key is shown only once, at creation. */
  api_key: Schema.String,
  key_prefix: Schema.String,
  permissions: Schema.Array(Schema.String),
  status: ApiKeyStatus,
  expires_at: Schema.NullOr(Schema.String),
  last_used_at: Schema.NullOr(Schema.String),
  usage_count: Schema.Int,
  created_at: Schema.String,
  updated_at: Schema.String
}).annotate({ identifier: "ApiKey" })
export type ApiKey = typeof ApiKey.Type

const ApiKeyRow = Schema.Struct({
  id: Schema.String,
  tenant_id: Schema.String,
  agent_id: Schema.String,
  name: Schema.String,
  description: Schema.NullOr(Schema.String),
  key_prefix: Schema.String,
  permissions: Schema.fromJsonString(Schema.Array(Schema.String)),
  status: ApiKeyStatus,
  expires_at: Schema.NullOr(Schema.String),
  last_used_at: Schema.NullOr(Schema.String),
  usage_count: DbInt,
  created_at: Schema.String,
  updated_at: Schema.String
})
type ApiKeyRow = typeof ApiKeyRow.Type

const CheckRow = Schema.Struct({
  id: Schema.String,
  tenant_id: Schema.String,
  agent_id: Schema.String,
  key_hash: Schema.String,
  permissions: Schema.fromJsonString(Schema.Array(Schema.String)),
  status: ApiKeyStatus,
  expires_at: Schema.NullOr(Schema.String),
  tenant_status: Schema.NullOr(Schema.String),
  agent_status: Schema.NullOr(Schema.String)
})
type CheckRow = typeof CheckRow.Type

export const NewApiKey = Schema.Struct({
  tenant_id: IdParam,
  agent_id: IdParam,
  name: Name(100),
  description: Schema.optionalKey(Schema.NullOr(Description)),
  permissions: Schema.optionalKey(Schema.NullOr(Permissions)),
  expires_at: Schema.optionalKey(Schema.NullOr(ExpiresAt))
}).annotate({ identifier: "NewApiKey" })
export type NewApiKey = typeof NewApiKey.Type

/** A key issued by the original (or elsewhere), stored by its hash so it keeps working. */
export const ImportedApiKey = Schema.Struct({
  api_key: PresentedKey,
  name: Name(100),
  description: Schema.optionalKey(Schema.NullOr(Description)),
  permissions: Schema.optionalKey(Schema.NullOr(Permissions)),
  expires_at: Schema.optionalKey(Schema.NullOr(ExpiresAt))
}).annotate({ identifier: "ImportedApiKey" })
export type ImportedApiKey = typeof ImportedApiKey.Type

/** Fields sent as `null` are left unchanged, as in the original. `status` re-enables or disables a key. */
export const ApiKeyPatch = Schema.Struct({
  name: Schema.optionalKey(Schema.NullOr(Name(100))),
  description: Schema.optionalKey(Schema.NullOr(Description)),
  permissions: Schema.optionalKey(Schema.NullOr(Permissions)),
  expires_at: Schema.optionalKey(Schema.NullOr(ExpiresAt)),
  status: Schema.optionalKey(Schema.NullOr(Schema.Literals(["active", "disabled"])))
}).annotate({ identifier: "ApiKeyPatch" })
export type ApiKeyPatch = typeof ApiKeyPatch.Type

export interface Created {
  readonly key: ApiKey
  /** The full key: shown once, never stored. */
  readonly api_key: string
}

export const Validation = Schema.Struct({
  valid: Schema.Boolean,
  tenant_id: Schema.String,
  agent_id: Schema.String,
  api_key_id: Schema.String,
  permissions: Schema.Array(Schema.String),
  has_permission: Schema.Boolean,
  status: ApiKeyStatus
}).annotate({ identifier: "ApiKeyValidation" })
export type Validation = typeof Validation.Type

export const PermissionCheck = Schema.Struct({
  has_permission: Schema.Boolean,
  permission: Schema.String,
  all_permissions: Schema.Array(Schema.String),
  tenant_id: Schema.String,
  agent_id: Schema.String,
  api_key_status: ApiKeyStatus
}).annotate({ identifier: "PermissionCheck" })
export type PermissionCheck = typeof PermissionCheck.Type

export interface ListRequest {
  readonly tenant_id: string
  readonly agent_id?: string | undefined
  readonly status?: ApiKeyStatus | undefined
  readonly page: number
  readonly page_size: number
}

export type CheckFailure =
  | ApiKeyMalformed
  | ApiKeyUnknown
  | ApiKeyDisabled
  | ApiKeyExpired
  | ApiKeyOwnerInactive
  | ApiKeyStorageError

type OwnerErrors = TenantNotFound | AgentNotFound | AgentNotInTenant

export interface Options {
  /** The longest counted usage waits before it is written, in milliseconds. Default 1 s. */
  readonly usageFlushInterval?: number
  /** Counted uses that are written at once, without waiting for the interval. Default 256. */
  readonly usageFlushMaxPending?: number
  /** Stored keys held in the in-memory index (0 turns it off). Default 65,536. */
  readonly keyIndexSize?: number
}

export const defaultKeyIndexSize = 65_536
export const defaultUsageFlushInterval = 1000
export const defaultUsageFlushMaxPending = 256
/** Journal rows written by one statement: three parameters each, far below every dialect's limit. */
const usageRowsPerStatement = 256

/** A key past its expiry reads as expired even before a check has marked it so. */
const effectiveStatus = (
  row: { readonly status: ApiKeyStatus; readonly expires_at: string | null },
  at: string
): ApiKeyStatus => row.status === "active" && row.expires_at !== null && row.expires_at <= at ? "expired" : row.status

/** The latest use journaled for the key in the outer query and not yet folded into its row. */
const journaledLast = "(SELECT MAX(j.last) FROM api_key_usage_journal j WHERE j.key_id = api_keys.id)"

/**
 * Usage reads add what the journal holds for the key: it is folded into the row about once a second. `integer` is
 * the dialect's name for a 64-bit integer in `CAST` (MySQL has no `CAST(… AS BIGINT)`).
 */
const keyColumns = (integer: "BIGINT" | "SIGNED") =>
  `id, tenant_id, agent_id, name, description, key_prefix, permissions, status, expires_at,
  CASE WHEN ${journaledLast} IS NOT NULL AND (last_used_at IS NULL OR ${journaledLast} > last_used_at)
    THEN ${journaledLast} ELSE last_used_at END AS last_used_at,
  usage_count + CAST(COALESCE((SELECT SUM(j.uses) FROM api_key_usage_journal j WHERE j.key_id = api_keys.id), 0)
    AS ${integer}) AS usage_count,
  created_at, updated_at`

/** The columns whose change can change a check's answer, by table: what the key epoch watches. */
const watched = [
  { table: "api_keys", columns: ["status", "permissions", "expires_at", "key_hash", "tenant_id", "agent_id"] },
  { table: "agents", columns: ["status", "tenant_id"] },
  { table: "tenants", columns: ["status"] }
] as const

const migrations = Database.migrations("api-key-auth", {
  "0001_create_api_keys": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { tableOptions, text } = yield* ddl
    yield* sql`CREATE TABLE api_keys (
      id VARCHAR(50) PRIMARY KEY,
      tenant_id VARCHAR(50) NOT NULL,
      agent_id VARCHAR(50) NOT NULL,
      name VARCHAR(100) NOT NULL,
      description ${text},
      key_hash CHAR(64) NOT NULL,
      key_prefix VARCHAR(32) NOT NULL,
      permissions ${text} NOT NULL,
      status VARCHAR(20) NOT NULL,
      expires_at VARCHAR(32),
      last_used_at VARCHAR(32),
      usage_count BIGINT NOT NULL DEFAULT 0,
      created_at VARCHAR(32) NOT NULL,
      updated_at VARCHAR(32) NOT NULL,
      FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
    )${tableOptions}`
    yield* sql`CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash)`
    yield* sql`CREATE UNIQUE INDEX api_keys_tenant_name ON api_keys (tenant_id, name)`
    yield* sql`CREATE INDEX api_keys_tenant_agent ON api_keys (tenant_id, agent_id, created_at)`
  }),
  // Triggers, not application code, bump the epoch: a write that bypasses this service still invalidates.
  //
  // MySQL and MariaDB have row triggers only, with no `UPDATE OF` (the body compares the watched columns), and a
  // delete that cascades through a foreign key fires no trigger on the rows it removes. Every cascade that reaches
  // a key starts at a tenant or agent row deleted by a statement, though, and those rows' own delete triggers bump
  // the epoch, so revocation by cascade still fails the next check.
  "0002_create_api_key_epoch": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { tableOptions } = yield* ddl
    yield* sql`CREATE TABLE api_key_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), epoch BIGINT NOT NULL)${tableOptions}`
    yield* sql`INSERT INTO api_key_epoch (id, epoch) VALUES (1, 0)`
    const bump = "UPDATE api_key_epoch SET epoch = epoch + 1 WHERE id = 1"
    yield* sql.onDialectOrElse({
      pg: () =>
        Effect.gen(function*() {
          yield* sql.unsafe(`CREATE FUNCTION maikit_bump_api_key_epoch() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN ${bump}; RETURN NULL; END $body$`)
          for (const { table, columns } of watched) {
            yield* sql.unsafe(`CREATE TRIGGER ${table}_bump_api_key_epoch AFTER UPDATE OF ${columns.join(", ")} OR DELETE
              ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION maikit_bump_api_key_epoch()`)
          }
        }),
      mysql: () =>
        Effect.forEach(watched, ({ table, columns }) =>
          Effect.andThen(
            sql.unsafe(`CREATE TRIGGER ${table}_update_bumps_api_key_epoch AFTER UPDATE ON ${table} FOR EACH ROW
              IF NOT (${columns.map((column) => `OLD.${column} <=> NEW.${column}`).join(" AND ")}) THEN ${bump}; END IF`),
            sql.unsafe(`CREATE TRIGGER ${table}_delete_bumps_api_key_epoch AFTER DELETE ON ${table} FOR EACH ROW ${bump}`)
          ), { discard: true }),
      orElse: () =>
        Effect.forEach(watched, ({ table, columns }) =>
          Effect.andThen(
            sql.unsafe(`CREATE TRIGGER ${table}_update_bumps_api_key_epoch AFTER UPDATE OF ${columns.join(", ")} ON ${table}
              BEGIN ${bump}; END`),
            sql.unsafe(`CREATE TRIGGER ${table}_delete_bumps_api_key_epoch AFTER DELETE ON ${table}
              BEGIN ${bump}; END`)
          ), { discard: true })
    })
  }),
  // Counted usage is appended here, batch by batch (rows in insertion order, no index: a batch costs a few pages
  // whatever keys it holds), and folded into `api_keys` about once a second in one transaction. Writing each batch
  // into the key rows directly rewrote one page per key, several times a second.
  "0003_create_api_key_usage_journal": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { tableOptions } = yield* ddl
    yield* sql.onDialectOrElse({
      mysql: () =>
        sql`CREATE TABLE api_key_usage_journal (
          seq BIGINT AUTO_INCREMENT PRIMARY KEY,
          key_id VARCHAR(50) NOT NULL,
          uses BIGINT NOT NULL,
          last VARCHAR(32) NOT NULL
        )${tableOptions}`,
      pg: () =>
        sql`CREATE TABLE api_key_usage_journal (
          seq BIGSERIAL PRIMARY KEY,
          key_id VARCHAR(50) NOT NULL,
          uses BIGINT NOT NULL,
          last VARCHAR(32) NOT NULL
        )`,
      orElse: () =>
        sql`CREATE TABLE api_key_usage_journal (
          seq INTEGER PRIMARY KEY,
          key_id VARCHAR(50) NOT NULL,
          uses BIGINT NOT NULL,
          last VARCHAR(32) NOT NULL
        )`
    })
  })
})

export class ApiKeyAuth extends Context.Service<ApiKeyAuth, {
  /** Issues a key for an agent of the tenant. The full key is in the result and nowhere else. */
  readonly create: (
    input: NewApiKey
  ) => Effect.Effect<Created, OwnerErrors | ApiKeyNameTaken | ApiKeyStorageError>
  /** Stores the hash of an existing key (from the original) so it validates; its tenant and agent must exist. */
  readonly importKey: (
    input: ImportedApiKey
  ) => Effect.Effect<ApiKey, ApiKeyMalformed | OwnerErrors | ApiKeyNameTaken | ApiKeyAlreadyStored | ApiKeyStorageError>
  /** Newest first. */
  readonly list: (
    request: ListRequest
  ) => Effect.Effect<{ readonly items: ReadonlyArray<ApiKey>; readonly total: number }, ApiKeyStorageError>
  readonly get: (id: string) => Effect.Effect<ApiKey, ApiKeyNotFound | ApiKeyStorageError>
  readonly update: (
    id: string,
    patch: ApiKeyPatch
  ) => Effect.Effect<ApiKey, ApiKeyNotFound | ApiKeyNameTaken | ApiKeyStorageError>
  readonly disable: (id: string) => Effect.Effect<ApiKey, ApiKeyNotFound | ApiKeyStorageError>
  readonly remove: (id: string) => Effect.Effect<void, ApiKeyNotFound | ApiKeyStorageError>
  /**
   * Checks a presented key: format, hash, status, expiry (an expired key is marked `expired`), the tenant's
   * and agent's status, and `requiredPermission` when given. Counts a use when `recordUsage` (default true).
   */
  readonly validate: (options: {
    readonly apiKey: string
    readonly requiredPermission?: string | undefined
    readonly recordUsage?: boolean | undefined
  }) => Effect.Effect<Validation, CheckFailure | ApiKeyPermissionDenied>
  /** Whether a usable key has `permission`; counts no use. */
  readonly checkPermission: (
    apiKey: string,
    permission: string
  ) => Effect.Effect<PermissionCheck, CheckFailure>
  /** Writes the usage counted so far (also done periodically and when the layer closes). */
  readonly flushUsage: Effect.Effect<void, ApiKeyStorageError>
  /** Uses counted and not yet written: what a crash at this moment would lose. */
  readonly pendingUsage: Effect.Effect<number>
  /** When counted uses are written: `maxPending` waiting, or `intervalMs` after the previous write. */
  readonly usageFlush: { readonly intervalMs: number; readonly maxPending: number }
}>()("@maikit/core/ApiKeyAuth") {
  static readonly make = Effect.fnUntraced(function*(options: Options = {}) {
    const sql = yield* SqlClient.SqlClient
    const tenants = yield* TenantStore

    const fail = ApiKeyStorageError.of
    const storage = (operation: string) => <A, R>(effect: Effect.Effect<A, SqlError | Schema.SchemaError, R>) =>
      Effect.mapError(effect, fail(operation))
    const transaction = <A, E, R>(
      operation: string,
      effect: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | ApiKeyStorageError, R> =>
      Effect.mapError(sql.withTransaction(effect), (error) => isSqlError(error) ? fail(operation)(error) : error)
    const owner = <A, R>(
      effect: Effect.Effect<A, OwnerErrors | TenantStoreStorageError, R>
    ): Effect.Effect<A, OwnerErrors | ApiKeyStorageError, R> =>
      Effect.catchTag(effect, "TenantStoreStorageError", (error) => Effect.fail(fail("check owner")(error)))

    const columns = sql.literal(keyColumns(sql.onDialectOrElse({ mysql: () => "SIGNED", orElse: () => "BIGINT" })))
    const decodeRow = Schema.decodeUnknownEffect(ApiKeyRow)
    const decodeCheck = Schema.decodeUnknownEffect(CheckRow)
    const decodeCount = Schema.decodeUnknownEffect(Schema.Struct({ total: DbInt }))
    const now = Effect.map(Clock.currentTimeMillis, naiveIso)

    /** Uses counted but not yet written, by key id; `last` in epoch milliseconds. */
    const pending = new Map<string, { count: number; last: number }>()
    /** The sum of `pending`'s counts. */
    let pendingUses = 0
    const flushInterval = Math.max(1, options.usageFlushInterval ?? defaultUsageFlushInterval)
    const maxPending = Math.max(1, options.usageFlushMaxPending ?? defaultUsageFlushMaxPending)
    /** Opened by the hot path when `maxPending` uses are waiting, so the writer does not wait for its interval. */
    const full = Latch.makeUnsafe(false)

    const toApiKey = (row: ApiKeyRow, at: string): ApiKey => {
      const unwritten = pending.get(row.id)
      const unwrittenLast = unwritten === undefined ? undefined : naiveIso(unwritten.last)
      return {
        api_key_id: row.id,
        tenant_id: row.tenant_id,
        agent_id: row.agent_id,
        name: row.name,
        description: row.description,
        api_key: row.key_prefix + maskSuffix,
        key_prefix: row.key_prefix,
        permissions: row.permissions,
        status: effectiveStatus(row, at),
        expires_at: row.expires_at,
        last_used_at: unwrittenLast === undefined || (row.last_used_at !== null && row.last_used_at > unwrittenLast)
          ? row.last_used_at
          : unwrittenLast,
        usage_count: row.usage_count + (unwritten?.count ?? 0),
        created_at: row.created_at,
        updated_at: row.updated_at
      }
    }

    const findRow = (id: string) =>
      sql`SELECT ${columns} FROM api_keys WHERE id = ${id}`.pipe(
        Effect.flatMap((rows) => rows.length === 0 ? Effect.succeed(undefined) : decodeRow(rows[0])),
        storage("read API key")
      )

    const getRow = (id: string) =>
      Effect.flatMap(findRow(id), (row) => row === undefined ? Effect.fail(ApiKeyNotFound.of(id)) : Effect.succeed(row))

    const nameUsed = (tenantId: string, name: string, except?: string) =>
      sql`SELECT id FROM api_keys WHERE tenant_id = ${tenantId} AND name = ${name}`.pipe(
        Effect.map((rows) => rows.some((row) => row["id"] !== except)),
        storage("check API key name")
      )

    const insert = Effect.fnUntraced(function*(
      fields: {
        readonly tenant_id: string
        readonly agent_id: string
        readonly name: string
        readonly description?: string | null | undefined
        readonly permissions?: ReadonlyArray<string> | null | undefined
        readonly expires_at?: DateTime.Utc | null | undefined
      },
      apiKey: string
    ) {
      const at = yield* now
      const row: ApiKeyRow = {
        id: newId("key"),
        tenant_id: fields.tenant_id,
        agent_id: fields.agent_id,
        name: fields.name,
        description: fields.description ?? null,
        key_prefix: displayPrefix(apiKey),
        permissions: fields.permissions ?? [],
        status: "active",
        expires_at: fields.expires_at === undefined || fields.expires_at === null
          ? null
          : naiveIso(DateTime.toEpochMillis(fields.expires_at)),
        last_used_at: null,
        usage_count: 0,
        created_at: at,
        updated_at: at
      }
      const digest = hash(apiKey)
      yield* transaction(
        "create API key",
        Effect.gen(function*() {
          yield* owner(tenants.requireAgentOf(fields.tenant_id, fields.agent_id))
          if (yield* nameUsed(fields.tenant_id, fields.name)) return yield* ApiKeyNameTaken.of(fields.tenant_id, fields.name)
          const existing = yield* sql`SELECT id FROM api_keys WHERE key_hash = ${digest}`.pipe(storage("create API key"))
          if (existing.length > 0) {
            return yield* new ApiKeyAlreadyStored({ api_key_id: String(existing[0]?.["id"]), message: "该API密钥已存在" })
          }
          yield* sql`INSERT INTO api_keys ${
            sql.insert({ ...row, permissions: JSON.stringify(row.permissions), key_hash: digest })
          }`.pipe(
            Effect.mapError((error) =>
              isUniqueViolation(error) ? ApiKeyNameTaken.of(fields.tenant_id, fields.name) : fail("create API key")(error)
            )
          )
        })
      )
      return toApiKey(row, at)
    })

    const create = Effect.fn("ApiKeyAuth.create")(function*(input: NewApiKey) {
      const apiKey = generate(input.tenant_id, input.agent_id)
      // 64 fresh random bits colliding with a stored key would mean a broken random source, not a user error.
      const key = yield* insert(input, apiKey).pipe(
        Effect.catchTag("ApiKeyAlreadyStored", (error) => Effect.die(error))
      )
      return { key, api_key: apiKey }
    })

    const importKey = Effect.fn("ApiKeyAuth.importKey")(function*(input: ImportedApiKey) {
      const parsed = yield* parse(input.api_key)
      return yield* insert({ ...input, tenant_id: parsed.tenant_id, agent_id: parsed.agent_id }, input.api_key)
    })

    const list = Effect.fn("ApiKeyAuth.list")(function*(request: ListRequest) {
      const at = yield* now
      const where = sql.and([
        sql`tenant_id = ${request.tenant_id}`,
        ...(request.agent_id === undefined ? [] : [sql`agent_id = ${request.agent_id}`]),
        ...(request.status === undefined
          ? []
          : request.status === "expired"
          ? [sql`(status = 'expired' OR (status = 'active' AND expires_at IS NOT NULL AND expires_at <= ${at}))`]
          : request.status === "active"
          ? [sql`status = 'active' AND (expires_at IS NULL OR expires_at > ${at})`]
          : [sql`status = ${request.status}`])
      ])
      const [counted] = yield* sql`SELECT COUNT(*) AS total FROM api_keys WHERE ${where}`.pipe(storage("list API keys"))
      const total = (yield* decodeCount(counted ?? { total: 0 }).pipe(storage("list API keys"))).total
      const rows = yield* sql`SELECT ${columns} FROM api_keys WHERE ${where}
        ORDER BY created_at DESC, id DESC LIMIT ${request.page_size} OFFSET ${(request.page - 1) * request.page_size}`.pipe(
        Effect.flatMap(Effect.forEach((row) => decodeRow(row))),
        storage("list API keys")
      )
      return { items: rows.map((row) => toApiKey(row, at)), total }
    })

    const get = Effect.fn("ApiKeyAuth.get")(function*(id: string) {
      const row = yield* getRow(id)
      return toApiKey(row, yield* now)
    })

    const write = (row: ApiKeyRow) =>
      sql`UPDATE api_keys SET ${
        sql.update({
          name: row.name,
          description: row.description,
          permissions: JSON.stringify(row.permissions),
          status: row.status,
          expires_at: row.expires_at,
          updated_at: row.updated_at
        })
      } WHERE id = ${row.id}`.pipe(
        Effect.mapError((error) =>
          isUniqueViolation(error) ? ApiKeyNameTaken.of(row.tenant_id, row.name) : fail("update API key")(error)
        )
      )

    const update = Effect.fn("ApiKeyAuth.update")(function*(id: string, patch: ApiKeyPatch) {
      const at = yield* now
      const row = yield* transaction(
        "update API key",
        Effect.gen(function*() {
          const current = yield* getRow(id)
          const name = patch.name ?? current.name
          if (name !== current.name && (yield* nameUsed(current.tenant_id, name, id))) {
            return yield* ApiKeyNameTaken.of(current.tenant_id, name)
          }
          const updated: ApiKeyRow = {
            ...current,
            name,
            description: patch.description ?? current.description,
            permissions: patch.permissions ?? current.permissions,
            expires_at: patch.expires_at === undefined || patch.expires_at === null
              ? current.expires_at
              : naiveIso(DateTime.toEpochMillis(patch.expires_at)),
            status: patch.status ?? current.status,
            updated_at: at
          }
          yield* write(updated)
          return updated
        })
      )
      return toApiKey(row, at)
    })

    const disable = Effect.fn("ApiKeyAuth.disable")(function*(id: string) {
      const at = yield* now
      const row = yield* transaction(
        "disable API key",
        Effect.gen(function*() {
          const current = yield* getRow(id)
          const updated: ApiKeyRow = { ...current, status: "disabled", updated_at: at }
          yield* sql`UPDATE api_keys SET status = 'disabled', updated_at = ${at} WHERE id = ${id}`.pipe(
            storage("disable API key")
          )
          return updated
        })
      )
      return toApiKey(row, at)
    })

    const remove = Effect.fn("ApiKeyAuth.remove")(function*(id: string) {
      const deleted = yield* deleteWhere(sql, "api_keys", sql`id = ${id}`).pipe(storage("delete API key"))
      if (deleted === 0) return yield* ApiKeyNotFound.of(id)
      pendingUses -= pending.get(id)?.count ?? 0
      pending.delete(id)
    })

    /** Stored keys by hash, as read during `indexEpoch`; only keys that exist are held. */
    const keyIndexSize = Math.max(0, options.keyIndexSize ?? defaultKeyIndexSize)
    const keyIndex = new Map<string, CheckRow>()
    let indexEpoch: string | undefined

    // Read on every check: on SQLite straight from the connection when it is free, skipping the statement pipeline
    // that costs several times the read itself.
    const sqlite = Option.filter(yield* Effect.serviceOption(SqliteClient), (client) => client.client === sql)
    const epochQuery = "SELECT epoch FROM api_key_epoch WHERE id = 1"
    const epochRows: Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError> = Option.isSome(sqlite)
      ? sqlite.value.readNow(epochQuery)
      : sql.unsafe(epochQuery)
    /** The current key epoch; `undefined` if its row is gone, and then nothing may be served from the index. */
    const readEpoch = epochRows.pipe(
      Effect.map((rows) => rows.length === 0 ? undefined : String(rows[0]?.["epoch"])),
      storage("check API key")
    )

    // Scalar subqueries, not joins: for a join SQLite may build a Bloom filter over the joined tables on
    // every execution, which made each check several times slower.
    const readKey = (digest: string) =>
      sql`SELECT k.id, k.tenant_id, k.agent_id, k.key_hash, k.permissions, k.status, k.expires_at,
          (SELECT t.status FROM tenants t WHERE t.id = k.tenant_id) AS tenant_status,
          (SELECT a.status FROM agents a WHERE a.id = k.agent_id) AS agent_status
        FROM api_keys k WHERE k.key_hash = ${digest}`.pipe(
        Effect.flatMap((rows) => rows.length === 0 ? Effect.succeed(undefined) : decodeCheck(rows[0])),
        storage("check API key")
      )

    const remember = (digest: string, row: CheckRow) => {
      if (keyIndex.size >= keyIndexSize) keyIndex.delete(keyIndex.keys().next().value ?? "")
      keyIndex.set(digest, row)
    }

    // The hot path: plain functions over `flatMap`, so a check served from the index costs one SQL read.
    const storedKey = (digest: string): Effect.Effect<CheckRow | undefined, ApiKeyStorageError> => {
      if (keyIndexSize === 0) return readKey(digest)
      return Effect.flatMap(readEpoch, (epoch) => {
        if (epoch !== indexEpoch || epoch === undefined) {
          keyIndex.clear()
          indexEpoch = epoch
        }
        if (epoch === undefined) return readKey(digest)
        const indexed = keyIndex.get(digest)
        if (indexed !== undefined) return Effect.succeed(indexed)
        return Effect.map(readKey(digest), (row) => {
          // Another check may have seen a newer epoch meanwhile; this row then belongs to the older one.
          if (row !== undefined && indexEpoch === epoch) remember(digest, row)
          return row
        })
      })
    }

    const expire = (row: CheckRow, at: string) =>
      sql`UPDATE api_keys SET status = 'expired', updated_at = ${at} WHERE id = ${row.id} AND status = 'active'`.pipe(
        storage("expire API key"),
        Effect.andThen(Effect.fail(new ApiKeyExpired({ api_key_id: row.id, message: "API密钥已过期" })))
      )

    /** Why a stored key, whose tenant and agent exist with these statuses, may not be used at `millis`. */
    const refusal = (
      row: CheckRow,
      owners: { readonly tenant: string; readonly agent: string },
      millis: number
    ): CheckFailure | undefined => {
      if (row.status === "disabled") return new ApiKeyDisabled({ api_key_id: row.id, message: "API密钥已禁用" })
      if (row.status === "expired" || (row.expires_at !== null && effectiveStatus(row, naiveIso(millis)) === "expired")) {
        return new ApiKeyExpired({ api_key_id: row.id, message: "API密钥已过期" })
      }
      if (owners.tenant !== "active") {
        return new ApiKeyOwnerInactive({
          api_key_id: row.id,
          owner: "tenant",
          status: owners.tenant,
          message: "API密钥所属租户未激活"
        })
      }
      if (owners.agent !== "active") {
        return new ApiKeyOwnerInactive({
          api_key_id: row.id,
          owner: "agent",
          status: owners.agent,
          message: "API密钥所属Agent未激活"
        })
      }
      return undefined
    }

    /**
     * The stored key a presented one hashes to, with the time of the check; fails unless the key is usable.
     * The key's own tenant and agent must be the ones it names.
     */
    const check = (apiKey: string): Effect.Effect<{ readonly row: CheckRow; readonly at: number }, CheckFailure> => {
      const parsed = parseKey(apiKey)
      if (parsed === undefined) return Effect.fail(new ApiKeyMalformed({ message: "API密钥格式无效" }))
      const digest = hash(apiKey)
      return Effect.flatMap(storedKey(digest), (row) => {
        // A key whose tenant or agent is gone never validates, even if a foreign key failed to cascade.
        if (
          row === undefined || !hashesEqual(row.key_hash, digest) || row.tenant_id !== parsed.tenant_id ||
          row.agent_id !== parsed.agent_id || row.tenant_status === null || row.agent_status === null
        ) {
          return Effect.fail(ApiKeyUnknown.of())
        }
        const owners = { tenant: row.tenant_status, agent: row.agent_status }
        return Effect.clockWith((clock) => {
          const millis = clock.currentTimeMillisUnsafe()
          const refused = refusal(row, owners, millis)
          if (refused === undefined) return Effect.succeed({ row, at: millis })
          return refused._tag === "ApiKeyExpired" && row.status === "active" ? expire(row, naiveIso(millis)) : Effect.fail(refused)
        })
      })
    }

    const countUse = (id: string, at: number) => {
      const counted = pending.get(id)
      if (counted === undefined) pending.set(id, { count: 1, last: at })
      else {
        counted.count++
        counted.last = at
      }
      if (++pendingUses >= maxPending) full.openUnsafe()
    }

    const validate = (request: {
      readonly apiKey: string
      readonly requiredPermission?: string | undefined
      readonly recordUsage?: boolean | undefined
    }) =>
      Effect.flatMap(check(request.apiKey), ({ row, at }) => {
        const permission = request.requiredPermission
        if (permission !== undefined && !row.permissions.includes(permission)) {
          return Effect.fail(
            new ApiKeyPermissionDenied({
              api_key_id: row.id,
              tenant_id: row.tenant_id,
              agent_id: row.agent_id,
              permission,
              permissions: row.permissions,
              message: "API密钥权限不足"
            })
          )
        }
        if (request.recordUsage ?? true) countUse(row.id, at)
        return Effect.succeed({
          valid: true,
          tenant_id: row.tenant_id,
          agent_id: row.agent_id,
          api_key_id: row.id,
          permissions: row.permissions,
          has_permission: true,
          status: row.status
        })
      })

    const checkPermission = (apiKey: string, permission: string) =>
      Effect.map(check(apiKey), ({ row }) => ({
        has_permission: row.permissions.includes(permission),
        permission,
        all_permissions: row.permissions,
        tenant_id: row.tenant_id,
        agent_id: row.agent_id,
        api_key_status: row.status
      }))

    /** Whether this process journaled uses it has not folded yet; true at start, for what a crash left. */
    let unfolded = true

    /** Appends the uses counted so far to the journal: durable from here on. */
    const journalUsage = Effect.suspend(() => {
      if (pending.size === 0) return Effect.void
      const batch = [...pending.entries()]
      const batchUses = pendingUses
      pending.clear()
      pendingUses = 0
      full.closeUnsafe()
      const restore = Effect.sync(() => {
        pendingUses += batchUses
        for (const [id, used] of batch) {
          const counted = pending.get(id)
          if (counted === undefined) pending.set(id, used)
          else {
            counted.count += used.count
            if (used.last > counted.last) counted.last = used.last
          }
        }
      })
      const chunks = Array.from({ length: Math.ceil(batch.length / usageRowsPerStatement) }, (_, index) =>
        batch.slice(index * usageRowsPerStatement, (index + 1) * usageRowsPerStatement))
      return transaction(
        "record API key usage",
        Effect.forEach(chunks, (chunk) =>
          sql`INSERT INTO api_key_usage_journal (key_id, uses, last) VALUES ${
            sql.csv(chunk.map(([id, used]) => sql`(${id}, ${used.count}, ${naiveIso(used.last)})`))
          }`.pipe(storage("record API key usage")), { discard: true })
      ).pipe(
        Effect.tap(() => Effect.sync(() => (unfolded = true))),
        Effect.onError(() => restore),
        Effect.uninterruptible
      )
    })

    /**
     * Moves the journal into the key rows in one transaction. PostgreSQL deletes and sums in one statement, so a
     * row another replica appends meanwhile is either folded or left for the next fold, never lost; SQLite takes
     * the write lock up front, so nobody appends between the sum and the delete. On MySQL/MariaDB a locking read
     * of the whole journal first waits for appends in flight and then holds off new ones (InnoDB's next-key
     * locks, up to the end of the index) until the transaction ends, so the sum and the delete see the same rows.
     */
    const foldUsage = sql.onDialectOrElse({
      mysql: () =>
        Effect.gen(function*() {
          // A sum reads (and so locks) every row, and sends back one number instead of the rows.
          yield* sql`SELECT SUM(uses) AS uses FROM api_key_usage_journal FOR UPDATE`
          yield* sql`UPDATE api_keys JOIN (
              SELECT key_id, SUM(uses) AS uses, MAX(last) AS last FROM api_key_usage_journal GROUP BY key_id
            ) AS used ON api_keys.id = used.key_id
            SET api_keys.usage_count = api_keys.usage_count + used.uses,
              api_keys.last_used_at = CASE WHEN api_keys.last_used_at IS NULL OR api_keys.last_used_at < used.last
                THEN used.last ELSE api_keys.last_used_at END`
          yield* sql`DELETE FROM api_key_usage_journal`
        }).pipe(sql.withTransaction),
      pg: () =>
        sql`WITH gone AS (DELETE FROM api_key_usage_journal RETURNING key_id, uses, last),
          used AS (SELECT key_id, SUM(uses) AS uses, MAX(last) AS last FROM gone GROUP BY key_id)
        UPDATE api_keys SET usage_count = usage_count + used.uses,
          last_used_at = CASE WHEN api_keys.last_used_at IS NULL OR api_keys.last_used_at < used.last
            THEN used.last ELSE api_keys.last_used_at END
        FROM used WHERE api_keys.id = used.key_id`.pipe(Effect.asVoid),
      orElse: () =>
        Effect.gen(function*() {
          yield* sql`UPDATE api_keys SET usage_count = usage_count + used.uses,
            last_used_at = CASE WHEN api_keys.last_used_at IS NULL OR api_keys.last_used_at < used.last
              THEN used.last ELSE api_keys.last_used_at END
          FROM (SELECT key_id, SUM(uses) AS uses, MAX(last) AS last FROM api_key_usage_journal GROUP BY key_id) AS used
          WHERE api_keys.id = used.key_id`
          yield* sql`DELETE FROM api_key_usage_journal`
        }).pipe(sql.withTransaction, Effect.provideService(SqlClient.BeginTransaction, "BEGIN IMMEDIATE"))
    }).pipe(
      storage("record API key usage"),
      Effect.tap(() => Effect.sync(() => (unfolded = false))),
      Effect.uninterruptible
    )

    const flushUsage = Effect.andThen(journalUsage, foldUsage)

    yield* Effect.addFinalizer(() =>
      flushUsage.pipe(Effect.catch((error) => Effect.logError("could not record API key usage", error)))
    )
    // Wakes every interval, or as soon as the hot path says enough uses are waiting, and journals them; folds at
    // most once an interval. After a failed write it waits a whole interval, so a database that is down is not
    // retried in a tight loop.
    let lastFold = yield* Clock.currentTimeMillis
    yield* Effect.gen(function*() {
      yield* Effect.raceFirst(Effect.sleep(flushInterval), full.await)
      yield* journalUsage
      const at = yield* Clock.currentTimeMillis
      if (unfolded && at - lastFold >= flushInterval) {
        lastFold = at
        yield* foldUsage
      }
    }).pipe(
      Effect.catch((error) =>
        Effect.logWarning("could not record API key usage; will retry", error).pipe(
          Effect.andThen(Effect.sleep(flushInterval))
        )
      ),
      Effect.forever,
      Effect.forkScoped
    )

    return ApiKeyAuth.of({
      create,
      importKey,
      list,
      get,
      update,
      disable,
      remove,
      validate,
      checkPermission,
      flushUsage,
      pendingUsage: Effect.sync(() => pendingUses),
      usageFlush: { intervalMs: flushInterval, maxPending }
    })
  })

  /** Keys on the `SqlClient` the `TenantStore` uses, with their table migrated. */
  static readonly layer = (
    options: Options = {}
  ): Layer.Layer<ApiKeyAuth, Database.DatabaseMigrationError, SqlClient.SqlClient | TenantStore> =>
    Layer.effect(ApiKeyAuth, ApiKeyAuth.make(options)).pipe(Layer.provide(migrations))
}
