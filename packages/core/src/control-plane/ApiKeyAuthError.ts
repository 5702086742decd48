import { Schema } from "effect"

/** Not a key in the original's format: no `mmc_` prefix, bad base64, not UTF-8, or too few parts. */
export class ApiKeyMalformed extends Schema.TaggedError<ApiKeyMalformed>()("ApiKeyMalformed", {
  message: Schema.String
}) {}

/** Well formed, but no stored key has this hash (never issued, deleted, or altered). */
export class ApiKeyUnknown extends Schema.TaggedError<ApiKeyUnknown>()("ApiKeyUnknown", {
  message: Schema.String
}) {
  static readonly of = () => new ApiKeyUnknown({ message: "API密钥不存在" })
}

export class ApiKeyDisabled extends Schema.TaggedError<ApiKeyDisabled>()("ApiKeyDisabled", {
  api_key_id: Schema.String,
  message: Schema.String
}) {}

export class ApiKeyExpired extends Schema.TaggedError<ApiKeyExpired>()("ApiKeyExpired", {
  api_key_id: Schema.String,
  message: Schema.String
}) {}

/** The key is fine but its tenant or agent is not active (the original never checked). */
export class ApiKeyOwnerInactive extends Schema.TaggedError<ApiKeyOwnerInactive>()("ApiKeyOwnerInactive", {
  api_key_id: Schema.String,
  owner: Schema.Literals(["tenant", "agent"]),
  status: Schema.String,
  message: Schema.String
}) {}

/** The key is usable but lacks the permission the caller required. */
export class ApiKeyPermissionDenied extends Schema.TaggedError<ApiKeyPermissionDenied>()("ApiKeyPermissionDenied", {
  api_key_id: Schema.String,
  tenant_id: Schema.String,
  agent_id: Schema.String,
  permission: Schema.String,
  permissions: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/** No key record with this id (management routes). */
export class ApiKeyNotFound extends Schema.TaggedError<ApiKeyNotFound>()("ApiKeyNotFound", {
  api_key_id: Schema.String,
  message: Schema.String
}) {
  static readonly of = (id: string) => new ApiKeyNotFound({ api_key_id: id, message: "API密钥不存在" })
}

export class ApiKeyNameTaken extends Schema.TaggedError<ApiKeyNameTaken>()("ApiKeyNameTaken", {
  tenant_id: Schema.String,
  name: Schema.String,
  message: Schema.String
}) {
  static readonly of = (tenantId: string, name: string) =>
    new ApiKeyNameTaken({ tenant_id: tenantId, name, message: "该租户下已存在同名API密钥" })
}

/** An import of a key that is already stored. */
export class ApiKeyAlreadyStored extends Schema.TaggedError<ApiKeyAlreadyStored>()("ApiKeyAlreadyStored", {
  api_key_id: Schema.String,
  message: Schema.String
}) {}

/** The database failed (or returned a row that does not decode); the operation changed nothing. */
export class ApiKeyStorageError extends Schema.TaggedError<ApiKeyStorageError>()("ApiKeyStorageError", {
  operation: Schema.String,
  message: Schema.String,
  cause: Schema.Defect()
}) {
  static readonly of = (operation: string) => (cause: unknown) =>
    new ApiKeyStorageError({
      operation,
      cause,
      message: `${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`
    })
}
