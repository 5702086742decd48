/**
 * The steps deploys and updates are made of: clone with fallback through the remotes, tell the generation
 * from the tree, confirm the agreements, choose a Python, make a venv, install requirements (pip, or uv when it
 * is on PATH and the tree has `uv.lock`), lay out the 0.x config, and install the adapter (a process with its
 * own venv for 0.x, a plugin at a compatible revision for 1.x) and NapCat. Each step reports its progress
 * inside the percent range it is given.
 */
import { Effect, SemVer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type * as DeployJob from "../../DeployJob.ts"
import { StepFailed } from "../../DeployerError.ts"
import type * as ProcessTree from "../../ProcessTree.ts"
import * as Archive from "./archive.ts"
import { gitUrl } from "./catalog.ts"
import type { JobContext } from "./context.ts"
import * as Files from "./files.ts"
import * as Progress from "./progress.ts"
import * as Python from "./python.ts"
import { capture } from "./tool.ts"
import { parseTag } from "./versions.ts"

type Range = readonly [from: number, to: number]

const venvPython = (venv: string) =>
  Path.join(venv, process.platform === "win32" ? "Scripts" : "bin", process.platform === "win32" ? "python.exe" : "python")

const gitEnv = (context: JobContext) => ({ ...context.settings.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" })

const mark = (range: Range, fraction: number) => Math.round(range[0] + (range[1] - range[0]) * fraction)

/**
 * `git clone --depth 1 --branch <ref>` into `target` (absent, or an empty folder the job already recorded),
 * trying each remote in turn; a failed attempt's files are removed before the next. Returns the remote used.
 */
export const cloneWithFallback = (
  context: JobContext,
  options: {
    readonly step: string
    readonly remotes: ReadonlyArray<string>
    readonly ref: string
    readonly target: string
    readonly range: Range
    readonly message: string
    /** Full history of the branch (the 1.x adapter's manifests are looked up in it); default depth 1. */
    readonly history?: boolean | undefined
  }
): Effect.Effect<string, StepFailed, ProcessTree.ProcessTree> =>
  Effect.gen(function*() {
    let last: StepFailed | undefined
    for (const [index, remote] of options.remotes.entries()) {
      yield* context.log("info", `📥 从 ${remote} 克隆 ${options.ref} 到 ${options.target}`)
      const depth = options.history === true ? ["--filter=blob:none", "--single-branch"] : ["--depth", "1"]
      const attempt = yield* Effect.result(context.runTool({
        spec: {
          step: options.step,
          tool: "git",
          file: "git",
          args: ["clone", "--progress", ...depth, "--branch", options.ref, gitUrl(remote), options.target],
          cwd: Path.dirname(options.target),
          env: gitEnv(context),
          timeoutMs: context.settings.timeouts.cloneMs
        },
        tracker: Progress.git(),
        range: options.range,
        message: options.message,
        quietProgress: true
      }))
      if (attempt._tag === "Success") return remote
      last = attempt.failure
      yield* context.log("warning", `⚠️ 从 ${remote} 克隆失败: ${attempt.failure.output}`)
      yield* Effect.promise(() => clearFolder(options.target))
      if (index + 1 < options.remotes.length) yield* context.log("info", "🔁 尝试下一个代码源")
    }
    return yield* (last ?? new StepFailed({ step: options.step, tool: "git", output: "没有配置代码源" }))
  })

/** Empties a folder the job is filling (git leaves a half clone behind when it fails into an existing folder). */
const clearFolder = async (folder: string) => {
  const names = await Fs.promises.readdir(folder).catch(() => [] as Array<string>)
  for (const name of names) await Fs.promises.rm(Path.join(folder, name), { recursive: true, force: true })
}

export interface Tree {
  readonly generation: DeployJob.Generation
  readonly requiresPython: string | undefined
  /** `[project] version` of `pyproject.toml`, when it has one. */
  readonly projectVersion: string | undefined
}

/**
 * 0.x trees ship `template/` (copied into `config/` by the launcher); 1.x trees do not and write their config
 * themselves. `requires-python` comes from `pyproject.toml`.
 */
export const inspectTree = (root: string): Effect.Effect<Tree, StepFailed> =>
  Effect.gen(function*() {
    if (Files.kindOf(Path.join(root, "bot.py")) !== "file") {
      return yield* new StepFailed({ step: "verify", tool: "git", output: `克隆结果中没有 bot.py: ${root}` })
    }
    const pyproject = Python.readPyproject(root)
    return {
      generation: Files.kindOf(Path.join(root, "template")) === "directory" ? "0.x" : "1.x",
      requiresPython: pyproject.requiresPython,
      projectVersion: pyproject.version
    }
  })

/** `eula.confirmed` / `privacy.confirmed` with the MD5 of `EULA.md` / `PRIVACY.md`, so the bot does not stop to ask. */
export const confirmAgreements = (context: JobContext, root: string) =>
  Effect.gen(function*() {
    for (const [source, target] of [["EULA.md", "eula.confirmed"], ["PRIVACY.md", "privacy.confirmed"]] as const) {
      const hash = Files.agreementHash(Path.join(root, source))
      if (hash === undefined) continue
      const file = Path.join(root, target)
      if (Files.kindOf(file) === "missing") yield* context.created({ path: file, contentsOnly: false })
      yield* Effect.try({
        try: () => Files.writeAtomic(file, hash),
        catch: (cause) => new StepFailed({ step: "agreements", tool: "file", output: `${file}: ${String(cause)}` })
      })
      yield* context.log("info", `📝 已确认 ${source} (${hash})`)
    }
  })

/** The first host Python that satisfies `requiresPython`; a missing one fails the job at once, naming the version. */
export const choosePython = (
  context: JobContext,
  requiresPython: string | undefined,
  step = "python",
  discovered?: Effect.Effect<ReadonlyArray<Python.Interpreter>>
) =>
  Effect.gen(function*() {
    const found = yield* (discovered ?? Python.discover(context.settings.pythonCandidates, context.settings.env))
    const chosen = Python.choose(found, requiresPython)
    if (chosen === undefined) {
      const have = found.length === 0 ? "没有找到任何 Python" : `找到的: ${found.map((entry) => `${entry.version} (${entry.executable})`).join(", ")}`
      return yield* new StepFailed({
        step,
        tool: "python",
        output: `需要 Python ${requiresPython ?? "3"}，${have}；请安装所需版本，或用 MAIKIT_PYTHON 指定解释器`
      })
    }
    yield* context.log("info", `🐍 使用 Python ${chosen.version}: ${chosen.executable}${requiresPython === undefined ? "" : ` (要求 ${requiresPython})`}`)
    return chosen
  })

/** `python -m venv <venv>` (the job records the folder first). */
export const makeVenv = (context: JobContext, python: Python.Interpreter, venv: string, step: string, range: Range) =>
  Effect.gen(function*() {
    yield* context.created({ path: venv, contentsOnly: false })
    yield* context.runTool({
      spec: {
        step,
        tool: "python",
        file: python.executable,
        args: ["-m", "venv", venv],
        cwd: Path.dirname(venv),
        timeoutMs: context.settings.timeouts.venvMs
      },
      range
    })
  })

const hostOf = (url: string): string | undefined => {
  try {
    return new URL(url).hostname
  } catch {
    return undefined
  }
}

/**
 * Installs `<root>/requirements.txt` into `venv`: uv when it is on PATH and the tree has `uv.lock` (`uv sync`
 * into that venv, as MaiBot's Docker image does), pip otherwise. The configured index, extra index and trusted
 * hosts are passed on; pip's own `PIP_*` variables apply as they always do. Returns false when there is nothing
 * to install.
 */
export const installRequirements = (
  context: JobContext,
  options: { readonly root: string; readonly venv: string; readonly step: string; readonly range: Range; readonly label: string }
) =>
  Effect.gen(function*() {
    const requirements = Path.join(options.root, "requirements.txt")
    const text = yield* Effect.sync(() => {
      try {
        return Fs.readFileSync(requirements, "utf8")
      } catch {
        return undefined
      }
    })
    if (text === undefined) return false
    const pip = context.settings.pip
    const hasLock = Files.kindOf(Path.join(options.root, "uv.lock")) === "file"
    const uv = hasLock ? yield* capture("uv", ["--version"], { env: context.settings.env, timeoutMs: 5_000 }) : undefined
    const count = Progress.countRequirements(text)
    if (uv !== undefined) {
      yield* context.log("info", `📦 使用 ${uv.trim()} 按 uv.lock 安装依赖`)
      const trusted = [...pip.trustedHosts, ...[pip.indexUrl, ...pip.extraIndexUrls].flatMap((url) => (url !== undefined && url.startsWith("http:") ? [hostOf(url) ?? ""] : []))]
      yield* context.runTool({
        spec: {
          step: options.step,
          tool: "uv",
          file: "uv",
          args: [
            "sync",
            "--no-dev",
            "--no-install-project",
            "--python",
            venvPython(options.venv),
            ...(pip.indexUrl === undefined ? [] : ["--default-index", pip.indexUrl]),
            ...pip.extraIndexUrls.flatMap((url) => ["--index", url]),
            ...trusted.filter((host) => host !== "").flatMap((host) => ["--allow-insecure-host", host])
          ],
          cwd: options.root,
          env: { ...context.settings.env, UV_PROJECT_ENVIRONMENT: options.venv, NO_COLOR: "1" },
          timeoutMs: context.settings.timeouts.pipMs
        },
        tracker: Progress.uv(),
        range: options.range,
        message: `${options.label} - 正在下载和安装依赖包 ({done})`
      })
      return true
    }
    yield* context.log("info", `📦 pip 安装 ${count} 个依赖 (${requirements})`)
    yield* context.runTool({
      spec: {
        step: options.step,
        tool: "pip",
        file: venvPython(options.venv),
        args: [
          "-m",
          "pip",
          "install",
          "--progress-bar",
          "off",
          "-r",
          requirements,
          ...(pip.indexUrl === undefined ? [] : ["--index-url", pip.indexUrl]),
          ...pip.extraIndexUrls.flatMap((url) => ["--extra-index-url", url]),
          ...pip.trustedHosts.flatMap((host) => ["--trusted-host", host])
        ],
        cwd: options.root,
        env: { ...context.settings.env, PIP_NO_INPUT: "1", PIP_DISABLE_PIP_VERSION_CHECK: "1", PYTHONIOENCODING: "utf-8" },
        timeoutMs: context.settings.timeouts.pipMs
      },
      tracker: Progress.pip(count),
      range: options.range,
      message: `${options.label} - 正在下载和安装依赖包 ({done})`
    })
    return true
  })

/** 0.x: the templates that exist, copied where nothing is yet; `.env` gets the port (and the WebUI port when given). */
export const layOutConfig = (
  context: JobContext,
  root: string,
  ports: { readonly port: number; readonly webuiPort: number | undefined }
) =>
  Effect.gen(function*() {
    const configDir = Path.join(root, "config")
    if (Files.kindOf(configDir) === "missing") yield* context.created({ path: configDir, contentsOnly: false })
    for (const { from, to } of Files.templateTargets(root)) {
      if (Files.kindOf(to) !== "missing") {
        yield* context.log("info", `📄 保留已有的 ${Path.relative(root, to)}`)
        continue
      }
      yield* context.created({ path: to, contentsOnly: false })
      yield* Effect.try({
        try: () => Files.writeAtomic(to, Fs.readFileSync(from, "utf8")),
        catch: (cause) => new StepFailed({ step: "config", tool: "file", output: `${to}: ${String(cause)}` })
      })
      yield* context.log("info", `📄 ${Path.relative(root, from)} → ${Path.relative(root, to)}`)
    }
    const envFile = Path.join(root, ".env")
    if (Files.kindOf(envFile) === "missing") yield* context.created({ path: envFile, contentsOnly: false })
    yield* Effect.try({
      try: () => {
        let text = Files.kindOf(envFile) === "file" ? Fs.readFileSync(envFile, "utf8") : ""
        text = Files.setEnvValue(text, "PORT", String(ports.port))
        if (ports.webuiPort !== undefined) text = Files.setEnvValue(text, "WEBUI_PORT", String(ports.webuiPort))
        Files.writeAtomic(envFile, text)
      },
      catch: (cause) => new StepFailed({ step: "config", tool: "file", output: `${envFile}: ${String(cause)}` })
    })
    yield* context.log("info", `⚙️ .env: PORT=${ports.port}${ports.webuiPort === undefined ? "" : `, WEBUI_PORT=${ports.webuiPort}`}`)
  })

/** The standalone adapter of 0.x: its `standalone` branch, `config.toml` from its template with both ports, its own venv. */
export const installStandaloneAdapter = (
  context: JobContext,
  options: { readonly path: string; readonly port: number; readonly maibotPort: number; readonly range: Range }
) =>
  Effect.gen(function*() {
    const [from, to] = options.range
    const third = (to - from) / 3
    const report = (status: DeployJob.ServiceProgress["status"], progress: number, message: string) =>
      context.service({ name: "napcat-ada", status, progress, message })
    yield* report("installing", 5, "正在克隆适配器")
    yield* cloneWithFallback(context, {
      step: "napcat-ada",
      remotes: context.settings.adapterRemotes,
      ref: "standalone",
      target: options.path,
      range: [from, from + third],
      message: "正在安装服务 napcat-ada - 正在下载适配器"
    })
    const template = Path.join(options.path, "template", "template_config.toml")
    const config = Path.join(options.path, "config.toml")
    if (Files.kindOf(template) === "file" && Files.kindOf(config) === "missing") {
      yield* Effect.try({
        try: () =>
          Files.writeAtomic(
            config,
            Files.setSectionPorts(Fs.readFileSync(template, "utf8"), { napcat_server: options.port, maibot_server: options.maibotPort })
          ),
        catch: (cause) => new StepFailed({ step: "napcat-ada", tool: "file", output: `${config}: ${String(cause)}` })
      })
      yield* context.log("info", `⚙️ 适配器 config.toml: napcat_server.port=${options.port}, maibot_server.port=${options.maibotPort}`)
    } else if (Files.kindOf(template) !== "file") {
      yield* context.log("warning", "⚠️ 适配器没有 template/template_config.toml，跳过配置")
    }
    yield* report("installing", 40, "正在创建适配器的虚拟环境")
    const python = yield* choosePython(context, Python.readPyproject(options.path).requiresPython, "napcat-ada")
    yield* makeVenv(context, python, Path.join(options.path, "venv"), "napcat-ada", [from + third, from + third * 1.5])
    yield* report("installing", 60, "正在安装适配器依赖")
    yield* installRequirements(context, {
      root: options.path,
      venv: Path.join(options.path, "venv"),
      step: "napcat-ada",
      range: [from + third * 1.5, to],
      label: "正在安装服务 napcat-ada"
    })
    yield* report("completed", 100, "适配器安装完成")
  })

const Manifest = (text: string | undefined): { readonly min: string | undefined; readonly max: string | undefined } | undefined => {
  if (text === undefined) return undefined
  try {
    const host = (JSON.parse(text) as { host_application?: { min_version?: unknown; max_version?: unknown } }).host_application
    return {
      min: typeof host?.min_version === "string" ? host.min_version : undefined,
      max: typeof host?.max_version === "string" ? host.max_version : undefined
    }
  } catch {
    return undefined
  }
}

/** Whether MaiBot `version` lies in a manifest's `host_application` range (pre-release suffixes aside). */
export const inHostRange = (version: SemVer.SemVer, range: { readonly min: string | undefined; readonly max: string | undefined }): boolean => {
  const release = SemVer.release(version)
  const min = range.min === undefined ? undefined : parseTag(range.min)
  const max = range.max === undefined ? undefined : parseTag(range.max)
  return (min === undefined || SemVer.Order(release, SemVer.release(min)) >= 0) &&
    (max === undefined || SemVer.Order(release, SemVer.release(max)) <= 0)
}

/**
 * The 1.x adapter plugin: branch `main` cloned into `plugins/MaiBot-Napcat-Adapter`, then checked out at the newest
 * revision whose `_manifest.json` declares a `host_application` range that contains the deployed MaiBot version.
 */
export const installAdapterPlugin = (
  context: JobContext,
  options: { readonly root: string; readonly version: SemVer.SemVer | undefined; readonly range: Range }
) =>
  Effect.gen(function*() {
    const target = Path.join(options.root, "plugins", "MaiBot-Napcat-Adapter")
    const report = (status: DeployJob.ServiceProgress["status"], progress: number, message: string) =>
      context.service({ name: "napcat-ada", status, progress, message })
    yield* report("installing", 5, "正在克隆适配器插件")
    const plugins = Path.dirname(target)
    if (Files.kindOf(plugins) === "missing") yield* context.created({ path: plugins, contentsOnly: false })
    yield* Effect.sync(() => Fs.mkdirSync(plugins, { recursive: true }))
    if (Files.kindOf(target) !== "missing") {
      return yield* new StepFailed({ step: "napcat-ada", tool: "git", output: `${target} 已存在` })
    }
    yield* context.created({ path: target, contentsOnly: false })
    yield* cloneWithFallback(context, {
      step: "napcat-ada",
      remotes: context.settings.adapterRemotes,
      ref: "main",
      target,
      range: [options.range[0], mark(options.range, 0.8)],
      message: "正在安装服务 napcat-ada - 正在下载适配器插件",
      history: true
    })
    yield* selectPluginRevision(context, target, options.version)
    yield* report("completed", 100, "适配器已作为插件安装到 plugins/MaiBot-Napcat-Adapter")
  })

/** Checks out, in an adapter plugin clone, the newest revision whose manifest accepts `version`. */
export const selectPluginRevision = (context: JobContext, target: string, version: SemVer.SemVer | undefined) =>
  Effect.gen(function*() {
    if (version === undefined) {
      yield* context.log("info", "🔌 部署的是分支，使用适配器插件 main 的最新版本")
      return
    }
    const env = gitEnv(context)
    const log = yield* capture("git", ["log", "--format=%H", "--", "_manifest.json"], { cwd: target, env, timeoutMs: 60_000 })
    const revisions = (log ?? "")
      .split("\n").map((line) => line.trim()).filter((line) => line !== "")
    const ranges: Array<string> = []
    for (const [index, revision] of revisions.entries()) {
      const manifest = Manifest(yield* capture("git", ["show", `${revision}:_manifest.json`], { cwd: target, env, timeoutMs: 60_000 }))
      if (manifest === undefined) continue
      ranges.push(`${manifest.min ?? "*"}–${manifest.max ?? "*"}`)
      if (!inHostRange(version, manifest)) continue
      // The manifest stayed as it is up to the commit before the next change of it: take that newest one.
      if (index === 0) {
        yield* context.log("info", `🔌 适配器插件 main 的最新版本: host_application ${manifest.min ?? "*"}–${manifest.max ?? "*"} 包含 ${SemVer.format(version)}`)
        return
      }
      const newest = (yield* capture("git", ["rev-parse", `${revisions[index - 1]}^`], { cwd: target, env, timeoutMs: 60_000 }))?.trim() ?? revision
      const checkout = yield* capture("git", ["-c", "advice.detachedHead=false", "checkout", "--quiet", newest], { cwd: target, env, timeoutMs: 60_000 })
      if (checkout === undefined) {
        return yield* new StepFailed({ step: "napcat-ada", tool: "git", output: `无法检出适配器插件 ${newest}` })
      }
      yield* context.log("info", `🔌 适配器插件 ${newest.slice(0, 7)}: host_application ${manifest.min ?? "*"}–${manifest.max ?? "*"} 包含 ${SemVer.format(version)}`)
      return
    }
    return yield* new StepFailed({
      step: "napcat-ada",
      tool: "git",
      output: `适配器插件没有支持 MaiBot ${SemVer.format(version)} 的版本（各版本的 host_application: ${[...new Set(ranges)].join(", ") || "无"}）`
    })
  })

/** NapCat from its release archive into its folder; the start script it carries becomes its command. */
export const installNapcat = (
  context: JobContext,
  options: {
    readonly path: string
    readonly archive: string
    readonly sha256: string | undefined
    readonly python: string
    readonly range: Range
  }
) =>
  Effect.gen(function*() {
    const report = (status: DeployJob.ServiceProgress["status"], progress: number, message: string) =>
      context.service({ name: "napcat", status, progress, message })
    yield* report("installing", 5, `正在获取 ${options.archive}`)
    yield* context.log("info", `📦 NapCat 安装包: ${options.archive}`)
    const half = mark(options.range, 0.7)
    yield* Effect.scoped(Effect.gen(function*() {
      const fetched = yield* Archive.fetchArchive(options.archive, options.sha256, (fraction) =>
        context.progress(options.range[0] + (half - options.range[0]) * fraction, "正在安装服务 napcat - 正在下载 NapCat")).pipe(
          Effect.timeoutOrElse({
            duration: context.settings.timeouts.archiveMs,
            orElse: () => Effect.fail(new StepFailed({ step: "napcat", tool: "archive", output: "下载超时" }))
          })
        )
      yield* context.log("info", `🔐 SHA-256 ${fetched.sha256}${options.sha256 === undefined ? "（未提供校验值）" : "（校验通过）"}, ${Files.formatBytes(fetched.bytes)}`)
      yield* report("installing", 70, "正在解压 NapCat")
      yield* context.runTool({
        spec: {
          step: "napcat",
          tool: "archive",
          file: options.python,
          args: Archive.extractArgs(fetched, options.path),
          cwd: options.path,
          timeoutMs: context.settings.timeouts.archiveMs
        },
        range: [half, options.range[1]]
      })
    }))
    yield* report("completed", 100, "NapCat 安装完成")
  })
