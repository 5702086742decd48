/**
 * The launcher's resource and config routes (`shared/contracts/launcher-api.md` §1.6, §1.7, seed 002's
 * `/config/{id}/…` aliases) and MaiKit's own routes for the model config, raw text and kept versions. Schemas
 * and endpoints only; the handlers are in `LauncherResources.ts`.
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { BotConfigFiles } from "@maikit/core/launcher"
import { Detail, ValidationDetail } from "./LauncherApi.ts"

const Status = Schema.Literals(["success", "failed"])

/** The original's `DataResponse`: every field present, `null` when unset, HTTP 200 even when failed. */
export const DataResponse = Schema.Struct({
  status: Status,
  message: Schema.NullOr(Schema.String),
  data: Schema.NullOr(Schema.Unknown)
}).annotate({ identifier: "ResourceDataResponse" })

/** A record of the bot's database in the original's field names; newer MaiBot columns follow them. */
export const DatabaseRecord = Schema.Record(Schema.String, Schema.Unknown).annotate({ identifier: "BotDatabaseRecord" })

/** The original's `ListResponse`. */
export const ListResponse = Schema.Struct({
  status: Status,
  message: Schema.NullOr(Schema.String),
  data: Schema.NullOr(Schema.Array(Schema.Unknown)),
  total_count: Schema.NullOr(Schema.Int),
  limit: Schema.NullOr(Schema.Int),
  offset: Schema.NullOr(Schema.Int)
}).annotate({ identifier: "ResourceListResponse" })

const OptionalString = Schema.optional(Schema.NullOr(Schema.String))
const OptionalInt = Schema.optional(Schema.NullOr(Schema.Int))
const OptionalNumber = Schema.optional(Schema.NullOr(Schema.Number))

export const EmojiCreate = Schema.Struct({
  full_path: Schema.String,
  format: Schema.String,
  emoji_hash: Schema.String,
  description: OptionalString,
  emotion: OptionalString,
  record_time: OptionalNumber
})

export const EmojiFilter = Schema.Struct({
  emotion: OptionalString,
  is_registered: OptionalInt,
  is_banned: OptionalInt,
  format: OptionalString,
  description_like: OptionalString
})

export const EmojiSearch = Schema.Struct({
  ...EmojiFilter.fields,
  /** Default 100; capped at 1000, refused when negative. */
  limit: Schema.optional(Schema.Int),
  offset: Schema.optional(Schema.Int)
})

export const EmojiBatch = Schema.Struct({
  ...EmojiFilter.fields,
  /** Default 50; capped at 1000, refused when negative. */
  batch_size: Schema.optional(Schema.Int),
  offset: Schema.optional(Schema.Int)
})

export const EmojiHash = Schema.Struct({ emoji_hash: Schema.String })

export const EmojiUpdate = Schema.Struct({
  full_path: OptionalString,
  format: OptionalString,
  emoji_hash: OptionalString,
  description: OptionalString,
  emotion: OptionalString,
  is_registered: OptionalInt,
  is_banned: OptionalInt
})

const personText = {
  person_name: OptionalString,
  name_reason: OptionalString,
  nickname: OptionalString,
  impression: OptionalString,
  short_impression: OptionalString,
  points: OptionalString,
  forgotten_points: OptionalString,
  info_list: OptionalString,
  know_times: OptionalNumber,
  know_since: OptionalNumber,
  last_know: OptionalNumber
}

export const PersonCreate = Schema.Struct({
  person_id: Schema.String,
  platform: Schema.String,
  user_id: Schema.String,
  ...personText
})

export const PersonUpdate = Schema.Struct({ platform: OptionalString, user_id: OptionalString, ...personText })

export const PersonFilter = Schema.Struct({
  platform: OptionalString,
  person_name_like: OptionalString,
  nickname_like: OptionalString,
  impression_like: OptionalString,
  has_person_name: Schema.optional(Schema.NullOr(Schema.Boolean))
})

export const PersonSearch = Schema.Struct({
  ...PersonFilter.fields,
  limit: Schema.optional(Schema.Int),
  offset: Schema.optional(Schema.Int)
})

export const PersonBatch = Schema.Struct({
  ...PersonFilter.fields,
  batch_size: Schema.optional(Schema.Int),
  offset: Schema.optional(Schema.Int)
})

export const PersonPlatform = Schema.Struct({ platform: Schema.String, user_id: Schema.String })

export const PersonInteraction = Schema.Struct({
  impression_update: OptionalString,
  short_impression_update: OptionalString,
  points_update: OptionalString
})

const ValidationError = ValidationDetail.pipe(HttpApiSchema.status(422))
const NotFound = Detail.pipe(HttpApiSchema.status(404))
const BadRequest = Detail.pipe(HttpApiSchema.status(400))
const Forbidden = Detail.pipe(HttpApiSchema.status(403))
const Conflict = Detail.pipe(HttpApiSchema.status(409))
const InternalError = Detail.pipe(HttpApiSchema.status(500))

const iid = { iid: Schema.String }
const emojiParams = { iid: Schema.String, emoji_id: Schema.NumberFromString.check(Schema.isInt()) }
const personParams = { iid: Schema.String, person_id: Schema.String }

export class LauncherResourceGroup extends HttpApiGroup.make("launcherResources")
  .add(
    HttpApiEndpoint.post("createEmoji", "/api/v1/resource/:iid/emoji", {
      params: iid,
      payload: EmojiCreate,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.post("emojiByHash", "/api/v1/resource/:iid/emoji/hash", {
      params: iid,
      payload: EmojiHash,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.post("searchEmoji", "/api/v1/resource/:iid/emoji/search", {
      params: iid,
      payload: EmojiSearch,
      success: ListResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.post("countEmoji", "/api/v1/resource/:iid/emoji/count", {
      params: iid,
      payload: EmojiFilter,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.post("batchEmoji", "/api/v1/resource/:iid/emoji/batch", {
      params: iid,
      payload: EmojiBatch,
      success: ListResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.get("getEmoji", "/api/v1/resource/:iid/emoji/:emoji_id", {
      params: emojiParams,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.put("updateEmoji", "/api/v1/resource/:iid/emoji/:emoji_id", {
      params: emojiParams,
      payload: EmojiUpdate,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.delete("deleteEmoji", "/api/v1/resource/:iid/emoji/:emoji_id", {
      params: emojiParams,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.post("emojiUsage", "/api/v1/resource/:iid/emoji/:emoji_id/usage", {
      params: emojiParams,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.post("emojiQuery", "/api/v1/resource/:iid/emoji/:emoji_id/query", {
      params: emojiParams,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.post("createPerson", "/api/v1/resource/:iid/person", {
      params: iid,
      payload: PersonCreate,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.post("personByPlatform", "/api/v1/resource/:iid/person/platform", {
      params: iid,
      payload: PersonPlatform,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.post("searchPerson", "/api/v1/resource/:iid/person/search", {
      params: iid,
      payload: PersonSearch,
      success: ListResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.post("countPerson", "/api/v1/resource/:iid/person/count", {
      params: iid,
      payload: PersonFilter,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.post("batchPerson", "/api/v1/resource/:iid/person/batch", {
      params: iid,
      payload: PersonBatch,
      success: ListResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.get("personByRecord", "/api/v1/resource/:iid/person/record/:record_id", {
      params: { iid: Schema.String, record_id: Schema.NumberFromString.check(Schema.isInt()) },
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.get("getPerson", "/api/v1/resource/:iid/person/:person_id", {
      params: personParams,
      success: DataResponse
    }),
    HttpApiEndpoint.put("updatePerson", "/api/v1/resource/:iid/person/:person_id", {
      params: personParams,
      payload: PersonUpdate,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.delete("deletePerson", "/api/v1/resource/:iid/person/:person_id", {
      params: personParams,
      success: DataResponse
    }),
    HttpApiEndpoint.post("personInteraction", "/api/v1/resource/:iid/person/:person_id/interaction", {
      params: personParams,
      payload: PersonInteraction,
      success: DataResponse,
      error: ValidationError
    }),
    HttpApiEndpoint.get("resourceInfo", "/api/v1/resource/:iid/info", { params: iid, success: DataResponse }),
    HttpApiEndpoint.get("resourceAll", "/api/v1/resource/all", { success: ListResponse })
  )
  .annotateMerge(OpenApi.annotations({
    title: "Launcher: bot resources",
    description: "The emoji and person records in a MaiBot instance's own data/MaiBot.db (0.x `emoji`, 1.x `images`), " +
      "in the original's field names. Failures answer HTTP 200 with status \"failed\", as the original did."
  }))
{}

export const ConfigUpdateRequest = Schema.Struct({
  /** Required as by the original; not compared with the path. */
  instance_id: Schema.String,
  config_data: Schema.Record(Schema.String, Schema.Unknown)
})

export const EnvUpdateRequest = Schema.Struct({
  instance_id: Schema.String,
  env_data: Schema.Record(Schema.String, Schema.String)
})

export const ConfigResponse = Schema.Struct({
  status: Schema.Literal("success"),
  message: Schema.String,
  data: Schema.Unknown
})

export const UpdateResponse = Schema.Struct({
  status: Schema.Literal("success"),
  message: Schema.String,
  /** MaiKit: the file's new version (also the `ETag` header). */
  version: Schema.String,
  changed: Schema.Boolean
})

/** Seed 002's GET `/config/{id}/bot|lpmm`: `config` as the seed shows it, the original's envelope beside it. */
export const SeedConfigResponse = Schema.Struct({
  status: Schema.Literal("success"),
  message: Schema.String,
  config: Schema.Unknown,
  data: Schema.Unknown
})

export const SeedEnvResponse = Schema.Struct({
  status: Schema.Literal("success"),
  message: Schema.String,
  variables: Schema.Unknown,
  data: Schema.Unknown
})

export const SeedUpdateResponse = Schema.Struct({
  success: Schema.Literal(true),
  status: Schema.Literal("success"),
  message: Schema.String,
  version: Schema.String
})

const ifMatch = { "if-match": Schema.optional(Schema.String) }
const configErrors = [NotFound, BadRequest, Forbidden, Conflict, ValidationError, InternalError]

const originalConfig = <const Name extends string>(name: Name, path: string) => [
  HttpApiEndpoint.get(`${name}Get`, `/api/v1/resources/:iid/${path}/get`, {
    params: iid,
    success: ConfigResponse,
    error: configErrors
  }),
  HttpApiEndpoint.post(`${name}Update`, `/api/v1/resources/:iid/${path}/update`, {
    params: iid,
    headers: ifMatch,
    payload: name === "env" ? EnvUpdateRequest : ConfigUpdateRequest,
    success: UpdateResponse,
    error: configErrors
  })
] as const

export const FileInfo = Schema.Struct({
  status: Schema.Literal("success"),
  file: BotConfigFiles.ConfigFile,
  path: Schema.String,
  generation: BotConfigFiles.Generation,
  template: Schema.NullOr(Schema.String),
  version: Schema.String,
  data: Schema.Unknown
})

export const SavedVersion = Schema.Struct({
  id: Schema.String,
  savedAt: Schema.String,
  version: Schema.String,
  size: Schema.Int
})

export const WriteResponse = Schema.Struct({
  status: Schema.Literal("success"),
  message: Schema.String,
  version: Schema.String,
  changed: Schema.Boolean,
  saved: Schema.NullOr(SavedVersion)
})

export const VersionsResponse = Schema.Struct({
  status: Schema.Literal("success"),
  current: Schema.NullOr(Schema.String),
  versions: Schema.Array(SavedVersion)
})

const fileParams = { iid: Schema.String, file: BotConfigFiles.ConfigFile }
const versionParams = { ...fileParams, version: Schema.String }
const Text = Schema.String.pipe(HttpApiSchema.asText({ contentType: "text/plain; charset=utf-8" }))

export class LauncherConfigGroup extends HttpApiGroup.make("launcherConfig")
  .add(
    ...originalConfig("config", "config"),
    ...originalConfig("lpmm", "lpmm"),
    ...originalConfig("env", "env"),
    ...originalConfig("adapter", "adapter/napcat"),
    ...originalConfig("model", "model"),
    HttpApiEndpoint.get("seedConfigGet", "/api/v1/config/:iid/:kind", {
      params: { iid: Schema.String, kind: Schema.Literals(["bot", "lpmm", "env"]) },
      success: Schema.Union([SeedConfigResponse, SeedEnvResponse]),
      error: configErrors
    }),
    HttpApiEndpoint.put("seedConfigUpdate", "/api/v1/config/:iid/:kind", {
      params: { iid: Schema.String, kind: Schema.Literals(["bot", "lpmm", "env"]) },
      headers: ifMatch,
      payload: Schema.Record(Schema.String, Schema.Unknown),
      success: SeedUpdateResponse,
      error: configErrors
    }),
    HttpApiEndpoint.get("fileGet", "/api/v1/resources/:iid/files/:file", {
      params: fileParams,
      success: FileInfo,
      error: configErrors
    }),
    HttpApiEndpoint.put("filePut", "/api/v1/resources/:iid/files/:file", {
      params: fileParams,
      headers: ifMatch,
      payload: Schema.Record(Schema.String, Schema.Unknown),
      success: WriteResponse,
      error: configErrors
    }),
    HttpApiEndpoint.get("fileRawGet", "/api/v1/resources/:iid/files/:file/raw", {
      params: fileParams,
      success: Text,
      error: configErrors
    }),
    HttpApiEndpoint.put("fileRawPut", "/api/v1/resources/:iid/files/:file/raw", {
      params: fileParams,
      headers: ifMatch,
      payload: Text,
      success: WriteResponse,
      error: configErrors
    }),
    HttpApiEndpoint.get("fileVersions", "/api/v1/resources/:iid/files/:file/versions", {
      params: fileParams,
      success: VersionsResponse,
      error: configErrors
    }),
    HttpApiEndpoint.get("fileVersion", "/api/v1/resources/:iid/files/:file/versions/:version", {
      params: versionParams,
      success: Text,
      error: configErrors
    }),
    HttpApiEndpoint.get("fileVersionDiff", "/api/v1/resources/:iid/files/:file/versions/:version/diff", {
      params: versionParams,
      success: Text,
      error: configErrors
    }),
    HttpApiEndpoint.post("fileVersionRestore", "/api/v1/resources/:iid/files/:file/versions/:version/restore", {
      params: versionParams,
      headers: ifMatch,
      success: WriteResponse,
      error: configErrors
    })
  )
  .annotateMerge(OpenApi.annotations({
    title: "Launcher: bot config files",
    description: "The original's /resources/{id}/config|lpmm|env|adapter/napcat get/update (errors as {\"detail\"}), " +
      "seed 002's /config/{id}/bot|lpmm|env, and MaiKit's routes for every file (bot, model, lpmm, env, adapter): " +
      "JSON or raw text, kept versions, diff, restore. Reads send an ETag; a write with a stale If-Match gets 409. " +
      "Writes patch the file: comments and layout of untouched parts stay byte for byte."
  }))
{}

export class LauncherResourcesApi extends HttpApi.make("launcherResources")
  .add(LauncherResourceGroup)
  .add(LauncherConfigGroup)
  .annotateMerge(OpenApi.annotations({
    title: "MaiKit launcher resources API",
    description: "A MaiBot instance's own data and config files, served by MaiKit's BotDatabase and BotConfigFiles"
  }))
{}
