/**
 * The web console in Debian's Chromium (playwright-core), against a real `maikit serve` on loopback:
 * 1. Time to the first rendered instance list with a cold cache: a fresh browser context per round opens
 *    `/console/instances`; the time from navigation start until the first instance card is in the page, against
 *    the baseline of the same data with no console (`/api/v1/instances` shown as Chromium shows JSON, to
 *    `DOMContentLoaded`). Rounds alternate; medians. Target: ≤ 1 s.
 * 2. A terminal flooded with BENCH_CONSOLE_FLOOD_MB (10) MB: while the bot floods, a probe line is typed every
 *    250 ms and the time until its echo reaches the page is taken (or, when the server skipped it because the
 *    page was behind, until output printed after it does), against the same probes with the bot idle (the
 *    baseline); the time the bot printed it (it says so in the echo) gives the bot's own part (its writes to the
 *    terminal block while the PTY is full), the rest is MaiKit's (server and page); with BENCH_CONSOLE_WATCHER=1
 *    the same echo reaching a Node client of the same terminal splits that into the server's part and the
 *    page's (off by default: a second client reading all 10 MB at full speed is a fourth busy process on the
 *    machine beside the bot, the server and the browser, and delays the bot's own prints); when the
 *    flood's end is on screen says how far behind the page's terminal was drawing; the longest gap between two
 *    animation frames says whether the page kept drawing; the page's JS heap before, after one flood and after a
 *    second says whether its memory stays bounded (xterm's scrollback is 5000 lines).
 *
 * Run: `pnpm bench console` (builds the console first when `packages/console/dist` is missing).
 */
import { execFileSync, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { chromium, type Page } from "playwright-core"
import { format, here, median, printTable } from "./harness.ts"

const floodMb = Number(process.env["BENCH_CONSOLE_FLOOD_MB"] ?? 10)
const renderRounds = Number(process.env["BENCH_CONSOLE_ROUNDS"] ?? 7)
const probes = 12
const consoleDir = Path.join(here, "../../packages/console")
const cliBin = Path.join(here, "../../packages/cli/src/bin.ts")
const fixture = Path.join(here, "../../packages/core/test/fixtures/flood-echo.cjs")
const chromiumPath = process.env["MAIKIT_TEST_CHROMIUM"] ?? "/usr/bin/chromium"
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

if (!Fs.existsSync(Path.join(consoleDir, "dist/index.html"))) {
  execFileSync(process.execPath, [Path.join(consoleDir, "node_modules/vite/bin/vite.js"), "build"], { cwd: consoleDir, stdio: "inherit" })
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const port = await freePort()
const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-console-"))
const server = spawn(process.execPath, ["--conditions=source", cliBin, "serve", "--port", String(port), "--data-dir", dataDir], {
  stdio: "ignore",
  env: { ...process.env, MAIKIT_LOG_LEVEL: "warn" }
})
const url = `http://127.0.0.1:${port}`
for (let attempt = 0; ; attempt++) {
  const up = await fetch(`${url}/api/v1/system/health`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false)
  if (up) break
  if (attempt > 300) throw new Error("maikit serve did not start")
  await sleep(100)
}

/** A MaiBot folder whose `python bot.py` is the flood-echo fixture under this Node. */
const addInstance = async (name: string) => {
  const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-bot-"))
  Fs.mkdirSync(Path.join(folder, "venv/bin"), { recursive: true })
  Fs.symlinkSync(process.execPath, Path.join(folder, "venv/bin/python"))
  Fs.copyFileSync(fixture, Path.join(folder, "bot.py"))
  const response = await fetch(`${url}/api/v1/instances/add`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ instance_name: name, install_path: folder, port: 8000, version: "bench", install_services: [] })
  })
  return ((await response.json()) as { instance_id: string }).instance_id
}

const ids = await Promise.all(["bench-a", "bench-b", "bench-c"].map(addInstance))
const floodId = ids[0] ?? ""

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
})

// 1. First rendered instance list, cold cache.
const firstCard = `new MutationObserver((_, observer) => {
  if (document.querySelector(".instance-card") !== null) { window.__firstCard = performance.now(); observer.disconnect() }
}).observe(document, { childList: true, subtree: true })`
const consoleTimes: Array<number> = []
const baselineTimes: Array<number> = []
for (let round = 0; round < renderRounds; round++) {
  for (const which of ["console", "baseline"] as const) {
    const context = await browser.newContext()
    const page = await context.newPage()
    if (which === "console") {
      await page.addInitScript(firstCard)
      await page.goto(`${url}/console/instances`)
      await page.waitForFunction("window.__firstCard !== undefined", undefined, { timeout: 30_000 })
      consoleTimes.push(await page.evaluate("window.__firstCard") as number)
    } else {
      await page.goto(`${url}/api/v1/instances`)
      baselineTimes.push(await page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd") as number)
    }
    await context.close()
  }
}

// 2. The terminal under a flood.
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
const page = await context.newPage()
// Every terminal socket the page opens is kept, so that probes go the same way the page's own input goes.
await page.addInitScript(`{
  const Native = WebSocket
  window.__sockets = []
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); if (String(args[0]).includes("/api/v1/ws/")) window.__sockets.push(this) }
  }
}`)
await fetch(`${url}/api/v1/instance/${floodId}/start`)
await page.goto(`${url}/console/instances/${floodId}`)
await page.locator(".terminal-host .xterm-rows").waitFor()
await page.waitForFunction("window.__sockets.some((s) => s.readyState === 1)")
const cdp = await context.newCDPSession(page)
await cdp.send("Performance.enable")
const heapMb = async () => {
  await cdp.send("HeapProfiler.collectGarbage")
  const { metrics } = await cdp.send("Performance.getMetrics")
  return (metrics.find((metric) => metric.name === "JSHeapUsedSize")?.value ?? 0) / 1024 / 1024
}

/**
 * A second client of the same terminal, in this process (Node's WebSocket), when asked for: when an echo reaches
 * it, it has left the server, so MaiKit's part splits into the server's and the browser's.
 */
const watcher = process.env["BENCH_CONSOLE_WATCHER"] === "1"
  ? new WebSocket(`${url.replace("http", "ws")}/api/v1/ws/${floodId}_main`)
  : undefined
const echoesAtWatcher = new Map<string, number>()
watcher?.addEventListener("message", (event) => {
  for (const match of String(event.data).matchAll(/echo:([\w-]+) t=/g)) {
    if (match[1] === undefined || echoesAtWatcher.has(match[1])) continue
    echoesAtWatcher.set(match[1], Date.now())
  }
})

/**
 * Types `<tag>-<n>` into the terminal `count` times, 250 ms apart; the milliseconds until each echo reaches the
 * page, and until it reaches the watcher.
 */
const probe = async (target: Page, tag: string, count: number) => {
  const times: Array<number> = []
  const serverTimes: Array<number> = []
  const botTimes: Array<number> = []
  const maikitTimes: Array<number> = []
  for (let n = 0; n < count; n++) {
    const sentAt = Date.now()
    // The echo, or flood output printed after the line was typed: when a flood is faster than the page, the
    // server skips what the page cannot show in time, the echo too if more than a backlog follows it.
    const echo = await target.evaluate(`new Promise((resolve) => {
      const socket = window.__sockets.findLast((s) => s.readyState === 1)
      const wanted = "echo:${tag}-${n}"
      const started = performance.now()
      const sentAt = Date.now()
      const onMessage = (event) => {
        const text = String(event.data)
        const stamps = [...text.matchAll(/\\d{9} (\\d{13}) x/g)]
        const newest = Number(stamps.at(-1)?.[1] ?? 0)
        if (!text.includes(wanted) && newest <= sentAt) return
        socket.removeEventListener("message", onMessage)
        const printed = new RegExp(wanted + " t=(\\\\d+)").exec(text)
        resolve({
          time: performance.now() - started,
          sentAt,
          arrivedAt: Date.now(),
          printedAt: printed === null ? null : Number(printed[1])
        })
      }
      socket.addEventListener("message", onMessage)
      socket.send(JSON.stringify({ type: "input", data: "${tag}-${n}\\r" }))
    })`) as { time: number; sentAt: number; arrivedAt: number; printedAt: number | null }
    times.push(echo.time)
    serverTimes.push((echoesAtWatcher.get(`${tag}-${n}`) ?? Number.NaN) - sentAt)
    botTimes.push(echo.printedAt === null ? Number.NaN : echo.printedAt - echo.sentAt)
    maikitTimes.push(echo.printedAt === null ? Number.NaN : echo.arrivedAt - echo.printedAt)
    await sleep(250)
  }
  return { times, serverTimes, botTimes, maikitTimes }
}

const frameWatch = `window.__maxGap = 0; { let last = performance.now(); const tick = (now) => { window.__maxGap = Math.max(window.__maxGap, now - last); last = now; if (!window.__stopFrames) requestAnimationFrame(tick) }; window.__stopFrames = false; requestAnimationFrame(tick) }`

const idle = await probe(page, "idle", probes)
const heapBefore = await heapMb()
// The end of the flood on screen, checked every frame: once the previous flood's end has scrolled away, when the
// new one's appears.
const endWatch = `{
  window.__floodShown = undefined
  const started = performance.now()
  let scrolledAway = false
  const check = () => {
    const shown = document.querySelector(".terminal-host .xterm-rows").textContent.includes("FLOOD-END")
    if (!shown) scrolledAway = true
    if (scrolledAway && shown) window.__floodShown = performance.now() - started
    else requestAnimationFrame(check)
  }
  requestAnimationFrame(check)
}`

/** Milliseconds per probe, for the log; an echo a client never got (skipped for it) says so. */
const listed = (times: ReadonlyArray<number>) =>
  times.map((time) => Number.isNaN(time) ? "skipped" : String(Math.round(time))).join(" ")

const floodOnce = async (tag: string) => {
  await page.evaluate(frameWatch)
  await page.evaluate(endWatch)
  await page.evaluate(`window.__sockets.findLast((s) => s.readyState === 1).send(JSON.stringify({ type: "input", data: "flood ${floodMb}\\r" }))`)
  const during = await probe(page, tag, probes)
  console.log(`${tag}, each probe's echo (ms) at the page: ${listed(during.times)}; printed by the bot: ${
    listed(during.botTimes)
  }; from its print to the page: ${listed(during.maikitTimes)}${
    watcher === undefined ? "" : `; at the Node client: ${listed(during.serverTimes)}`
  }`)
  await page.waitForFunction("window.__floodShown !== undefined", undefined, { timeout: 120_000, polling: 100 })
  const shownAfter = (await page.evaluate("window.__floodShown") as number) / 1000
  const maxGap = await page.evaluate("window.__maxGap") as number
  return { during, shownAfter, maxGap }
}
const first = await floodOnce("flood1")
const heapAfterOne = await heapMb()
const second = await floodOnce("flood2")
const heapAfterTwo = await heapMb()

watcher?.close()
await browser.close()
server.kill("SIGINT")

const renderConsole = median(consoleTimes)
const renderBaseline = median(baselineTimes)
printTable("First rendered instance list, cold cache (ms from navigation start; median of rounds)", ["", "console", "baseline (raw JSON)", "ratio"], [
  ["3 instances", format(renderConsole), format(renderBaseline), format(renderConsole / renderBaseline, 2)]
])
const during = [...first.during.times, ...second.during.times]
// An echo the watcher itself fell too far behind to get (skipped for it) is left out.
const duringAtServer = [...first.during.serverTimes, ...second.during.serverTimes].filter(Number.isFinite)
const duringAtBot = [...first.during.botTimes, ...second.during.botTimes].filter(Number.isFinite)
const duringInMaiKit = [...first.during.maikitTimes, ...second.during.maikitTimes].filter(Number.isFinite)
if (process.env["BENCH_VERBOSE"] === "1") console.log({ idle, first: first.during, second: second.during, consoleTimes, baselineTimes })
printTable(`Terminal flooded with ${floodMb} MB (ms; echo of a typed line reaching the page)`, ["", "median", "max", "ratio (median)"], [
  ["idle (baseline)", format(median(idle.times), 1), format(Math.max(...idle.times), 1), "1.00"],
  ["during the flood", format(median(during), 1), format(Math.max(...during), 1), format(median(during) / median(idle.times), 2)],
  [
    `during the flood, printed by the bot (its own part; ${duringAtBot.length} of ${during.length})`,
    format(median(duringAtBot), 1),
    format(Math.max(...duringAtBot), 1),
    ""
  ],
  [
    `during the flood, from the bot's print to the page (MaiKit's part; ${duringInMaiKit.length} of ${during.length})`,
    format(median(duringInMaiKit), 1),
    format(Math.max(...duringInMaiKit), 1),
    ""
  ],
  ...(watcher === undefined ? [] : [[
    `during the flood, at a Node client of the same terminal (the bot's and the server's part; ${duringAtServer.length} of ${during.length})`,
    format(median(duringAtServer), 1),
    format(Math.max(...duringAtServer), 1),
    ""
  ]])
])
printTable("Page while flooded", ["", "flood 1", "flood 2"], [
  ["end of the flood on screen after (s)", format(first.shownAfter, 2), format(second.shownAfter, 2)],
  ["longest frame gap (ms)", format(first.maxGap), format(second.maxGap)],
  ["JS heap after (MB; before: " + format(heapBefore, 1) + ")", format(heapAfterOne, 1), format(heapAfterTwo, 1)]
])
