import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { BotConfigFiles, BotDatabase, InstanceRegistry } from "@maikit/core/launcher"
import { SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import { checkout, type Checkout, fixtureText } from "../../core/test/fixtures/maibotTree.ts"
import { supervisorLayer, tempDir } from "../../core/test/helpers/instances.ts"
import { Launcher, LauncherResources, MaikitServer } from "../src/index.ts"

/** The headers the Vue client's axios wrapper puts on every request. */
const clientHeaders = {
  "content-type": "application/json",
  accept: "application/json",
  "x-client-name": "MailLauncher-Frontend",
  "x-client-version": "1.0.0"
}

const serve = Effect.gen(function*() {
  const dataDir = tempDir("resources-http")
  const context = yield* Layer.build(
    MaikitServer.layer({
      families: [Launcher.family, Launcher.instancesFamily, LauncherResources.resourcesFamily],
      host: "127.0.0.1",
      port: 0,
      maxBodyBytes: 256 * 1024
    }).pipe(
      Layer.provideMerge(Layer.mergeAll(
        BotConfigFiles.BotConfigFiles.layer({ keepVersions: 5 }),
        BotDatabase.BotDatabase.layer()
      )),
      Layer.provideMerge(Layer.mergeAll(
        supervisorLayer(dataDir),
        SystemMetrics.SystemMetrics.layer,
        UpdateChecker.UpdateChecker.layer()
      ))
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  const base = address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${address.port}`
  return { base, registry: Context.get(context, InstanceRegistry.InstanceRegistry), dataDir }
})

interface Answer {
  readonly status: number
  readonly body: string
  readonly headers: Headers
  /** The parsed body, read field by field below; the assertions are its check. */
  // oxlint-disable-next-line no-explicit-any -- dozens of nested reads of the original's loose envelopes
  readonly json: any
}

const call = (url: string, init: RequestInit = {}) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(url, {
      ...init,
      headers: { ...clientHeaders, "x-request-time": new Date().toISOString(), ...(init.headers as Record<string, string>) }
    })
    const body = await response.text()
    let json: unknown
    try {
      json = JSON.parse(body)
    } catch {
      json = undefined
    }
    return { status: response.status, body, headers: response.headers, json }
  })

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  call(url, { method: "POST", body: JSON.stringify(body), headers })
const put = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  call(url, { method: "PUT", body: JSON.stringify(body), headers })

/** Registers a checkout the way the Vue client's "add existing instance" does. */
const add = (base: string, tree: Checkout) =>
  Effect.gen(function*() {
    const adapter = Path.join(tree.dir, "napcat-ada")
    Fs.mkdirSync(adapter, { recursive: true })
    Fs.writeFileSync(Path.join(tree.dir, "bot.py"), "")
    const answer = yield* post(`${base}/api/v1/instances/add`, {
      instance_name: `mai-${tree.generation}`,
      maibot_path: tree.dir,
      adapter_path: adapter,
      install_services: [{ name: "napcat-ada", path: adapter, port: 8095, run_cmd: "python main.py" }],
      install_path: tree.dir,
      port: 8000,
      version: "检测到的MaiBot版本",
      host: "localhost",
      token: ""
    })
    assert.strictEqual(answer.status, 200, answer.body)
    return answer.json.instance_id as string
  })

describe("launcher resource and config routes", () => {
  it.live("the Vue client's config dialog: every tab loads and saves, comments survive", () =>
    Effect.gen(function*() {
      const { base } = yield* serve
      const tree = checkout("0.x")
      const id = yield* add(base, tree)
      const bot = yield* call(`${base}/api/v1/resources/${id}/config/get`)
      assert.strictEqual(bot.status, 200)
      assert.strictEqual(bot.json.status, "success")
      assert.strictEqual(bot.json.message, "获取bot配置成功")
      assert.strictEqual(bot.json.data.bot.nickname, "麦麦")
      assert.match(bot.headers.get("etag") ?? "", /^"[0-9a-f]{16}"$/)
      const edited = structuredClone(bot.json.data)
      edited.bot.nickname = "小麦"
      const saved = yield* post(`${base}/api/v1/resources/${id}/config/update`, { instance_id: id, config_data: edited })
      assert.strictEqual(saved.status, 200, saved.body)
      assert.strictEqual(saved.json.message, "更新bot配置成功")
      const after = Fs.readFileSync(Path.join(tree.dir, "config", "bot_config.toml"), "utf8")
      assert.strictEqual(
        after,
        fixtureText("0.x", "template", "bot_config_template.toml").replace("nickname = \"麦麦\" #", "nickname = \"小麦\" #")
      )

      for (const [tab, message] of [["lpmm", "获取LPMM配置成功"], ["adapter/napcat", "获取适配器配置成功"]] as const) {
        const got = yield* call(`${base}/api/v1/resources/${id}/${tab}/get`)
        assert.strictEqual(got.status, 200, got.body)
        assert.strictEqual(got.json.message, message)
        const update = yield* post(`${base}/api/v1/resources/${id}/${tab}/update`, { instance_id: id, config_data: got.json.data })
        assert.strictEqual(update.status, 200, update.body)
      }
      const env = yield* call(`${base}/api/v1/resources/${id}/env/get`)
      assert.deepStrictEqual(env.json.data, { HOST: "127.0.0.1", PORT: "8000", WEBUI_HOST: "127.0.0.1", WEBUI_PORT: "8001" })
      const envSaved = yield* post(`${base}/api/v1/resources/${id}/env/update`, {
        instance_id: id,
        env_data: { ...env.json.data, PORT: "8010" }
      })
      assert.strictEqual(envSaved.json.message, "更新环境变量配置成功")
      assert.include(Fs.readFileSync(Path.join(tree.dir, ".env"), "utf8"), "# 麦麦主程序配置\nHOST=127.0.0.1\nPORT=8010\n")
      const model = yield* call(`${base}/api/v1/resources/${id}/model/get`)
      assert.strictEqual(model.json.message, "获取模型配置成功")
      assert.strictEqual(model.json.data.models[0].name, "deepseek-v3")
    }))

  it.live("config errors in the original's {detail} shapes; 409 on a stale If-Match", () =>
    Effect.gen(function*() {
      const { base } = yield* serve
      const tree = checkout("1.x")
      const id = yield* add(base, tree)
      const unknown = yield* call(`${base}/api/v1/resources/${"a".repeat(40)}/config/get`)
      assert.deepStrictEqual([unknown.status, unknown.json], [404, { detail: `实例 ${"a".repeat(40)} 不存在` }])
      const lpmm = yield* call(`${base}/api/v1/resources/${id}/lpmm/get`)
      assert.strictEqual(lpmm.status, 404)
      assert.match(lpmm.json.detail, /^LPMM配置文件不存在: /)
      const current = yield* call(`${base}/api/v1/resources/${id}/config/get`)
      const version = current.headers.get("etag") as string
      const nulled = structuredClone(current.json.data)
      nulled.chat.talk_value = null
      const nullAnswer = yield* post(`${base}/api/v1/resources/${id}/config/update`, { instance_id: id, config_data: nulled })
      assert.strictEqual(nullAnswer.status, 400)
      assert.match(nullAnswer.json.detail, /^写入TOML文件失败: chat\.talk_value: null/)
      const typed = structuredClone(current.json.data)
      typed.webui.port = "8001"
      const typeAnswer = yield* post(`${base}/api/v1/resources/${id}/config/update`, { instance_id: id, config_data: typed })
      assert.strictEqual(typeAnswer.status, 400)
      assert.include(typeAnswer.json.detail, "webui.port: expected a number")
      const changed = structuredClone(current.json.data)
      changed.webui.port = 8002
      const first = yield* post(`${base}/api/v1/resources/${id}/config/update`, { instance_id: id, config_data: changed }, {
        "if-match": version
      })
      assert.strictEqual(first.status, 200, first.body)
      changed.webui.port = 8003
      const stale = yield* post(`${base}/api/v1/resources/${id}/config/update`, { instance_id: id, config_data: changed }, {
        "if-match": version
      })
      assert.strictEqual(stale.status, 409)
      assert.include(stale.json.detail, "请重新读取后再保存")
      assert.include(Fs.readFileSync(Path.join(tree.dir, "config", "bot_config.toml"), "utf8"), "port = 8002 # WebUI 端口。")
      const envNull = yield* post(`${base}/api/v1/resources/${id}/env/update`, { instance_id: id, env_data: { A: null } })
      assert.strictEqual(envNull.status, 422)
      const missingId = yield* post(`${base}/api/v1/resources/${id}/config/update`, { config_data: {} })
      assert.strictEqual(missingId.status, 422)
      const huge = yield* post(`${base}/api/v1/resources/${id}/config/update`, {
        instance_id: id,
        config_data: { padding: "x".repeat(300 * 1024) }
      })
      assert.strictEqual(huge.status, 413)
      Fs.appendFileSync(Path.join(tree.dir, "config", "model_config.toml"), "\n[broken\n")
      const broken = yield* call(`${base}/api/v1/resources/${id}/model/get`)
      assert.strictEqual(broken.status, 400)
      assert.match(broken.json.detail, /^TOML文件格式错误: .* 第 \d+ 行第 \d+ 列: /)
    }))

  it.live("the resource manager's emoji and person pages over a 1.x database", () =>
    Effect.gen(function*() {
      const { base } = yield* serve
      const tree = checkout("1.x", { emoji: 400, persons: 120 })
      const id = yield* add(base, tree)
      const info = yield* call(`${base}/api/v1/resource/${id}/info`)
      assert.strictEqual(info.json.status, "success")
      assert.strictEqual(info.json.data.generation, "1.x")
      assert.isTrue(info.json.data.database.valid)
      assert.isTrue(info.json.data.database.exists)
      assert.isAbove(info.json.data.database.size, 0)
      const count = yield* post(`${base}/api/v1/resource/${id}/emoji/count`, {})
      assert.deepStrictEqual(count.json, { status: "success", message: "成功获取表情包总数: 320", data: { total_count: 320 } })
      const registered = yield* post(`${base}/api/v1/resource/${id}/emoji/count`, { is_registered: 1, is_banned: 1 })
      assert.strictEqual(registered.json.status, "success")
      const batch = yield* post(`${base}/api/v1/resource/${id}/emoji/batch`, { batch_size: 20, offset: 0 })
      assert.strictEqual(batch.json.status, "success")
      assert.strictEqual(batch.json.message, "成功获取 20 条表情包记录")
      assert.isNull(batch.json.total_count)
      for (const field of ["id", "full_path", "description", "format", "emotion", "query_count", "usage_count", "is_registered", "is_banned"]) {
        assert.property(batch.json.data[0], field)
      }
      const created = yield* post(`${base}/api/v1/resource/${id}/emoji`, {
        full_path: "data/emoji/vue.png",
        format: "png",
        emoji_hash: "vuehash",
        description: "来自客户端",
        emotion: "开心"
      })
      assert.strictEqual(created.json.status, "success")
      assert.match(created.json.message, /^表情包创建成功/)
      const byHash = yield* post(`${base}/api/v1/resource/${id}/emoji/hash`, { emoji_hash: "vuehash" })
      const emojiId = byHash.json.data.id as number
      const deleted = yield* call(`${base}/api/v1/resource/${id}/emoji/${emojiId}`, { method: "DELETE" })
      assert.deepStrictEqual(deleted.json, { status: "success", message: "表情包删除成功", data: null })
      const again = yield* call(`${base}/api/v1/resource/${id}/emoji/${emojiId}`)
      assert.deepStrictEqual(again.json, { status: "failed", message: `未找到ID为 ${emojiId} 的表情包`, data: null })
      const notInt = yield* call(`${base}/api/v1/resource/${id}/emoji/abc`)
      assert.strictEqual(notInt.status, 422)

      const people = yield* post(`${base}/api/v1/resource/${id}/person/count`, { has_person_name: true })
      assert.strictEqual(people.json.data.total_count, 90)
      const personBatch = yield* post(`${base}/api/v1/resource/${id}/person/batch`, { batch_size: 10, offset: 0, platform: "qq" })
      assert.strictEqual(personBatch.json.data.length, 10)
      assert.strictEqual(personBatch.json.data[0].nickname, "昵称120")
      const now = Date.now() / 1000
      const createdPerson = yield* post(`${base}/api/v1/resource/${id}/person`, {
        person_id: "vue-person",
        platform: "qq",
        user_id: "777",
        person_name: "客户端",
        name_reason: "",
        nickname: "前端",
        impression: "",
        short_impression: "",
        points: "",
        know_times: now,
        know_since: now,
        last_know: now
      })
      assert.strictEqual(createdPerson.json.status, "success", createdPerson.body)
      const interaction = yield* post(`${base}/api/v1/resource/${id}/person/vue-person/interaction`, {
        impression_update: "",
        short_impression_update: "",
        points_update: "喜欢猫"
      })
      assert.strictEqual(interaction.json.status, "success")
      const read = yield* call(`${base}/api/v1/resource/${id}/person/vue-person`)
      assert.strictEqual(read.json.data.points, "喜欢猫")
      const duplicate = yield* post(`${base}/api/v1/resource/${id}/person`, { person_id: "vue-person", platform: "qq", user_id: "1" })
      assert.deepStrictEqual(duplicate.json, { status: "failed", message: "用户ID vue-person 已存在", data: null })
      const removed = yield* call(`${base}/api/v1/resource/${id}/person/vue-person`, { method: "DELETE" })
      assert.strictEqual(removed.json.message, "用户信息删除成功")

      const sqlish = yield* post(`${base}/api/v1/resource/${id}/emoji/search`, {
        description_like: "' OR 1=1; DROP TABLE images; --",
        limit: 10
      })
      assert.strictEqual(sqlish.json.total_count, 0)
      const negative = yield* post(`${base}/api/v1/resource/${id}/emoji/search`, { limit: -5 })
      assert.strictEqual(negative.status, 200)
      assert.strictEqual(negative.json.status, "failed")
      assert.isNull(negative.json.data)
      const enormous = yield* post(`${base}/api/v1/resource/${id}/emoji/search`, { limit: 1e12 })
      assert.strictEqual(enormous.json.limit, 1000)
      assert.strictEqual(enormous.json.total_count, 320)
      const unknown = yield* post(`${base}/api/v1/resource/${"b".repeat(40)}/emoji/count`, {})
      assert.deepStrictEqual([unknown.status, unknown.json.status], [200, "failed"])
      assert.match(unknown.json.message, /^无法连接到数据库/)
      const all = yield* call(`${base}/api/v1/resource/all`)
      assert.strictEqual(all.json.total_count, 1)
    }))

  it.live("a missing database is the original's failed answer, and is not created", () =>
    Effect.gen(function*() {
      const { base } = yield* serve
      const tree = checkout("0.x", false)
      const id = yield* add(base, tree)
      const count = yield* post(`${base}/api/v1/resource/${id}/emoji/count`, {})
      assert.strictEqual(count.status, 200)
      assert.strictEqual(count.json.status, "failed")
      assert.match(count.json.message, /^无法连接到数据库: 数据库文件不存在/)
      assert.isFalse(Fs.existsSync(Path.join(tree.dir, "data", "MaiBot.db")))
      const info = yield* call(`${base}/api/v1/resource/${id}/info`)
      assert.deepStrictEqual(info.json.data.database.exists, false)
      const unknownInfo = yield* call(`${base}/api/v1/resource/${"c".repeat(40)}/info`)
      assert.deepStrictEqual(unknownInfo.json, { status: "failed", message: `未找到实例: ${"c".repeat(40)}`, data: null })
    }))

  it.live("seed 002's /config aliases, raw text, versions, diff and restore, all in the OpenAPI document", () =>
    Effect.gen(function*() {
      const { base } = yield* serve
      const tree = checkout("0.x", false)
      const id = yield* add(base, tree)
      const seed = yield* call(`${base}/api/v1/config/${id}/bot`)
      assert.strictEqual(seed.json.config.bot.nickname, "麦麦")
      assert.deepStrictEqual(seed.json.config, seed.json.data)
      const partial = yield* put(`${base}/api/v1/config/${id}/bot`, { bot: { nickname: "种子" } })
      assert.deepStrictEqual([partial.status, partial.json.success], [200, true], partial.body)
      const merged = yield* call(`${base}/api/v1/config/${id}/bot`)
      assert.strictEqual(merged.json.config.bot.nickname, "种子")
      assert.strictEqual(merged.json.config.bot.qq_account, "1145141919810")
      const env = yield* put(`${base}/api/v1/config/${id}/env`, { PORT: "8123" })
      assert.strictEqual(env.status, 200, env.body)
      const variables = yield* call(`${base}/api/v1/config/${id}/env`)
      assert.deepStrictEqual(variables.json.variables, { HOST: "127.0.0.1", PORT: "8123", WEBUI_HOST: "127.0.0.1", WEBUI_PORT: "8001" })

      const raw = yield* call(`${base}/api/v1/resources/${id}/files/lpmm/raw`)
      assert.strictEqual(raw.body, fixtureText("0.x", "template", "lpmm_config_template.toml"))
      assert.match(raw.headers.get("content-type") ?? "", /^text\/plain/)
      const etag = raw.headers.get("etag") as string
      const newText = raw.body.replace("version = \"0.1.0\"", "version = \"0.1.1\"")
      const rawPut = yield* call(`${base}/api/v1/resources/${id}/files/lpmm/raw`, {
        method: "PUT",
        body: newText,
        headers: { "content-type": "text/plain; charset=utf-8", "if-match": etag }
      })
      assert.strictEqual(rawPut.status, 200, rawPut.body)
      assert.strictEqual(rawPut.json.saved.version, etag.slice(1, -1))
      const stale = yield* call(`${base}/api/v1/resources/${id}/files/lpmm/raw`, {
        method: "PUT",
        body: newText,
        headers: { "content-type": "text/plain", "if-match": etag }
      })
      assert.strictEqual(stale.status, 409)
      const badRaw = yield* call(`${base}/api/v1/resources/${id}/files/lpmm/raw`, {
        method: "PUT",
        body: "[lpmm\nversion = 1",
        headers: { "content-type": "text/plain" }
      })
      assert.strictEqual(badRaw.status, 400)
      assert.strictEqual(Fs.readFileSync(Path.join(tree.dir, "config", "lpmm_config.toml"), "utf8"), newText)

      const versions = yield* call(`${base}/api/v1/resources/${id}/files/lpmm/versions`)
      assert.strictEqual(versions.json.versions.length, 1)
      const versionId = versions.json.versions[0].id as string
      const diff = yield* call(`${base}/api/v1/resources/${id}/files/lpmm/versions/${versionId}/diff`)
      assert.include(diff.body, "-version = \"0.1.0\"\n+version = \"0.1.1\"")
      const kept = yield* call(`${base}/api/v1/resources/${id}/files/lpmm/versions/${versionId}`)
      assert.strictEqual(kept.body, raw.body)
      const restored = yield* post(`${base}/api/v1/resources/${id}/files/lpmm/versions/${versionId}/restore`, {})
      assert.strictEqual(restored.status, 200, restored.body)
      assert.strictEqual(Fs.readFileSync(Path.join(tree.dir, "config", "lpmm_config.toml"), "utf8"), raw.body)
      const traversal = yield* call(`${base}/api/v1/resources/${id}/files/lpmm/versions/..%2F..%2Fmaikit.db`)
      assert.strictEqual(traversal.status, 404)
      const badFile = yield* call(`${base}/api/v1/resources/${id}/files/secrets`)
      assert.strictEqual(badFile.status, 422)

      const json = yield* call(`${base}/api/v1/resources/${id}/files/model`)
      assert.strictEqual(json.json.generation, "0.x")
      const model = structuredClone(json.json.data)
      model.models[0].price_in = 5
      const written = yield* put(`${base}/api/v1/resources/${id}/files/model`, model, { "if-match": json.headers.get("etag") as string })
      assert.strictEqual(written.status, 200, written.body)
      assert.isTrue(written.json.changed)

      const openapi = yield* call(`${base}/openapi.json`)
      const paths = Object.keys(openapi.json.paths)
      for (
        const path of [
          "/api/v1/resource/{iid}/emoji/batch",
          "/api/v1/resource/{iid}/person/{person_id}/interaction",
          "/api/v1/resources/{iid}/config/get",
          "/api/v1/resources/{iid}/adapter/napcat/update",
          "/api/v1/config/{iid}/{kind}",
          "/api/v1/resources/{iid}/files/{file}/versions/{version}/restore"
        ]
      ) assert.include(paths, path)
    }))
})
