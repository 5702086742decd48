/**
 * A deploy, in the original's four stages and with its progress values and messages (contract §3.1), each
 * percent coming from real work: prepare the folder → clone with fallback → agreements, Python, venv,
 * requirements → config (0.x) and services → register the instance. The job records every path before it
 * creates it; what happens on failure is the Deployer's (it removes exactly those).
 */
import { Effect, Fiber } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { StepFailed } from "../../DeployerError.ts"
import type * as InstanceRegistry from "../../InstanceRegistry.ts"
import * as Archive from "./archive.ts"
import type { JobContext } from "./context.ts"
import * as Files from "./files.ts"
import * as Python from "./python.ts"
import type { Plan } from "./plan.ts"
import * as Steps from "./steps.ts"
import type { DeployedInstance } from "./store.ts"
import { parseTag } from "./versions.ts"

export interface Registration {
  readonly instance: InstanceRegistry.NewInstance
  readonly deployed: Omit<DeployedInstance, "instance_id" | "updated_at">
}

const mkdir = (context: JobContext, path: string) =>
  Effect.gen(function*() {
    yield* context.created({ path, contentsOnly: false })
    yield* Effect.try({
      try: () => Fs.mkdirSync(path),
      catch: (cause) => new StepFailed({ step: "prepare", tool: "file", output: `无法创建 ${path}: ${String(cause)}` })
    })
  })

/** Runs the deploy; answers what to register. Registering is left to the caller, as the very last step. */
export const run = (context: JobContext, plan: Plan) =>
  Effect.gen(function*() {
    yield* context.step("prepare")
    yield* context.progress(5, "阶段1/4: 准备部署环境")
    yield* context.log("info", "🔍 阶段1/4: 准备部署环境 - 开始验证安装路径")
    yield* context.log("info", `📁 安装路径: ${plan.path}${plan.existed ? "（已存在的空文件夹，将保留）" : ""}`)
    if (plan.freeBytes !== undefined) {
      yield* context.log(plan.freeBytes < 2 * 1024 ** 3 ? "warning" : "info", `💽 可用磁盘空间: ${Files.formatBytes(plan.freeBytes)}`)
    }
    for (const parent of plan.missingParents) yield* mkdir(context, parent)
    if (plan.existed) yield* context.created({ path: plan.path, contentsOnly: true })
    else yield* mkdir(context, plan.path)

    // Asking the interpreters for their versions needs no tree: it runs while git clones.
    const discovery = yield* Effect.forkChild(Python.discover(context.settings.pythonCandidates, context.settings.env))
    yield* context.step("clone")
    yield* context.progress(10, "阶段1/4: 准备部署环境 - 正在连接到代码仓库")
    const remote = yield* Steps.cloneWithFallback(context, {
      step: "clone",
      remotes: context.settings.maibotRemotes,
      ref: plan.resolved.ref,
      target: plan.path,
      range: [20, 38],
      message: "阶段2/4: 使用Git克隆MaiBot - 正在下载源代码 ({done})"
    })
    yield* context.progress(40, "阶段2/4: 克隆MaiBot完成，正在验证文件完整性")
    yield* context.log("success", "✅ 阶段2/4: 使用Git克隆MaiBot完成")

    yield* context.step("verify")
    const tree = yield* Steps.inspectTree(plan.path)
    yield* context.resolved(plan.resolved.ref, tree.generation)
    yield* context.log("info", `🧬 ${tree.generation === "0.x" ? "0.x 结构（template/ 模板，独立适配器进程）" : "1.x 结构（首次启动时生成配置，适配器为插件）"}`)
    const version = plan.resolved.version ?? (tree.projectVersion === undefined ? undefined : parseTag(tree.projectVersion))

    yield* context.step("agreements")
    yield* Steps.confirmAgreements(context, plan.path)

    yield* context.step("python")
    yield* context.progress(45, "正在创建虚拟环境...")
    const python = yield* Steps.choosePython(context, tree.requiresPython, "python", Fiber.join(discovery))

    yield* context.step("venv")
    yield* context.progress(50, "阶段3/4: 创建虚拟环境 - 正在创建Python虚拟环境")
    const venv = Path.join(plan.path, "venv")
    yield* Steps.makeVenv(context, python, venv, "venv", [50, 55])
    yield* context.progress(55, "阶段3/4: 创建虚拟环境 - 虚拟环境创建完成，检查依赖文件")

    yield* context.step("deps")
    yield* context.progress(58, "阶段3/4: 安装依赖包 - 正在准备依赖安装")
    const installed = yield* Steps.installRequirements(context, {
      root: plan.path,
      venv,
      step: "deps",
      range: [58, 73],
      label: "阶段3/4: 安装依赖包"
    })
    if (installed) yield* context.progress(73, "阶段3/4: 安装依赖包 - 依赖安装成功，正在验证安装结果")
    else yield* context.progress(75, "未找到依赖文件，跳过依赖安装")
    yield* context.progress(75, "阶段3/4: 创建虚拟环境完成")

    yield* context.step("config")
    if (tree.generation === "0.x") {
      yield* Steps.layOutConfig(context, plan.path, { port: plan.port, webuiPort: plan.webuiPort })
    } else {
      yield* context.log("info", "⚙️ 1.x 在首次启动时自己生成 config/，端口通过 PORT / WEBUI_PORT 传给它")
    }

    const components: Array<Omit<InstanceRegistry.Component, "position">> = [{
      name: "main",
      kind: "main",
      path: plan.path,
      port: plan.port,
      command: "python bot.py",
      env: tree.generation === "1.x"
        ? { PORT: String(plan.port), ...(plan.webuiPort === undefined ? {} : { WEBUI_PORT: String(plan.webuiPort) }) }
        : {},
      restart_policy: "on-failure"
    }]
    let adapter: DeployedInstance["adapter"] = "none"
    const share = plan.services.length === 0 ? 0 : 10 / plan.services.length
    for (const [index, service] of plan.services.entries()) {
      const range = [76 + share * index, 76 + share * (index + 1)] as const
      yield* context.step(service.name)
      yield* context.progress(range[0], `正在安装服务 ${service.name}`)
      if (service.name === "napcat-ada" && tree.generation === "1.x") {
        yield* Steps.installAdapterPlugin(context, { root: plan.path, version, range })
        adapter = "plugin"
        continue
      }
      if (!service.existed && !Files.isInside(service.path, plan.path)) {
        yield* Effect.forEach(Files.existingAncestor(service.path).missing, (path) => mkdir(context, path), { discard: true })
      } else if (service.existed) {
        yield* context.created({ path: service.path, contentsOnly: true })
      } else if (Files.kindOf(service.path) === "missing") {
        yield* mkdir(context, service.path)
      } else {
        return yield* new StepFailed({ step: service.name, tool: "file", output: `${service.path} 已存在（MaiBot 的代码里有同名文件夹）` })
      }
      if (service.name === "napcat-ada") {
        yield* Steps.installStandaloneAdapter(context, { path: service.path, port: service.port, maibotPort: plan.port, range })
        adapter = "process"
        components.push({
          name: "napcat-ada",
          kind: "service",
          path: service.path,
          port: service.port,
          command: service.command ?? "python main.py",
          env: {},
          restart_policy: "on-failure"
        })
        continue
      }
      yield* Steps.installNapcat(context, {
        path: service.path,
        archive: service.archive ?? "",
        sha256: service.sha256,
        python: python.executable,
        range
      })
      const command = service.command ?? Archive.startCommand(service.path)
      if (command === undefined) {
        return yield* new StepFailed({ step: "napcat", tool: "archive", output: "安装包里没有启动脚本（start.sh / launcher.bat），请在 run_cmd 中指定" })
      }
      components.push({ name: "napcat", kind: "service", path: service.path, port: service.port, command, env: {}, restart_policy: "on-failure" })
    }

    yield* context.step("register")
    yield* context.progress(85, "阶段4/4: 后端记录数据库 - 正在保存实例信息")
    return {
      instance: {
        name: plan.name,
        version: plan.version === "latest" ? plan.resolved.ref : plan.version,
        path: plan.path,
        host: plan.host,
        port: plan.port,
        token: plan.token,
        ownsPath: !plan.existed,
        components
      },
      deployed: {
        generation: tree.generation,
        webui_port: plan.webuiPort ?? (tree.generation === "1.x" ? 8001 : null),
        remote,
        ref: plan.resolved.ref,
        adapter
      }
    } satisfies Registration
  })
