import { assert, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import type { BrowserContext } from "playwright-core"
import { accessibilityViolations, browser, ensureBuilt, openPage, screenshot, serve, type Server } from "./support.ts"

class Env extends Context.Service<Env, { readonly server: Server; readonly context: BrowserContext }>()("test/SignInEnv") {}

const token = "console-e2e-token"

const EnvLive = Layer.effect(
  Env,
  Effect.gen(function*() {
    ensureBuilt()
    const [server, context] = yield* Effect.all([serve({ token }), browser()], { concurrency: "unbounded" })
    return { server, context }
  })
)

const visible = { timeout: 15_000 }

layer(EnvLive, { timeout: 60_000, excludeTestServices: true })("the web console with an access token", (it) => {
  it.effect("asks for the token, holds it in an HttpOnly cookie the API, SSE and WebSockets accept, and signs out", () =>
    Effect.gen(function*() {
      const { server, context } = yield* Env
      yield* Effect.promise(async () => {
        const { page, errors } = await openPage(context)
        await page.goto(`${server.url}/console/light`)
        await page.getByRole("heading", { name: "登录" }).waitFor(visible)
        await screenshot(page, "11-sign-in")
        assert.deepStrictEqual(await accessibilityViolations(page), [], "accessibility on the sign-in page")

        await page.getByLabel("访问令牌").fill("not the token")
        await page.getByRole("button", { name: "登录" }).click()
        await page.getByText("令牌不正确。").waitFor(visible)
        // The failed sign-in answered 401, which the browser reports on its console; nothing else may appear.
        assert.isTrue(errors.every((error) => error.includes("401")), errors.join("\n"))
        errors.length = 0

        await page.getByLabel("访问令牌").fill(token)
        await page.getByRole("button", { name: "登录" }).click()
        await page.getByRole("heading", { name: "状态灯", level: 1 }).waitFor(visible)
        const cookies = await context.cookies(server.url)
        const session = cookies.find((cookie) => cookie.name.startsWith("maikit_console"))
        assert.strictEqual(session?.httpOnly, true)
        assert.strictEqual(session?.sameSite, "Strict")
        assert.isFalse(await page.evaluate("document.cookie.includes('maikit_console')") as boolean, "scripts cannot read it")

        // The event stream is authorised by the cookie alone.
        const light = page.locator(".light-large")
        await expect.poll(() => light.getAttribute("data-code"), visible).toBe("idle")
        const posted = await server.api("/api/event", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ code: "busy", session_id: "codex-1", agent: "codex" })
        })
        assert.strictEqual(posted.status, 200)
        await expect.poll(() => light.getAttribute("data-code"), visible).toBe("busy")

        // So is a WebSocket: an instance's log socket, opened by the page with no token of its own.
        const added = await server.api("/api/v1/instances/add", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ instance_name: "cookie", install_path: server.dataDir, port: 8001, version: "0.7.0", install_services: [] })
        }).then((response) => response.json() as Promise<{ instance_id: string }>)
        await page.goto(`${server.url}/console/instances/${added.instance_id}`)
        await page.getByRole("tab", { name: "日志" }).click()
        await page.locator(".log-panel .socket-open").waitFor(visible)

        // Without the cookie nothing is served.
        assert.strictEqual((await fetch(`${server.url}/api/v1/instances`)).status, 401)
        await page.reload()
        await page.getByRole("heading", { name: "cookie" }).waitFor(visible)
        await page.getByRole("button", { name: "退出登录" }).click()
        await page.getByRole("heading", { name: "登录" }).waitFor(visible)
        assert.isUndefined((await context.cookies(server.url)).find((cookie) => cookie.name.startsWith("maikit_console")))
        assert.deepStrictEqual(errors, [])
        await screenshot(page, "12-signed-out")
        await page.close()
      })
    }))
})
