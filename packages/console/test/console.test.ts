import { assert, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { BrowserContext, Page } from "playwright-core"
import { botFolder } from "../../core/test/helpers/instances.ts"
import { accessibilityViolations, browser, ensureBuilt, openPage, screenshot, serve, type Server, stop } from "./support.ts"

const fixtures = Path.join(import.meta.dirname, "../../core/test/fixtures")

class Env extends Context.Service<Env, { readonly server: Server; readonly context: BrowserContext }>()("test/ConsoleEnv") {}

const EnvLive = Layer.effect(
  Env,
  Effect.gen(function*() {
    ensureBuilt()
    const [server, context] = yield* Effect.all([serve(), browser()], { concurrency: "unbounded" })
    return { server, context }
  })
)

/** The page was usable: no console error, a screenshot for a person to look at, and no serious axe finding. */
const check = async (page: Page, errors: ReadonlyArray<string>, name: string, fullPage = true) => {
  await screenshot(page, name, { fullPage })
  assert.deepStrictEqual(errors, [], `console errors on ${name}`)
  assert.deepStrictEqual(await accessibilityViolations(page), [], `accessibility on ${name}`)
}

const visible = { timeout: 15_000 }

/** Registers the MaiBot in `folder` through the original's route; its id. */
const addInstance = (server: Server, name: string, folder: string, port = 8000, services: ReadonlyArray<object> = []) =>
  server.api("/api/v1/instances/add", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ instance_name: name, install_path: folder, port, version: "0.7.0", install_services: services })
  }).then(async (response) => ((await response.json()) as { instance_id: string }).instance_id)

layer(EnvLive, { timeout: 60_000, excludeTestServices: true })("the web console against maikit serve", (it) => {
  it.effect("the dashboard, the instances, a terminal with input, and the log", () =>
    Effect.gen(function*() {
      const { server, context } = yield* Env
      const folder = botFolder()
      const id = yield* Effect.promise(() =>
        addInstance(server, "麦麦测试", folder, 8000, [
          { name: "napcat-ada", path: Path.join(folder, "napcat-ada"), port: 8095, run_cmd: "python main.py" }
        ])
      )
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/`)
        assert.strictEqual(new URL(page.url()).pathname, "/console/", "browsers asking for / get the console")
        await expect.poll(() => page.getByRole("heading", { name: "总览", level: 1 }).isVisible(), visible).toBe(true)
        await page.getByRole("meter", { name: "CPU" }).waitFor(visible)
        await page.getByText("麦麦测试").first().waitFor(visible)
        // `maikit serve` has the Deployer's routes, so the deploy page is in the navigation.
        assert.isTrue(await page.getByRole("link", { name: "部署" }).isVisible(), "the deploy routes are served: the deploy page shows")
        await check(page, errors, "01-dashboard")

        await page.getByRole("link", { name: "实例" }).first().click()
        await page.getByRole("heading", { name: "麦麦测试" }).waitFor(visible)
        await page.getByRole("button", { name: "启动" }).first().click()
        await page.locator(".instance-card .card-head .badge[data-state=running]").waitFor(visible)
        await expect.poll(() => page.locator("tbody tr td.mono").first().textContent(), visible).toMatch(/^\d+$/)
        await check(page, errors, "02-instances-running")

        await page.getByRole("link", { name: "麦麦测试" }).click()
        await page.waitForURL(`**/console/instances/${id}`)
        const terminal = page.locator(".terminal-host .xterm-rows")
        await expect.poll(() => terminal.textContent(), visible).toContain("麦麦 MaiBot 启动")
        await page.getByRole("textbox", { name: "发送一行命令" }).fill("hello from chromium")
        await page.getByRole("textbox", { name: "发送一行命令" }).press("Enter")
        await expect.poll(() => terminal.textContent(), visible).toContain("echo:hello from chromium")
        // The terminal told the PTY its size: the bot prints it on SIGWINCH.
        await expect.poll(() => terminal.textContent(), visible).toMatch(/size:\d+x\d+/)
        await check(page, errors, "03-terminal")
        await page.getByRole("button", { name: "完整历史" }).click()
        await page.getByRole("button", { name: "完整历史" }).waitFor(visible)
        await expect.poll(() => terminal.textContent(), visible).toContain("echo:hello from chromium")

        // Keystrokes into xterm itself go to the PTY as well.
        await page.locator(".terminal-host .xterm-helper-textarea").focus()
        await page.keyboard.type("typed in xterm")
        await page.keyboard.press("Enter")
        await expect.poll(() => terminal.textContent(), visible).toContain("echo:typed in xterm")

        await page.getByRole("tab", { name: "日志" }).click()
        const log = page.getByRole("log", { name: "实例日志" })
        await expect.poll(() => log.textContent(), visible).toContain("麦麦 MaiBot 启动")
        await page.getByRole("searchbox", { name: "搜索日志" }).fill("echo:hello")
        await expect.poll(() => log.locator(".log-line").count(), visible).toBe(1)
        await check(page, errors, "04-log-search")
        await page.close()
      })
    }))

  it.effect("an API key is shown once, then masked", () =>
    Effect.gen(function*() {
      const { server, context } = yield* Env
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/console/control-plane`)
        await page.getByText("还没有租户。在下面创建第一个。").waitFor(visible)
        await page.getByRole("textbox", { name: "租户名称" }).fill("测试租户")
        await page.getByRole("button", { name: "创建租户" }).click()
        await page.getByText("这个租户还没有智能体。").waitFor(visible)
        await page.getByRole("textbox", { name: "智能体名称" }).fill("小助手")
        await page.getByRole("button", { name: "创建智能体" }).click()
        await page.getByRole("heading", { name: "小助手 的配置" }).waitFor(visible)
        await page.getByRole("textbox", { name: "名称", exact: true }).fill("bot key")
        await page.getByRole("button", { name: "创建密钥" }).click()
        const shown = page.getByTestId("created-key")
        await shown.waitFor(visible)
        const key = (await shown.textContent()) ?? ""
        assert.match(key, /^mmc_[A-Za-z0-9+/=]{40,}$/)
        await page.getByRole("button", { name: "复制" }).waitFor(visible)
        await check(page, errors, "05-control-plane-new-key")

        await page.getByRole("button", { name: "我已保存" }).click()
        await shown.waitFor({ state: "detached" })
        const masked = (await page.getByTestId("masked-key").first().textContent()) ?? ""
        assert.match(masked, /\*{8}$/)
        assert.notInclude(await page.content(), key, "the key is gone from the page")
        await page.reload()
        await page.getByTestId("masked-key").first().waitFor(visible)
        assert.notInclude(await page.content(), key, "and never comes back")
        const validated = await server.api("/api/v2/auth/validate-api-key", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ api_key: key })
        }).then((response) => response.json() as Promise<{ success: boolean }>)
        assert.isTrue(validated.success, "the key shown once is the real key")
        await check(page, errors, "06-control-plane-masked")
        await page.close()
      })
    }))

  it.effect("the status light follows posted events; the phone layout and English", () =>
    Effect.gen(function*() {
      const { server, context } = yield* Env
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/console/light`)
        const light = page.locator(".light-large")
        await expect.poll(() => light.getAttribute("data-code"), visible).toBe("idle")
        const posted = await server.api("/api/event", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ code: "permission", session_id: "claude-1", agent: "claude", label: "修 bug" })
        })
        assert.strictEqual(posted.status, 200)
        await expect.poll(() => light.getAttribute("data-code"), visible).toBe("permission")
        await page.getByTestId("light-code").filter({ hasText: "等待权限" }).waitFor(visible)
        await page.getByText("修 bug").first().waitFor(visible)
        assert.include((await light.getAttribute("class")) ?? "", "light-red light-blink")
        await check(page, errors, "07-light-permission")

        await page.setViewportSize({ width: 390, height: 844 })
        await page.goto(`${server.url}/console/instances`)
        await page.locator(".instance-card").first().waitFor(visible)
        await check(page, errors, "08-phone-instances", false)
        await page.goto(`${server.url}/console/light`)
        await expect.poll(() => page.locator(".light-large").getAttribute("data-code"), visible).toBe("permission")
        await check(page, errors, "09-phone-light", false)

        await page.setViewportSize({ width: 1280, height: 860 })
        // The system's dark theme.
        await page.emulateMedia({ colorScheme: "dark" })
        await check(page, errors, "09b-dark-light")
        await page.goto(`${server.url}/console/control-plane`)
        await page.getByTestId("masked-key").first().waitFor(visible)
        await check(page, errors, "09c-dark-control-plane")
        await page.emulateMedia({ colorScheme: "light" })
        await page.goto(`${server.url}/console/light`)
        await page.getByRole("button", { name: "Switch to English" }).click()
        await page.getByRole("heading", { name: "Status light", level: 1 }).waitFor(visible)
        assert.notMatch((await page.locator("main").textContent()) ?? "", /[状态灯会话事件]/, "no Chinese left in the page's own words")
        await page.goto(`${server.url}/console/nowhere`)
        await page.getByRole("heading", { name: "No such page" }).waitFor(visible)
        await check(page, errors, "10-english-not-found")
        await page.close()
      })
    }))

  it.effect("a bot that keeps crashing shows as crashed, backing off, with its restarts counted", () =>
    Effect.gen(function*() {
      const { server, context } = yield* Env
      const folder = botFolder()
      Fs.copyFileSync(Path.join(fixtures, "exit.mjs"), Path.join(folder, "bot.py"))
      yield* Effect.promise(async () => {
        const id = await addInstance(server, "crashy", folder, 8002)
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/console/instances/${id}`)
        await page.getByRole("button", { name: "Start", exact: true }).click()
        await page.locator(".page-head .badge[data-state=crashed]").waitFor(visible)
        await page.getByText("A component crashed and is being restarted after a back-off delay.").waitFor(visible)
        await expect.poll(async () => Number(await page.locator("tbody tr td").nth(5).textContent()), visible).toBeGreaterThan(0)
        await check(page, errors, "12b-crashing")
        await page.getByRole("button", { name: "Stop", exact: true }).click()
        await page.locator(".page-head .badge[data-state=stopped]").waitFor(visible)
        await page.close()
      })
    }))

  it.effect("a terminal flooded faster than the page can draw shows the newest output, says what it skipped, and echoes", () =>
    Effect.gen(function*() {
      const { server, context } = yield* Env
      const folder = botFolder()
      // The bot prints 30 MB as fast as its terminal takes them, then `FLOOD-END`, then echoes what it is sent.
      Fs.writeFileSync(Path.join(folder, "bot.py"), `
process.stdin.setEncoding("utf8")
process.stdin.on("data", (line) => process.stdout.write("echo:" + line.trim() + "\\n"))
const block = ("x".repeat(99) + "\\n").repeat(1000)
let blocks = 300
const pump = () => {
  while (blocks > 0) {
    blocks--
    if (!process.stdout.write(block)) return process.stdout.once("drain", pump)
  }
  process.stdout.write("FLOOD-END\\n")
}
pump()
`)
      const id = yield* Effect.promise(() => addInstance(server, "flood", folder))
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        // Counts the server's "skipped" notices among what the terminal's socket receives, in each language: the
        // page is in English since the light's test chose it (the choice is remembered), and says so to the server.
        await page.addInitScript(`{
          const Native = WebSocket
          window.__skippedNotices = { en: 0, zh: 0 }
          window.WebSocket = class extends Native {
            constructor(...args) {
              super(...args)
              this.addEventListener("message", (event) => {
                if (String(event.data).includes("output too fast:")) window.__skippedNotices.en++
                if (String(event.data).includes("输出过快，已跳过")) window.__skippedNotices.zh++
              })
            }
          }
        }`)
        await page.goto(`${server.url}/console/instances/${id}`)
        await page.locator(".terminal-panel .socket-open").waitFor(visible)
        await server.api(`/api/v1/instance/${id}/start`)
        const terminal = page.locator(".terminal-host .xterm-rows")
        await expect.poll(() => terminal.textContent(), { timeout: 60_000 }).toContain("FLOOD-END")
        const notices = await page.evaluate("window.__skippedNotices") as { en: number; zh: number }
        assert.isAbove(notices.en, 0, "the server skipped what the page could not show, and said so in English")
        assert.strictEqual(notices.zh, 0, "in the page's language only")
        await page.locator(".terminal-host .xterm-helper-textarea").focus()
        await page.keyboard.type("after the flood")
        await page.keyboard.press("Enter")
        await expect.poll(() => terminal.textContent(), visible).toContain("echo:after the flood")
        // Started by another client: the page follows the terminal's state, its header and table too.
        await page.locator(".components-table tbody td .badge[data-state=running]").waitFor(visible)
        await check(page, errors, "14-terminal-after-flood", false)
        await page.close()
      })
      yield* Effect.promise(() => server.api(`/api/v1/instance/${id}/stop`))
    }), 120_000)

  it.effect("a terminal opened on a bot that printed a lot replays it whole, not cut to the flow window", () =>
    Effect.gen(function*() {
      const { server, context } = yield* Env
      const folder = botFolder()
      // 2,000 numbered lines (about 200,000 characters: several replay frames, many flow windows), then nothing.
      Fs.writeFileSync(Path.join(folder, "bot.py"), `
let text = ""
for (let n = 0; n < 2000; n++) text += "replay-line-" + String(n).padStart(4, "0") + " " + "r".repeat(80) + "\\n"
process.stdout.write(text + "REPLAY-END\\n")
setInterval(() => {}, 1000)
`)
      const id = yield* Effect.promise(() => addInstance(server, "replay", folder))
      yield* Effect.promise(async () => {
        await server.api(`/api/v1/instance/${id}/start`)
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/console/instances/${id}`)
        const terminal = page.locator(".terminal-host .xterm-rows")
        await expect.poll(() => terminal.textContent(), visible).toContain("REPLAY-END")
        await page.locator(".terminal-host .xterm-helper-textarea").focus()
        for (let step = 0; step < 120; step++) await page.keyboard.press("Shift+PageUp")
        await expect.poll(() => terminal.textContent(), visible).toContain("replay-line-0000")
        assert.notMatch((await terminal.textContent()) ?? "", /skipped|跳过/, "nothing of the replay was skipped")
        await check(page, errors, "15-terminal-replay-top", false)
        await page.close()
      })
      yield* Effect.promise(() => server.api(`/api/v1/instance/${id}/stop`))
    }), 60_000)

  // Last: it restarts the server.
  it.effect("a terminal comes back by itself after MaiKit restarts", () =>
    Effect.gen(function*() {
      const { server, context } = yield* Env
      const { instances } = yield* Effect.promise(() =>
        server.api("/api/v1/instances").then((response) => response.json() as Promise<{ instances: Array<{ id: string }> }>)
      )
      const id = instances[0]?.id ?? ""
      const { page, errors } = yield* Effect.promise(() => openPage(context))
      yield* Effect.promise(async () => {
        await page.goto(`${server.url}/console/instances/${id}`)
        await page.locator(".terminal-panel .socket-open").waitFor(visible)
      })
      yield* stop(server)
      yield* Effect.promise(() => page.locator(".terminal-panel .socket-waiting").waitFor(visible))
      const again = yield* serve({ port: Number(new URL(server.url).port), dataDir: server.dataDir })
      yield* Effect.promise(async () => {
        await again.api(`/api/v1/instance/${id}/start`)
        const terminal = page.locator(".terminal-host .xterm-rows")
        await page.locator(".terminal-panel .socket-open").waitFor({ timeout: 30_000 })
        await expect.poll(() => terminal.textContent(), { timeout: 30_000 }).toContain("麦麦 MaiBot 启动")
        // The page is in English since the previous test chose it (the choice is remembered).
        await page.getByRole("textbox", { name: "Send a line" }).fill("after the restart")
        await page.getByRole("textbox", { name: "Send a line" }).press("Enter")
        await expect.poll(() => terminal.textContent(), visible).toContain("echo:after the restart")
        // The page saw its server go away: the browser reports the failed reconnect attempts, nothing else.
        assert.isTrue(errors.every((error) => error.includes("WebSocket") || error.includes("ERR_CONNECTION_REFUSED")), errors.join("\n"))
        await screenshot(page, "13-terminal-reconnected")
        await page.close()
      })
    }), 60_000)
})
