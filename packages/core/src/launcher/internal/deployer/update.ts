/**
 * Updating an instance to another version or branch, the Tauri launcher's "backup before update" made safe:
 *
 * 1. Backup: the instance's folder (code, `config/`, `.env`, `data/`, plugins) without venvs, logs, caches and
 *    `.git`, to `<dataDir>/backups/<id>/files`, with the commit checked out and the instance's components.
 * 2. `git fetch --depth 1 <remote> <ref>`; the new tree's generation and `requires-python` are read from the
 *    fetched commit, so a missing Python or a 1.x → 0.x downgrade fails before anything changes.
 * 3. `git checkout --force`, a new venv beside the old one and its requirements; 0.x keeps its config and gets
 *    any template it lacked; 0.x → 1.x leaves the migration to MaiBot on the next start (MaiKit sets
 *    `MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED=1`: the update was asked for) and swaps the adapter process for the
 *    plugin. The old venv is moved aside (`venv.maikit-backup-<id>`) and the new one takes its name.
 * 4. Any failure or cancel after the checkout restores: the old commit, the backed-up files, the old venv.
 */
import { Effect, Exit, SemVer, Struct } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type * as DeployJob from "../../DeployJob.ts"
import { StepFailed } from "../../DeployerError.ts"
import type * as InstanceRegistry from "../../InstanceRegistry.ts"
import type * as ProcessTree from "../../ProcessTree.ts"
import { gitUrl } from "./catalog.ts"
import type { JobContext } from "./context.ts"
import * as Files from "./files.ts"
import * as Progress from "./progress.ts"
import * as Python from "./python.ts"
import * as Steps from "./steps.ts"
import type { BackupRow, DeployedInstance, Store } from "./store.ts"
import { capture } from "./tool.ts"
import { parseTag, type Resolved } from "./versions.ts"

export const newBackupId = (): string => `backup_${Crypto.randomBytes(6).toString("hex")}`

const skipped = new Set(["venv", "logs", "__pycache__", ".git", "node_modules"])

/** What a backup leaves out: venvs (the old one is kept aside instead), logs, caches and git's own data. */
export const backedUp = (root: string) => (source: string): boolean => {
  const relative = Path.relative(root, source)
  if (relative === "") return true
  const parts = relative.split(Path.sep)
  if (parts.some((part) => skipped.has(part))) return false
  return !(parts.length === 1 && (parts[0] ?? "").startsWith("venv."))
}

export interface UpdatePlan {
  readonly instance: InstanceRegistry.Instance
  readonly resolved: Resolved
  readonly requested: string
  readonly deployed: DeployedInstance | undefined
  readonly generation: DeployJob.Generation
  readonly backupId: string
}

const git = (context: JobContext, cwd: string, args: ReadonlyArray<string>) =>
  capture("git", args, { cwd, env: { ...context.settings.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" }, timeoutMs: 120_000 })

/** Copies the instance folder into `<backupRoot>/<id>/files` and records the backup. */
export const takeBackup = (context: JobContext, store: Store, plan: UpdatePlan, head: string | undefined) =>
  Effect.gen(function*() {
    const directory = Path.join(context.settings.backupRoot, plan.backupId)
    const files = Path.join(directory, "files")
    const root = plan.instance.path
    yield* Effect.tryPromise({
      try: () => Fs.promises.cp(root, files, { recursive: true, filter: backedUp(root), verbatimSymlinks: true }),
      catch: (cause) => new StepFailed({ step: "backup", tool: "file", output: `无法备份到 ${directory}: ${String(cause)}` })
    })
    const sizeBytes = yield* Effect.promise(() => Files.sizeOf(files))
    const row: BackupRow = {
      id: plan.backupId,
      instance_id: plan.instance.id,
      instance_name: plan.instance.name,
      version: plan.instance.version,
      generation: plan.generation,
      head: head ?? null,
      directory,
      previous_venv: null,
      components: JSON.stringify(plan.instance.components),
      size_bytes: sizeBytes,
      reason: `更新到 ${plan.requested}`,
      created_at: new Date().toISOString()
    }
    yield* store.addBackup(row).pipe(Effect.mapError((error) => new StepFailed({ step: "backup", tool: "database", output: error.message })))
    yield* context.log("success", `🗄️ 已备份到 ${directory} (${Files.formatBytes(sizeBytes)})`)
    return row
  })

/** Puts a backup's files back over the instance and its commit back in place (best effort for the commit). */
export const restoreFiles = (
  context: Pick<JobContext, "log" | "settings">,
  root: string,
  backup: { readonly directory: string; readonly head: string | null }
) =>
  Effect.gen(function*() {
    if (backup.head !== null && Files.kindOf(Path.join(root, ".git")) === "directory") {
      const checkout = yield* git(context as JobContext, root, ["-c", "advice.detachedHead=false", "checkout", "--force", "--quiet", backup.head])
      if (checkout === undefined) yield* context.log("warning", `⚠️ 无法检出 ${backup.head}，仅恢复备份的文件`)
    }
    yield* Effect.tryPromise({
      try: () => Fs.promises.cp(Path.join(backup.directory, "files"), root, { recursive: true, force: true, verbatimSymlinks: true }),
      catch: (cause) => new StepFailed({ step: "restore", tool: "file", output: String(cause) })
    })
  })

/** Runs the update; answers the instance's new version and components. */
export const run = (
  context: JobContext,
  store: Store,
  plan: UpdatePlan
): Effect.Effect<
  { readonly version: string; readonly components: ReadonlyArray<Omit<InstanceRegistry.Component, "position">>; readonly deployed: Omit<DeployedInstance, "instance_id" | "updated_at"> },
  StepFailed,
  ProcessTree.ProcessTree
> =>
  Effect.gen(function*() {
    const root = plan.instance.path
    yield* context.step("backup")
    yield* context.progress(5, `正在备份实例 ${plan.instance.name}`)
    const head = (yield* git(context, root, ["rev-parse", "HEAD"]))?.trim()
    const backup = yield* takeBackup(context, store, plan, head)
    yield* context.progress(20, "备份完成，正在获取新版本")

    yield* context.step("fetch")
    const origin = (yield* git(context, root, ["remote", "get-url", "origin"]))?.trim()
    const remotes = [...new Set([...(plan.deployed === undefined ? [] : [plan.deployed.remote]), ...(origin === undefined ? [] : [origin]), ...context.settings.maibotRemotes])]
    let fetchedFrom: string | undefined
    for (const remote of remotes) {
      const attempt = yield* Effect.result(context.runTool({
        spec: {
          step: "fetch",
          tool: "git",
          file: "git",
          args: ["fetch", "--progress", "--depth", "1", gitUrl(remote), plan.resolved.ref],
          cwd: root,
          env: { ...context.settings.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" },
          timeoutMs: context.settings.timeouts.cloneMs
        },
        tracker: Progress.git(),
        range: [20, 40],
        message: `正在获取 ${plan.resolved.ref} ({done})`,
        quietProgress: true
      }))
      if (attempt._tag === "Success") {
        fetchedFrom = remote
        break
      }
      yield* context.log("warning", `⚠️ 从 ${remote} 获取失败: ${attempt.failure.output}`)
    }
    if (fetchedFrom === undefined) return yield* new StepFailed({ step: "fetch", tool: "git", output: `所有代码源都无法获取 ${plan.resolved.ref}` })
    const commit = (yield* git(context, root, ["rev-parse", "FETCH_HEAD"]))?.trim() ?? "FETCH_HEAD"
    const hasTemplate = (yield* git(context, root, ["cat-file", "-t", `${commit}:template`]))?.trim() === "tree"
    const generation: DeployJob.Generation = hasTemplate ? "0.x" : "1.x"
    const pyproject = Python.readPyprojectText(yield* git(context, root, ["show", `${commit}:pyproject.toml`]))
    yield* context.resolved(plan.resolved.ref, generation)
    if (plan.generation === "1.x" && generation === "0.x") {
      return yield* new StepFailed({ step: "fetch", tool: "git", output: "不能从 1.x 降级到 0.x（数据库已迁移）；请恢复更新前的备份" })
    }
    yield* context.log("info", `🧬 ${plan.generation} → ${generation}`)
    const python = yield* Steps.choosePython(context, pyproject.requiresPython)

    let previousVenv: string | undefined
    const newVenv = Path.join(root, `venv.maikit-new-${plan.backupId}`)
    const changed = Effect.gen(function*() {
      yield* context.step("checkout")
      yield* context.progress(42, `正在切换到 ${plan.resolved.ref}`)
      const checkout = yield* git(context, root, ["-c", "advice.detachedHead=false", "checkout", "--force", "--quiet", commit])
      if (checkout === undefined) return yield* new StepFailed({ step: "checkout", tool: "git", output: `无法检出 ${commit}` })
      yield* context.log("success", `✅ 已切换到 ${plan.resolved.ref} (${commit.slice(0, 7)})`)
      yield* Steps.confirmAgreements(context, root)

      yield* context.step("venv")
      yield* context.progress(45, "正在创建虚拟环境...")
      yield* Steps.makeVenv(context, python, newVenv, "venv", [45, 55])
      yield* context.step("deps")
      yield* context.progress(58, "阶段3/4: 安装依赖包 - 正在准备依赖安装")
      yield* Steps.installRequirements(context, { root, venv: newVenv, step: "deps", range: [58, 75], label: "阶段3/4: 安装依赖包" })

      yield* context.step("config")
      const version = plan.resolved.version ?? (pyproject.version === undefined ? undefined : parseTag(pyproject.version))
      const main = plan.instance.components.find((component) => component.name === "main")
      let components = plan.instance.components.map(Struct.omit(["position"]))
      let adapter = plan.deployed?.adapter ?? (components.some((component) => component.name === "napcat-ada") ? "process" : "none")
      if (generation === "0.x") {
        yield* Steps.layOutConfig(context, root, { port: plan.instance.port, webuiPort: undefined })
      } else if (plan.generation === "0.x") {
        yield* context.log("info", "⚙️ 0.x → 1.x: MaiBot 将在下次启动时迁移配置和数据库（已设置 MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED=1）")
        components = components.map((component) =>
          component.name === "main"
            ? { ...component, env: { ...component.env, MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED: "1", PORT: String(plan.instance.port) } }
            : component
        )
        if (adapter === "process") {
          components = components.filter((component) => component.name !== "napcat-ada")
          yield* context.log("info", "🔌 适配器从独立进程改为插件（原适配器文件夹保留）")
          yield* Steps.installAdapterPlugin(context, { root, version, range: [76, 84] })
          adapter = "plugin"
        }
      } else if (adapter === "plugin" && Files.kindOf(Path.join(root, "plugins", "MaiBot-Napcat-Adapter", ".git")) === "directory") {
        const plugin = Path.join(root, "plugins", "MaiBot-Napcat-Adapter")
        yield* context.runTool({
          spec: {
            step: "napcat-ada",
            tool: "git",
            file: "git",
            args: ["fetch", "--progress", "origin", "main"],
            cwd: plugin,
            env: { ...context.settings.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" },
            timeoutMs: context.settings.timeouts.cloneMs
          },
          range: [76, 80],
          quietProgress: true
        })
        yield* git(context, plugin, ["update-ref", "refs/heads/main", "FETCH_HEAD"])
        yield* Steps.selectPluginRevision(context, plugin, version)
      }

      yield* context.step("swap")
      yield* context.progress(85, "阶段4/4: 后端记录数据库 - 正在保存实例信息")
      const venv = Path.join(root, "venv")
      yield* Effect.try({
        try: () => {
          if (Files.kindOf(venv) === "directory") {
            previousVenv = Path.join(root, `venv.maikit-backup-${plan.backupId}`)
            Fs.renameSync(venv, previousVenv)
          }
          Fs.renameSync(newVenv, venv)
        },
        catch: (cause) => new StepFailed({ step: "swap", tool: "file", output: String(cause) })
      })
      if (previousVenv !== undefined) {
        yield* store.setPreviousVenv(plan.backupId, previousVenv).pipe(
          Effect.mapError((error) => new StepFailed({ step: "swap", tool: "database", output: error.message }))
        )
        yield* context.log("info", `🗄️ 旧的虚拟环境保留在 ${previousVenv}，删除备份时一并删除`)
      }
      return {
        version: plan.requested === "latest" ? plan.resolved.ref : plan.requested,
        components,
        deployed: {
          generation,
          webui_port: plan.deployed?.webui_port ?? (generation === "1.x" ? Number(main?.env["WEBUI_PORT"] ?? 8001) : null),
          remote: fetchedFrom,
          ref: plan.resolved.ref,
          adapter
        }
      }
    })

    return yield* changed.pipe(
      Effect.onExit((exit) =>
        Exit.isSuccess(exit) ? Effect.void : Effect.gen(function*() {
          yield* context.log("warning", "↩️ 更新失败，正在恢复备份")
          const venv = Path.join(root, "venv")
          if (previousVenv !== undefined && Files.kindOf(previousVenv) === "directory") {
            yield* Effect.sync(() => {
              Fs.rmSync(venv, { recursive: true, force: true })
              Fs.renameSync(previousVenv as string, venv)
            })
            yield* Effect.ignore(store.setPreviousVenv(plan.backupId, null))
          }
          const restored = yield* Effect.result(restoreFiles(context, root, backup))
          yield* restored._tag === "Success"
            ? context.log("success", `✅ 已恢复到更新前的状态 (${backup.head?.slice(0, 7) ?? "?"})`)
            : context.log("error", `❌ 恢复备份失败: ${restored.failure.output}；备份保留在 ${backup.directory}`)
        }).pipe(Effect.uninterruptible)
      )
    )
  })

/** The generation an instance has now: recorded by its deploy, else read from its tree. */
export const generationOf = (instance: InstanceRegistry.Instance, deployed: DeployedInstance | undefined): DeployJob.Generation =>
  deployed?.generation ?? (Files.kindOf(Path.join(instance.path, "template")) === "directory" ? "0.x" : "1.x")

/** A 1.x instance asked to become a 0.x tag: known before any work from the tag alone. */
export const isDowngrade = (generation: DeployJob.Generation, resolved: Resolved): boolean =>
  generation === "1.x" && resolved.version !== undefined && SemVer.release(resolved.version).major === 0
