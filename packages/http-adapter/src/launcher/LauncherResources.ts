/**
 * Handlers of the launcher's resource and config routes: `BotDatabase` and `BotConfigFiles` in the original's
 * shapes and messages. §1.6 answers every failure with HTTP 200 and `status: "failed"`, as the original did;
 * §1.7 and MaiKit's file routes answer with `{"detail": …}` and 400/403/404/409/500. Reads of config files
 * carry an `ETag` (the file's version); writes honour `If-Match`.
 */
import { Effect, Layer } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { BotConfigFiles, BotDatabase, type InstanceRegistry } from "@maikit/core/launcher"
import * as ApiFamily from "../ApiFamily.ts"
import { errors } from "./Launcher.ts"
import { LauncherResourcesApi } from "./LauncherResourcesApi.ts"

// ---------------------------------------------------------------------------------------------------------
// §1.6: envelopes

const ok = (message: string | null, data: unknown = null) => ({ status: "success" as const, message, data })
const failed = (message: string) => ({ status: "failed" as const, message, data: null })
const failedList = (message: string) => ({
  status: "failed" as const,
  message,
  data: null,
  total_count: null,
  limit: null,
  offset: null
})

const unavailableText: Record<BotDatabase.BotDatabaseUnavailable["reason"], string> = {
  missing: "数据库文件不存在",
  outside: "数据库路径指向实例目录之外",
  unreadable: "文件不是可读的 SQLite 数据库",
  "not-maibot": "不是 MaiBot 的数据库（没有 emoji 或 images 表）"
}

const actionText: Record<string, string> = {
  create: "创建",
  update: "更新",
  delete: "删除",
  get: "查询",
  search: "查询",
  count: "统计"
}

const notFoundText = (error: BotDatabase.BotRecordNotFound): string => {
  if (error.kind === "emoji") {
    return error.key === "hash" ? `未找到哈希为 ${error.value} 的表情包` : `未找到ID为 ${error.value} 的表情包`
  }
  switch (error.key) {
    case "record_id":
      return `未找到记录ID为 ${error.value} 的用户信息`
    case "platform":
      return `未找到平台用户 ${error.value} 的用户信息`
    default:
      return `未找到用户ID为 ${error.value} 的用户信息`
  }
}

type DatabaseFailure =
  | BotDatabase.BotDatabaseUnavailable
  | BotDatabase.BotDatabaseError
  | BotDatabase.BotRecordNotFound
  | BotDatabase.BotRecordRejected
  | InstanceRegistry.InstanceNotFound
  | InstanceRegistry.InstanceRegistryError

/** The original's failure messages (its "无法连接到数据库" for an unusable database, with the reason). */
export const databaseMessage = (error: DatabaseFailure): string => {
  switch (error._tag) {
    case "InstanceNotFound":
      return `无法连接到数据库: 未找到实例 ${error.id}`
    case "InstanceRegistryError":
      return `无法连接到数据库: ${error.message}`
    case "BotDatabaseUnavailable":
      return `无法连接到数据库: ${unavailableText[error.reason]}: ${error.path}`
    case "BotRecordNotFound":
      return notFoundText(error)
    case "BotRecordRejected":
      return error.reason === "nothing-to-update"
        ? error.detail === "no field to update" ? "没有提供要更新的字段" : `没有提供要更新的字段（${error.detail}）`
        : error.reason === "duplicate"
        ? `用户ID ${error.detail} 已存在`
        : `limit 和 offset 必须是非负整数: ${error.detail}`
    case "BotDatabaseError":
      return `${actionText[error.operation] ?? error.operation}失败: ${error.reason}`
  }
}

const asFailure = (error: DatabaseFailure) => Effect.succeed(failed(databaseMessage(error)))
const asListFailure = (error: DatabaseFailure) => Effect.succeed(failedList(databaseMessage(error)))

/** "…成功", noting submitted fields this generation's table has no column for. */
const done = (message: string, outcome: BotDatabase.WriteOutcome) =>
  outcome.ignored.length === 0 ? message : `${message}（此版本的数据库没有 ${outcome.ignored.join(", ")} 字段，已忽略）`

const listed = (page: BotDatabase.PageResult, message: string | null, totalCount: number | null) => ({
  status: "success" as const,
  message,
  data: page.records,
  total_count: totalCount,
  limit: page.limit,
  offset: page.offset
})

export const ResourceHandlers = ApiFamily.group(
  LauncherResourcesApi,
  "launcherResources",
  Effect.fn(function*(handlers) {
    const db = yield* BotDatabase.BotDatabase
    const { emoji, person } = db
    return handlers
      .handle("createEmoji", ({ params, payload }) =>
        emoji.create(params.iid, payload).pipe(
          Effect.map((outcome) => ok(done("表情包创建成功", outcome))),
          Effect.catch(asFailure)
        ))
      .handle("getEmoji", ({ params }) =>
        emoji.get(params.iid, params.emoji_id).pipe(Effect.map((record) => ok(null, record)), Effect.catch(asFailure)))
      .handle("emojiByHash", ({ params, payload }) =>
        emoji.getByHash(params.iid, payload.emoji_hash).pipe(
          Effect.map((record) => ok(null, record)),
          Effect.catch(asFailure)
        ))
      .handle("searchEmoji", ({ params, payload }) =>
        emoji.search(params.iid, payload, { limit: payload.limit ?? 100, offset: payload.offset ?? 0, order: "recent" })
          .pipe(Effect.map((page) => listed(page, null, page.total)), Effect.catch(asListFailure)))
      .handle("countEmoji", ({ params, payload }) =>
        emoji.count(params.iid, payload).pipe(
          Effect.map((total) => ok(`成功获取表情包总数: ${total}`, { total_count: total })),
          Effect.catch(asFailure)
        ))
      .handle("batchEmoji", ({ params, payload }) =>
        emoji.search(params.iid, payload, {
          limit: payload.batch_size ?? 50,
          offset: payload.offset ?? 0,
          order: "id",
          count: false
        })
          .pipe(
            Effect.map((page) => listed(page, `成功获取 ${page.records.length} 条表情包记录`, null)),
            Effect.catch(asListFailure)
          ))
      .handle("updateEmoji", ({ params, payload }) =>
        emoji.update(params.iid, params.emoji_id, payload).pipe(
          Effect.map((outcome) => ok(done("表情包更新成功", outcome))),
          Effect.catch(asFailure)
        ))
      .handle("deleteEmoji", ({ params }) =>
        emoji.remove(params.iid, params.emoji_id).pipe(Effect.as(ok("表情包删除成功")), Effect.catch(asFailure)))
      .handle("emojiUsage", ({ params }) =>
        emoji.recordUsage(params.iid, params.emoji_id).pipe(
          Effect.map((outcome) => ok(done("使用统计更新成功", outcome))),
          Effect.catch(asFailure)
        ))
      .handle("emojiQuery", ({ params }) =>
        emoji.recordQuery(params.iid, params.emoji_id).pipe(Effect.as(ok("查询统计更新成功")), Effect.catch(asFailure)))
      .handle("createPerson", ({ params, payload }) =>
        person.create(params.iid, payload).pipe(
          Effect.map((outcome) => ok(done("用户信息创建成功", outcome))),
          Effect.catch(asFailure)
        ))
      .handle("personByRecord", ({ params }) =>
        person.getByRecordId(params.iid, params.record_id).pipe(
          Effect.map((record) => ok(null, record)),
          Effect.catch(asFailure)
        ))
      .handle("getPerson", ({ params }) =>
        person.getByPersonId(params.iid, params.person_id).pipe(
          Effect.map((record) => ok(null, record)),
          Effect.catch(asFailure)
        ))
      .handle("personByPlatform", ({ params, payload }) =>
        person.getByPlatform(params.iid, payload.platform, payload.user_id).pipe(
          Effect.map((record) => ok(null, record)),
          Effect.catch(asFailure)
        ))
      .handle("searchPerson", ({ params, payload }) =>
        person.search(params.iid, payload, { limit: payload.limit ?? 100, offset: payload.offset ?? 0, order: "recent" })
          .pipe(Effect.map((page) => listed(page, null, page.total)), Effect.catch(asListFailure)))
      .handle("countPerson", ({ params, payload }) =>
        person.count(params.iid, payload).pipe(
          Effect.map((total) => ok(`成功获取用户信息总数: ${total}`, { total_count: total })),
          Effect.catch(asFailure)
        ))
      .handle("batchPerson", ({ params, payload }) =>
        person.search(params.iid, payload, {
          limit: payload.batch_size ?? 50,
          offset: payload.offset ?? 0,
          order: "id",
          count: false
        })
          .pipe(
            Effect.map((page) => listed(page, `成功获取 ${page.records.length} 条用户信息记录`, null)),
            Effect.catch(asListFailure)
          ))
      .handle("updatePerson", ({ params, payload }) =>
        person.update(params.iid, params.person_id, payload).pipe(
          Effect.map((outcome) => ok(done("用户信息更新成功", outcome))),
          Effect.catch(asFailure)
        ))
      .handle("deletePerson", ({ params }) =>
        person.remove(params.iid, params.person_id).pipe(Effect.as(ok("用户信息删除成功")), Effect.catch(asFailure)))
      .handle("personInteraction", ({ params, payload }) =>
        person.interaction(params.iid, params.person_id, payload).pipe(
          Effect.map((outcome) => ok(done("用户交互信息更新成功", outcome))),
          Effect.catch(asFailure)
        ))
      .handle("resourceInfo", ({ params }) =>
        db.info(params.iid).pipe(
          Effect.map((info) => ok("获取成功", info)),
          Effect.catchTags({
            InstanceNotFound: (error) => Effect.succeed(failed(`未找到实例: ${error.id}`)),
            InstanceRegistryError: asFailure
          })
        ))
      .handle("resourceAll", () =>
        db.infoAll.pipe(
          Effect.map((all) => ({
            status: "success" as const,
            message: "获取成功",
            data: all,
            total_count: all.length,
            limit: null,
            offset: null
          })),
          Effect.catch(asListFailure)
        ))
  })
)

// ---------------------------------------------------------------------------------------------------------
// §1.7 and MaiKit's file routes: `{"detail"}` errors

const detail = (status: number, message: string) => HttpServerResponse.jsonUnsafe({ detail: message }, { status })

const labels: Record<BotConfigFiles.ConfigFile, string> = {
  bot: "Bot配置",
  lpmm: "LPMM配置",
  env: "环境变量",
  adapter: "适配器配置",
  model: "模型配置"
}

type ConfigFailure =
  | BotConfigFiles.ReadError
  | BotConfigFiles.WriteError
  | BotConfigFiles.ConfigVersionNotFound

/** A core failure as the original worded it (`<what>失败: …`), with the status it used. */
export const configResponse = (action: string) => (error: ConfigFailure) => {
  switch (error._tag) {
    case "InstanceNotFound":
      return detail(404, `实例 ${error.id} 不存在`)
    case "InstanceRegistryError":
      return detail(500, `${action}失败: ${error.message}`)
    case "ConfigFileNotFound":
      return detail(
        404,
        error.file === "adapter"
          ? `适配器配置文件和模板文件都不存在: ${error.path}, ${error.template ?? "(无模板)"}`
          : error.file === "env"
          ? `环境变量文件不存在: ${error.path}`
          : `${labels[error.file as BotConfigFiles.ConfigFile] ?? error.file}文件不存在: ${error.path}`
      )
    case "ConfigFileInvalid":
      return detail(400, `TOML文件格式错误: ${error.path} 第 ${error.line} 行第 ${error.column} 列: ${error.reason}`)
    case "ConfigValueInvalid":
      return detail(
        400,
        `${error.file === "env" ? "写入环境变量文件失败" : "写入TOML文件失败"}: ${error.key}: ${error.reason}`
      )
    case "ConfigVersionConflict":
      return detail(
        409,
        `配置文件已被修改（当前版本 ${error.current ?? "无"}，提交基于 ${error.expected}），请重新读取后再保存`
      )
    case "ConfigVersionNotFound":
      return detail(404, `没有版本 ${error.version}`)
    case "ConfigPathEscapes":
      return detail(403, `${error.path} 指向实例目录之外的 ${error.resolved}，已拒绝`)
    case "ConfigFileError":
      return detail(500, `${action}失败: ${error.reason}`)
  }
}

const etag = (version: string) => `"${version}"`

/** `If-Match: "v"`, `W/"v"` or `v`; `*` matches whatever version the file has. */
export const expectedVersion = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined
  const value = header.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1")
  return value === "*" || value === "" ? undefined : value
}

const json = (body: unknown, version: string) => HttpServerResponse.jsonUnsafe(body, { headers: { etag: etag(version) } })

const text = (body: string, version: string | undefined) =>
  HttpServerResponse.text(body, {
    contentType: "text/plain; charset=utf-8",
    ...(version === undefined ? {} : { headers: { etag: etag(version) } })
  })

const written = (message: string) => (result: BotConfigFiles.WriteResult) =>
  json({ status: "success", message, version: result.version, changed: result.changed, saved: result.saved }, result.version)

const isTable = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Seed 002's PUT sends the keys to change: tables merge, everything else replaces. */
const mergeInto = (current: unknown, changes: Record<string, unknown>): Record<string, unknown> => {
  const base = isTable(current) ? { ...current } : {}
  for (const [key, value] of Object.entries(changes)) {
    base[key] = isTable(value) && isTable(base[key]) ? mergeInto(base[key], value) : value
  }
  return base
}

const originalFiles = {
  config: { file: "bot", read: "获取bot配置", update: "更新bot配置" },
  lpmm: { file: "lpmm", read: "获取LPMM配置", update: "更新LPMM配置" },
  env: { file: "env", read: "获取环境变量配置", update: "更新环境变量配置" },
  adapter: { file: "adapter", read: "获取适配器配置", update: "更新适配器配置" },
  model: { file: "model", read: "获取模型配置", update: "更新模型配置" }
} as const

const seedFiles = { bot: "bot", lpmm: "lpmm", env: "env" } as const

export const ConfigHandlers = ApiFamily.group(
  LauncherResourcesApi,
  "launcherConfig",
  Effect.fn(function*(handlers) {
    const files = yield* BotConfigFiles.BotConfigFiles
    const get = (iid: string, name: keyof typeof originalFiles) => {
      const spec = originalFiles[name]
      return files.read(iid, spec.file).pipe(
        Effect.map((snapshot) =>
          json({ status: "success", message: `${spec.read}成功`, data: snapshot.data }, snapshot.version)
        ),
        Effect.catch((error) => Effect.succeed(configResponse(spec.read)(error)))
      )
    }
    const update = (iid: string, name: keyof typeof originalFiles, data: unknown, ifMatch: string | undefined) => {
      const spec = originalFiles[name]
      return files.write(iid, spec.file, data, { expectedVersion: expectedVersion(ifMatch) }).pipe(
        Effect.map((result) =>
          json({ status: "success", message: `${spec.update}成功`, version: result.version, changed: result.changed }, result.version)
        ),
        Effect.catch((error) => Effect.succeed(configResponse(spec.update)(error)))
      )
    }
    return handlers
      .handle("configGet", ({ params }) => get(params.iid, "config"))
      .handle("configUpdate", ({ params, payload, headers }) =>
        update(params.iid, "config", (payload as { config_data: unknown }).config_data, headers["if-match"]))
      .handle("lpmmGet", ({ params }) => get(params.iid, "lpmm"))
      .handle("lpmmUpdate", ({ params, payload, headers }) =>
        update(params.iid, "lpmm", (payload as { config_data: unknown }).config_data, headers["if-match"]))
      .handle("envGet", ({ params }) => get(params.iid, "env"))
      .handle("envUpdate", ({ params, payload, headers }) =>
        update(params.iid, "env", (payload as { env_data: unknown }).env_data, headers["if-match"]))
      .handle("adapterGet", ({ params }) => get(params.iid, "adapter"))
      .handle("adapterUpdate", ({ params, payload, headers }) =>
        update(params.iid, "adapter", (payload as { config_data: unknown }).config_data, headers["if-match"]))
      .handle("modelGet", ({ params }) => get(params.iid, "model"))
      .handle("modelUpdate", ({ params, payload, headers }) =>
        update(params.iid, "model", (payload as { config_data: unknown }).config_data, headers["if-match"]))
      .handle("seedConfigGet", ({ params }) =>
        files.read(params.iid, seedFiles[params.kind]).pipe(
          Effect.map((snapshot) =>
            json(
              params.kind === "env"
                ? { status: "success", message: "获取环境变量配置成功", variables: snapshot.data, data: snapshot.data }
                : { status: "success", message: `获取${labels[seedFiles[params.kind]]}成功`, config: snapshot.data, data: snapshot.data },
              snapshot.version
            )
          ),
          Effect.catch((error) => Effect.succeed(configResponse("获取配置")(error)))
        ))
      .handle("seedConfigUpdate", ({ params, payload, headers }) =>
        Effect.gen(function*() {
          const file = seedFiles[params.kind]
          const current = yield* files.read(params.iid, file)
          const result = yield* files.write(params.iid, file, mergeInto(current.data, payload), {
            expectedVersion: expectedVersion(headers["if-match"]) ?? current.version
          })
          return json({
            success: true,
            status: "success",
            message: `${labels[file]}已更新`,
            version: result.version
          }, result.version)
        }).pipe(Effect.catch((error) => Effect.succeed(configResponse("更新配置")(error)))))
      .handle("fileGet", ({ params }) =>
        files.read(params.iid, params.file).pipe(
          Effect.map((snapshot) =>
            json({
              status: "success",
              file: snapshot.file,
              path: snapshot.path,
              generation: snapshot.generation,
              template: snapshot.template,
              version: snapshot.version,
              data: snapshot.data
            }, snapshot.version)
          ),
          Effect.catch((error) => Effect.succeed(configResponse(`获取${labels[params.file]}`)(error)))
        ))
      .handle("filePut", ({ params, payload, headers }) =>
        files.write(params.iid, params.file, payload, { expectedVersion: expectedVersion(headers["if-match"]) }).pipe(
          Effect.map(written(`更新${labels[params.file]}成功`)),
          Effect.catch((error) => Effect.succeed(configResponse(`更新${labels[params.file]}`)(error)))
        ))
      .handle("fileRawGet", ({ params }) =>
        files.read(params.iid, params.file).pipe(
          Effect.map((snapshot) => text(snapshot.text, snapshot.version)),
          Effect.catch((error) => Effect.succeed(configResponse(`获取${labels[params.file]}`)(error)))
        ))
      .handle("fileRawPut", ({ params, payload, headers }) =>
        files.writeText(params.iid, params.file, payload, { expectedVersion: expectedVersion(headers["if-match"]) }).pipe(
          Effect.map(written(`更新${labels[params.file]}成功`)),
          Effect.catch((error) => Effect.succeed(configResponse(`更新${labels[params.file]}`)(error)))
        ))
      .handle("fileVersions", ({ params }) =>
        files.versions(params.iid, params.file).pipe(
          Effect.map((list) => ({ status: "success" as const, current: list.current, versions: list.versions })),
          Effect.catch((error) => Effect.succeed(configResponse("获取历史版本")(error)))
        ))
      .handle("fileVersion", ({ params }) =>
        files.version(params.iid, params.file, params.version).pipe(
          Effect.map((kept) => text(kept.text, kept.id.slice(-16))),
          Effect.catch((error) => Effect.succeed(configResponse("获取历史版本")(error)))
        ))
      .handle("fileVersionDiff", ({ params }) =>
        files.diff(params.iid, params.file, params.version).pipe(
          Effect.map((diff) => text(diff.patch, undefined)),
          Effect.catch((error) => Effect.succeed(configResponse("比较历史版本")(error)))
        ))
      .handle("fileVersionRestore", ({ params, headers }) =>
        files.restore(params.iid, params.file, params.version, { expectedVersion: expectedVersion(headers["if-match"]) })
          .pipe(
            Effect.map(written(`已恢复${labels[params.file]}到版本 ${params.version}`)),
            Effect.catch((error) => Effect.succeed(configResponse("恢复历史版本")(error)))
          ))
  })
)

const owned = ["/api/v1/resource/", "/api/v1/resources/", "/api/v1/config/"]

export type Requirements = BotConfigFiles.BotConfigFiles | BotDatabase.BotDatabase

/**
 * The bot's resources and config files, ready for `MaikitServer` next to `Launcher.family`. Needs
 * `BotConfigFiles` and `BotDatabase`.
 */
export const resourcesFamily: ApiFamily.ApiFamily<Requirements> = ApiFamily.make({
  name: "launcher-resources",
  api: LauncherResourcesApi,
  routes: HttpApiBuilder.layer(LauncherResourcesApi).pipe(Layer.provide([ResourceHandlers, ConfigHandlers])),
  owns: (path) => owned.some((prefix) => path.startsWith(prefix)),
  errors
})
