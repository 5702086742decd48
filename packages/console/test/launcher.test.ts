/**
 * The instance page's launcher tools against a real `maikit serve`: one component stopped and restarted alone,
 * the bot's config edited as a form and as TOML (with the diff before saving, a 409 when the file changed
 * meanwhile, the history with its diff and restore), and the bot's emoji and person records — on a MaiBot 0.x
 * checkout with its commented config files and a `data/MaiBot.db`, registered once for the whole file.
 */
import { assert, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { BrowserContext, Page } from "playwright-core"
import { checkout, emojiRow } from "../../core/test/fixtures/maibotTree.ts"
import { command, runnableBot } from "../../core/test/helpers/instances.ts"
import { accessibilityViolations, browser, ensureBuilt, openPage, screenshot, serve, type Server } from "./support.ts"

const emojiRows = 60
const personRows = 45

interface Fixture {
  readonly server: Server
  readonly context: BrowserContext
  readonly id: string
  readonly dir: string
  readonly botConfig: string
}

class Env extends Context.Service<Env, Fixture>()("test/LauncherEnv") {}

const EnvLive = Layer.effect(
  Env,
  Effect.gen(function*() {
    ensureBuilt()
    const [server, context] = yield* Effect.all([serve(), browser()], { concurrency: "unbounded" })
    const dir = runnableBot(checkout("0.x", { emoji: emojiRows, persons: personRows }).dir)
    const added = yield* Effect.promise(() =>
      server.api("/api/v1/instances/add", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          instance_name: "麦麦零点",
          install_path: dir,
          port: 8300,
          version: "0.12.3",
          install_services: [
            { name: "napcat-ada", path: Path.join(dir, "napcat-ada"), port: 8395, run_cmd: "python main.py" },
            { name: "napcat", path: Path.join(dir, "napcat"), port: 8396, run_cmd: command("interactive.mjs") }
          ]
        })
      }).then((response) => response.json() as Promise<{ instance_id: string }>)
    )
    return { server, context, id: added.instance_id, dir, botConfig: Path.join(dir, "config", "bot_config.toml") }
  })
)

const check = async (
  page: Page,
  errors: Array<string>,
  name: string,
  options: { readonly fullPage?: boolean; readonly scrollTo?: string; readonly refused?: number } = {}
) => {
  await screenshot(page, name, { fullPage: options.fullPage ?? true, scrollTo: options.scrollTo })
  // The browser reports the 4xx the step provoked on purpose (a 409, a 400) as a console error: those alone are expected.
  const expected = `the server responded with a status of ${options.refused ?? "none"} `
  errors.splice(0, errors.length, ...errors.filter((error) => !error.includes(expected)))
  assert.deepStrictEqual(errors, [], `console errors on ${name}`)
  const violations = await accessibilityViolations(page)
  assert.deepStrictEqual(violations, [], `accessibility on ${name}: ${JSON.stringify(violations)}`)
}

const visible = { timeout: 15_000 }

const pidsOf = (server: Server, id: string) =>
  server.api(`/api/v1/instance/${id}/status`)
    .then((response) => response.json() as Promise<{ components: Array<{ name: string; pid: number | null }> }>)
    .then((status) => Object.fromEntries(status.components.map((component) => [component.name, component.pid])))

layer(EnvLive, { timeout: 90_000, excludeTestServices: true })("the instance page's launcher tools", (it) => {
  it.effect("each component stops and restarts alone; the others keep their processes", () =>
    Effect.gen(function*() {
      const { server, context, id } = yield* Env
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/console/instances/${id}`)
        await page.getByRole("button", { name: "启动", exact: true }).click()
        await page.locator(".page-head .badge[data-state=running]").waitFor(visible)
        await expect.poll(async () => Object.values(await pidsOf(server, id)).every((pid) => pid !== null), visible).toBe(true)
        const before = await pidsOf(server, id)

        await page.getByRole("button", { name: "停止 main" }).click()
        await page.getByText("麦麦零点 的 main 已停止，其他组件照常运行。").waitFor(visible)
        await expect.poll(() => pidsOf(server, id), visible).toEqual({ ...before, main: null })
        await page.getByRole("button", { name: "启动 main" }).waitFor(visible)
        assert.strictEqual(await page.locator(".page-head .badge").getAttribute("data-state"), "running", "the others still run")
        await check(page, errors, "20-component-stopped")

        await page.getByRole("button", { name: "重启 napcat-ada" }).click()
        await expect.poll(async () => {
          const pid = (await pidsOf(server, id))["napcat-ada"]
          return pid !== null && pid !== before["napcat-ada"]
        }, visible).toBe(true)
        const afterRestart = await pidsOf(server, id)
        assert.strictEqual(afterRestart["napcat"], before["napcat"], "NapCat untouched")

        await page.getByRole("button", { name: "启动 main" }).click()
        await expect.poll(async () => (await pidsOf(server, id))["main"], visible).not.toBeNull()
        await page.getByRole("button", { name: "停止 main" }).waitFor(visible)
        await page.getByRole("button", { name: "停止", exact: true }).click()
        await page.locator(".page-head .badge[data-state=stopped]").waitFor(visible)
        await page.close()
      })
    }), 90_000)

  it.effect("a config value edited in the form is saved into the file with every comment kept; history restores it", () =>
    Effect.gen(function*() {
      const { server, context, id, dir, botConfig } = yield* Env
      const original = Fs.readFileSync(botConfig, "utf8")
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/console/instances/${id}?tab=config`)
        const nickname = page.getByRole("textbox", { name: "nickname", exact: true })
        await nickname.waitFor(visible)
        await page.getByText("麦麦的昵称").first().waitFor(visible)
        await check(page, errors, "21-config-form", { fullPage: false, scrollTo: "#panel-config" })

        await nickname.fill("小麦")
        await page.getByRole("switch", { name: "mentioned_bot_reply" }).click()
        await page.getByRole("spinbutton", { name: "talk_value", exact: true }).fill("0.5")
        await page.getByRole("button", { name: "检查 3 处修改" }).click()
        const review = page.getByRole("region", { name: "保存前的修改" })
        await review.waitFor(visible)
        assert.deepStrictEqual(await review.locator("tbody th").allTextContents(), ["bot.nickname", "chat.talk_value", "chat.mentioned_bot_reply"])
        await check(page, errors, "22-config-review")
        await review.getByRole("button", { name: "确认保存" }).click()
        await page.getByTestId("config-outcome").filter({ hasText: "已保存" }).waitFor(visible)

        const saved = Fs.readFileSync(botConfig, "utf8")
        const expected = original
          .replace("nickname = \"麦麦\" # 麦麦的昵称", "nickname = \"小麦\" # 麦麦的昵称")
          .replace("talk_value = 1 # 聊天频率", "talk_value = 0.5 # 聊天频率")
          .replace("mentioned_bot_reply = true # 是否启用提及必回复", "mentioned_bot_reply = false # 是否启用提及必回复")
        assert.notStrictEqual(expected, original)
        assert.strictEqual(saved, expected, "only the three values changed; every comment and line else is byte-identical")
        await check(page, errors, "23-config-saved", { fullPage: false })

        await page.getByRole("button", { name: "历史版本" }).click()
        const versions = page.locator(".history-list .pick")
        await expect.poll(() => versions.count(), visible).toBe(1)
        await versions.first().click()
        const diff = page.locator(".diff-lines")
        await expect.poll(() => diff.textContent(), visible).toContain("nickname = \"麦麦\" # 麦麦的昵称")
        assert.include(await page.locator(".diff-remove").allTextContents().then((lines) => lines.join("\n")), "nickname = \"麦麦\"")
        assert.include(await page.locator(".diff-add").allTextContents().then((lines) => lines.join("\n")), "nickname = \"小麦\"")
        await check(page, errors, "24-config-history-diff")
        await page.getByRole("button", { name: "恢复此版本" }).click()
        await page.getByRole("button", { name: "确认恢复" }).click()
        await page.getByTestId("config-outcome").filter({ hasText: "已恢复" }).waitFor(visible)
        assert.strictEqual(Fs.readFileSync(botConfig, "utf8"), original, "the version before the edit, byte for byte")
        await expect.poll(() => page.locator(".history-list .pick").count(), visible).toBe(2)

        // The other files: an entry of an array of tables in the model config, a variable in `.env`.
        const edit = async (file: string, target: string, value: string, disk: string, before: string, after: string) => {
          const text = Fs.readFileSync(disk, "utf8")
          assert.include(text, before)
          await page.getByRole("combobox", { name: "文件" }).selectOption({ label: file })
          await page.getByRole("button", { name: "表单" }).click()
          await page.locator(target).fill(value)
          await page.getByRole("button", { name: "检查 1 处修改" }).click()
          await page.getByRole("button", { name: "确认保存" }).click()
          await page.getByTestId("config-outcome").filter({ hasText: "已保存" }).waitFor(visible)
          assert.strictEqual(Fs.readFileSync(disk, "utf8"), text.replace(before, after))
        }
        await edit(
          "model_config.toml",
          "#config-api_providers_1__timeout",
          "60",
          Path.join(dir, "config", "model_config.toml"),
          "timeout = 120\nretry_interval = 5\n\n[[api_providers]] # 特殊",
          "timeout = 60\nretry_interval = 5\n\n[[api_providers]] # 特殊"
        )
        assert.strictEqual(await page.locator("#config-api_providers_0__api_key").getAttribute("type"), "password", "keys are not shown in the form")
        await check(page, errors, "23b-config-model-array", { fullPage: false, scrollTo: "#section-api_providers_1_" })
        await edit(".env", "#config-PORT", "8301", Path.join(dir, ".env"), "\nPORT=8000\n", "\nPORT=8301\n")
        await page.close()
      })
    }), 90_000)

  it.effect("the TOML text shows its diff before saving; a file changed meanwhile is a clear 409, merged on request", () =>
    Effect.gen(function*() {
      const { server, context, id, botConfig } = yield* Env
      const original = Fs.readFileSync(botConfig, "utf8")
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/console/instances/${id}?tab=config`)
        await page.getByRole("button", { name: "TOML 原文" }).click()
        const text = page.getByRole("textbox", { name: "文件原文（TOML）" })
        await expect.poll(() => text.inputValue(), visible).toBe(original)
        await text.fill(original.replace("qq_account = \"1145141919810\"", "qq_account = \"10001\""))
        await page.getByRole("button", { name: "检查修改" }).click()
        await page.locator(".diff-add").filter({ hasText: "qq_account = \"10001\"" }).waitFor(visible)
        await page.getByText("新增 1 行，删除 1 行").waitFor(visible)
        await check(page, errors, "25-config-raw-diff")

        // The bot (or anyone) changes the file while the review is open.
        const theirs = original.replace("alias_names = [\"麦叠\", \"牢麦\"]", "alias_names = [\"麦叠\"]")
        Fs.writeFileSync(botConfig, theirs)
        await page.getByRole("button", { name: "确认保存" }).click()
        const outcome = page.getByTestId("config-outcome")
        await outcome.filter({ hasText: "这个文件在你打开之后被修改过" }).waitFor(visible)
        assert.strictEqual(Fs.readFileSync(botConfig, "utf8"), theirs, "nothing was written")
        await page.getByRole("button", { name: "返回编辑" }).click()
        await check(page, errors, "26-config-conflict", { refused: 409 })

        await page.getByRole("button", { name: "在最新版本上保留我的修改" }).click()
        await outcome.filter({ hasText: "重新应用" }).waitFor(visible)
        await page.getByText("新增 1 行，删除 1 行").waitFor(visible)
        await check(page, errors, "26b-config-rebased")
        await page.getByRole("button", { name: "确认保存" }).click()
        await outcome.filter({ hasText: "已保存" }).waitFor(visible)
        assert.strictEqual(
          Fs.readFileSync(botConfig, "utf8"),
          theirs.replace("qq_account = \"1145141919810\"", "qq_account = \"10001\""),
          "both changes: theirs kept, mine applied on top"
        )

        // A value of the wrong type is refused by the server, naming the key.
        await text.fill(Fs.readFileSync(botConfig, "utf8").replace("qq_account = \"10001\"", "qq_account = 10001"))
        await page.getByRole("button", { name: "检查修改" }).click()
        await page.getByRole("button", { name: "确认保存" }).click()
        await outcome.filter({ hasText: "bot.qq_account" }).waitFor(visible)
        assert.include(await outcome.textContent(), "服务器拒绝保存")
        await check(page, errors, "27-config-type-error", { refused: 400 })
        Fs.writeFileSync(botConfig, original)
        await page.close()
      })
    }), 90_000)

  it.effect("the bot's emoji and people: totals, search, filters and paging from its MaiBot.db", () =>
    Effect.gen(function*() {
      const { server, context, id } = yield* Env
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/console/instances/${id}?tab=resources`)
        const pager = page.getByTestId("data-page")
        await expect.poll(() => pager.textContent(), visible).toBe(`第 1 / 3 页，共 ${emojiRows} 条`)
        const firstIds = () => page.locator(".data-table tbody tr td:first-child").allTextContents()
        assert.deepStrictEqual((await firstIds()).slice(0, 3), ["60", "59", "58"], "newest first")
        await check(page, errors, "28-data-emoji")

        await page.getByRole("button", { name: "下一页" }).click()
        await expect.poll(() => pager.textContent(), visible).toBe(`第 2 / 3 页，共 ${emojiRows} 条`)
        assert.strictEqual((await firstIds())[0], "40")

        const cats = Array.from({ length: emojiRows }, (_, i) => i + 1).filter((n) => emojiRow(n).description.includes("猫"))
        await page.getByRole("searchbox", { name: "搜索描述" }).fill("猫")
        await page.getByRole("searchbox", { name: "搜索描述" }).press("Enter")
        await expect.poll(() => pager.textContent(), visible).toBe(`第 1 / 1 页，共 ${cats.length} 条`)
        await page.getByRole("combobox", { name: "已注册" }).selectOption({ label: "是" })
        const registeredCats = cats.filter((n) => emojiRow(n).is_registered === 1)
        await expect.poll(() => pager.textContent(), visible).toBe(`第 1 / 1 页，共 ${registeredCats.length} 条`)
        assert.deepStrictEqual(await firstIds(), registeredCats.toReversed().map(String))
        await check(page, errors, "29-data-emoji-filtered")
        await page.getByRole("searchbox", { name: "搜索描述" }).fill("没有这种表情")
        await page.getByRole("searchbox", { name: "搜索描述" }).press("Enter")
        await page.getByText("没有符合筛选条件的记录。").waitFor(visible)
        await check(page, errors, "29b-data-no-match")
        await page.getByRole("button", { name: "清除筛选" }).click()

        await page.getByRole("button", { name: "用户" }).click()
        await expect.poll(() => pager.textContent(), visible).toBe(`第 1 / 3 页，共 ${personRows} 条`)
        const named = Array.from({ length: personRows }, (_, i) => i + 1).filter((n) => n % 4 !== 0 && `群友${n}`.includes("群友1"))
        await page.getByRole("searchbox", { name: "搜索名称" }).fill("群友1")
        await page.getByRole("searchbox", { name: "搜索名称" }).press("Enter")
        await expect.poll(() => pager.textContent(), visible).toBe(`第 1 / 1 页，共 ${named.length} 条`)
        await page.getByRole("button", { name: "清除筛选" }).click()
        await page.getByRole("combobox", { name: "已命名" }).selectOption({ label: "否" })
        await expect.poll(() => pager.textContent(), visible).toBe(`第 1 / 1 页，共 ${Math.floor(personRows / 4)} 条`)
        await check(page, errors, "30-data-people")
        await page.close()
      })
    }), 90_000)

  it.effect("the new pages on a phone and in English", () =>
    Effect.gen(function*() {
      const { server, context, id } = yield* Env
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.setViewportSize({ width: 390, height: 844 })
        await page.goto(`${server.url}/console/instances/${id}?tab=config`)
        await page.getByRole("textbox", { name: "nickname", exact: true }).waitFor(visible)
        await check(page, errors, "31-phone-components", { fullPage: false })
        await check(page, errors, "31b-phone-config", { fullPage: false, scrollTo: "#panel-config" })
        await page.goto(`${server.url}/console/instances/${id}?tab=resources`)
        await page.locator(".data-table tbody tr").first().waitFor(visible)
        await check(page, errors, "32-phone-data", { fullPage: false, scrollTo: "#panel-resources" })
        await page.setViewportSize({ width: 1280, height: 860 })
        // The system's dark theme, on the config history's diff.
        await page.emulateMedia({ colorScheme: "dark" })
        await page.goto(`${server.url}/console/instances/${id}?tab=config`)
        await page.getByRole("button", { name: "历史版本" }).click()
        await page.locator(".history-list .pick").first().click()
        await page.locator(".diff-lines").waitFor(visible)
        await check(page, errors, "32b-dark-history")
        await page.emulateMedia({ colorScheme: "light" })
        await page.goto(`${server.url}/console/instances/${id}?tab=resources`)
        await page.getByRole("button", { name: "Switch to English" }).click()
        await page.getByRole("button", { name: "People" }).click()
        await page.getByText(`Page 1 of 3, ${personRows} records`).waitFor(visible)
        await page.goto(`${server.url}/console/instances/${id}?tab=config`)
        await page.getByRole("button", { name: "History" }).click()
        await page.locator(".history-list .pick").first().waitFor(visible)
        assert.notMatch((await page.locator(".tabs, .toolbar, .history").first().textContent()) ?? "", /[版本历史配置]/, "no Chinese in the page's own words")
        await check(page, errors, "33-english-history")
        // The choice is remembered: back to Chinese for the files that follow.
        await page.getByRole("button", { name: "切换到中文" }).click()
        await page.close()
      })
    }), 90_000)
})
