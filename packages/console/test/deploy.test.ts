/**
 * The deploy page and the instance's versions against a real `maikit serve` whose Deployer installs from fixture
 * remotes (local bare git repositories shaped like MaiBot's and the adapter's) and a PEP 503 index on loopback
 * that holds every download until the test lets it go — so a deploy can be watched mid-way and cancelled, then
 * retried to completion, started, updated to 1.x with its backup, and restored from it.
 */
import { assert, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { BrowserContext, Page } from "playwright-core"
import { fixtureWorld, type SlowIndex, slowIndex, tempDir } from "../../core/test/helpers/deployer.ts"
import { accessibilityViolations, browser, ensureBuilt, openPage, screenshot, serve, type Server } from "./support.ts"

interface Fixture {
  readonly server: Server
  readonly context: BrowserContext
  readonly index: SlowIndex
  /** Where deploys go. */
  readonly home: string
}

class Env extends Context.Service<Env, Fixture>()("test/DeployEnv") {}

const EnvLive = Layer.effect(
  Env,
  Effect.gen(function*() {
    ensureBuilt()
    const world = fixtureWorld()
    const index = yield* Effect.acquireRelease(Effect.promise(() => slowIndex(world.wheels)), (held) => Effect.promise(held.close))
    const [server, context] = yield* Effect.all([
      serve({
        env: {
          MAIKIT_MAIBOT_REMOTES: world.maibot,
          MAIKIT_ADAPTER_REMOTES: world.adapter,
          MAIKIT_PIP_INDEX_URL: index.url,
          PIP_CONFIG_FILE: "/dev/null",
          PIP_FIND_LINKS: "",
          PIP_NO_INDEX: "",
          PIP_DISABLE_PIP_VERSION_CHECK: "1",
          PIP_DEFAULT_TIMEOUT: "600"
        }
      }),
      browser()
    ], { concurrency: "unbounded" })
    return { server, context, index, home: tempDir("deployments") }
  })
)

const check = async (
  page: Page,
  errors: Array<string>,
  name: string,
  options: { readonly fullPage?: boolean; readonly scrollTo?: string; readonly refused?: number } = {}
) => {
  await screenshot(page, name, { fullPage: options.fullPage ?? true, scrollTo: options.scrollTo })
  // The browser reports the 4xx a step provoked on purpose as a console error: those alone are expected.
  const expected = `the server responded with a status of ${options.refused ?? "none"} `
  errors.splice(0, errors.length, ...errors.filter((error) => !error.includes(expected)))
  assert.deepStrictEqual(errors, [], `console errors on ${name}`)
  const violations = await accessibilityViolations(page)
  assert.deepStrictEqual(violations, [], `accessibility on ${name}: ${JSON.stringify(violations)}`)
}

const visible = { timeout: 15_000 }
/** git, `python -m venv` and pip on a busy two-core machine. */
const installing = { timeout: 200_000, interval: 500 }

const instanceOf = (server: Server, id: string) =>
  server.api("/api/v1/instances")
    .then((response) => response.json() as Promise<{ instances: Array<{ id: string; name: string; version: string; status: string }> }>)
    .then((answer) => answer.instances.find((instance) => instance.id === id))

let deployedId = ""

layer(EnvLive, { timeout: 120_000, excludeTestServices: true })("deploying and updating from the console", (it) => {
  it.effect("a deploy shows its live progress and log, is cancelled, retried to completion, and its bot runs", () =>
    Effect.gen(function*() {
      const { server, context, index, home } = yield* Env
      const path = Path.join(home, "部署测试")
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/console/`)
        await page.getByRole("link", { name: "部署" }).first().click()
        const version = page.getByRole("combobox", { name: "MaiBot 版本" })
        await expect.poll(() => version.locator("option").allTextContents(), visible).toEqual([
          "latest (1.2.1)",
          "main",
          "1.2.1",
          "1.0.0",
          "1.0.0-rc.4",
          "0.12.3",
          "0.6.3-fix4-alpha",
          "dev"
        ])
        await page.getByText("还没有任务。").waitFor(visible)
        await check(page, errors, "40-deploy-form")

        await page.getByRole("textbox", { name: "实例名称" }).fill("部署测试")
        await version.selectOption("0.12.3")
        await page.getByRole("textbox", { name: "安装路径" }).fill(path)
        await page.getByRole("spinbutton", { name: "MaiBot 端口" }).fill("18600")
        assert.isTrue(await page.getByRole("checkbox", { name: /napcat-ada/ }).isChecked(), "the adapter is offered by default")
        await page.getByRole("spinbutton", { name: "napcat-ada 端口" }).fill("18695")
        await page.getByRole("checkbox", { name: "我已阅读并同意 MaiBot 的用户协议和隐私条款" }).check()
        await page.getByRole("button", { name: "开始部署" }).click()
        await page.waitForURL(/\?job=/)
        deployedId = new URL(page.url()).searchParams.get("job") ?? ""
        assert.match(deployedId, /^[0-9a-f]{8,}/)

        // pip waits on the held index: the job is mid-way, its progress and log live on the page.
        const state = page.getByTestId("job-state")
        await expect.poll(() => index.requests.length, installing).toBeGreaterThan(0)
        await expect.poll(() => state.textContent(), visible).toContain("安装中")
        const percent = Number((await page.getByTestId("job-progress").textContent())?.replace("%", ""))
        assert.isTrue(percent > 0 && percent < 100, `mid-way: ${percent}%`)
        await expect.poll(() => page.getByRole("list", { name: "任务日志" }).textContent(), visible).toContain("fixture")
        await page.locator(".job .socket-open").waitFor(visible)
        await check(page, errors, "41-deploy-running")

        await page.getByRole("button", { name: "取消任务" }).click()
        await expect.poll(() => state.textContent(), visible).toContain("已取消")
        await page.getByText("任务已取消，它创建的文件已删除。可以重试。").waitFor(visible)
        assert.isFalse(Fs.existsSync(path), "the cancelled job's folder is gone")
        await check(page, errors, "42-deploy-cancelled")

        index.release()
        await page.getByRole("button", { name: "重试" }).click()
        await expect.poll(() => state.textContent(), installing).toContain("已完成")
        await page.getByText("部署完成，实例已加入列表。").waitFor(visible)
        assert.strictEqual(await page.getByTestId("job-progress").textContent(), "100%")
        await expect.poll(() => page.locator(".pick[aria-pressed=true] .badge").textContent(), visible).toContain("已完成 · 100%")
        await check(page, errors, "43-deploy-completed")

        // A second deploy into the same folder is refused with the server's reason.
        await page.getByRole("textbox", { name: "实例名称" }).fill("再来一个")
        await page.getByRole("button", { name: "开始部署" }).click()
        await page.getByRole("alert").filter({ hasText: "目标文件夹不是空的" }).waitFor(visible)
        await check(page, errors, "43b-deploy-refused", { refused: 400 })

        await page.getByRole("link", { name: "打开实例" }).click()
        await page.waitForURL(`**/console/instances/${deployedId}`)
        await page.getByRole("heading", { name: "部署测试", level: 1 }).waitFor(visible)
        await page.getByRole("button", { name: "启动", exact: true }).click()
        const terminal = page.locator(".terminal-host .xterm-rows")
        await expect.poll(() => terminal.textContent(), { timeout: 30_000 }).toContain("MaiBot fixture 0.12.3 running with fixture_a 1.2")
        assert.include(Fs.readFileSync(Path.join(path, ".env"), "utf8"), "PORT=18600\n", "0.x takes its port from .env")
        await page.getByRole("textbox", { name: "发送一行命令" }).fill("你好")
        await page.getByRole("textbox", { name: "发送一行命令" }).press("Enter")
        await expect.poll(() => terminal.textContent(), visible).toContain("echo: 你好")
        await check(page, errors, "44-deployed-terminal")

        await page.getByRole("link", { name: "实例" }).first().click()
        const card = page.locator(".instance-card").filter({ hasText: "部署测试" })
        await card.waitFor(visible)
        assert.include(await card.textContent(), "0.12.3")
        await card.getByRole("button", { name: "停止" }).click()
        await card.locator(".card-head .badge[data-state=stopped]").waitFor({ timeout: 30_000 })
        await page.close()
      })
    }), 300_000)

  it.effect("an update to 1.x runs as a job with its backup; the backup is listed, restored and deleted", () =>
    Effect.gen(function*() {
      const { server, context } = yield* Env
      assert.notStrictEqual(deployedId, "", "the deploy test ran first")
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/console/instances/${deployedId}?tab=update`)
        await page.getByText("还没有备份。每次更新前都会自动备份。").waitFor(visible)
        await page.getByRole("combobox", { name: "更新到" }).selectOption("1.2.1")
        await check(page, errors, "45-update-form")
        await page.getByRole("button", { name: "开始更新" }).click()
        const state = page.getByTestId("job-state")
        await expect.poll(() => state.textContent(), installing).toContain("已完成")
        await page.getByText("已更新到 1.2.1。更新前的备份在下面。").waitFor(visible)
        await expect.poll(async () => (await instanceOf(server, deployedId))?.version, visible).toBe("1.2.1")
        const rows = page.locator(".backups tbody tr")
        await expect.poll(() => rows.count(), visible).toBe(1)
        assert.include(await rows.first().textContent(), "0.12.3")
        await check(page, errors, "46-update-completed")

        await rows.first().getByRole("button", { name: "恢复" }).click()
        await rows.first().getByRole("button", { name: "确认恢复" }).click()
        await page.getByRole("status").filter({ hasText: "已恢复到 0.12.3" }).waitFor({ timeout: 60_000 })
        await expect.poll(async () => (await instanceOf(server, deployedId))?.version, visible).toBe("0.12.3")
        await expect.poll(() => page.locator(".page-head .muted").textContent(), visible).toContain("0.12.3")
        await check(page, errors, "47-backup-restored")

        await rows.first().getByRole("button", { name: "删除" }).click()
        await rows.first().getByRole("button", { name: "确认删除" }).click()
        await page.getByText("还没有备份。每次更新前都会自动备份。").waitFor(visible)
        await page.getByRole("status").filter({ hasText: "已删除" }).waitFor(visible)
        await check(page, errors, "47b-backup-deleted")
        await page.close()
      })
    }), 300_000)

  it.effect("the deploy page on a phone and in English", () =>
    Effect.gen(function*() {
      const { server, context } = yield* Env
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.setViewportSize({ width: 390, height: 844 })
        await page.goto(`${server.url}/console/deploy?job=${deployedId}`)
        await page.getByTestId("job-state").filter({ hasText: "已完成" }).waitFor(visible)
        await check(page, errors, "48-phone-deploy", { fullPage: false })
        await check(page, errors, "48b-phone-deploy-job", { fullPage: false, scrollTo: ".job" })
        await page.setViewportSize({ width: 1280, height: 860 })
        await page.getByRole("button", { name: "Switch to English" }).click()
        await page.getByRole("heading", { name: "Deploy and update jobs" }).waitFor(visible)
        // The page's own words (what the server or the user wrote — job names, log lines — stays as written).
        const own = await page.locator("main :is(h1, h2, h3, legend, .field > span:first-child, button:not(.pick), .badge)").allTextContents()
        assert.notMatch(own.join("\n"), /[\u4e00-\u9fff]/, `no Chinese in the page's own words: ${own.join(" | ")}`)
        await check(page, errors, "49-english-deploy")
        await page.getByRole("button", { name: "切换到中文" }).click()
        await page.close()
      })
    }), 120_000)
})
