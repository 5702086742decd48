/**
 * The launcher's deploy routes on MaiKit's `Deployer`, in the original's shapes: `{"detail": …}` errors with
 * Chinese messages, the deploy answer the Vue client checks (`部署任务已启动` and `instance_id`), and an
 * install status it can poll for as long as it likes (the original forgot it 30 s after success).
 */
import { Effect, Layer } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Deployer, type DeployerError } from "@maikit/core/launcher"
import * as ApiFamily from "../ApiFamily.ts"
import { errors } from "./Launcher.ts"
import { LauncherDeployApi, type ServiceInstallRequest } from "./LauncherDeployApi.ts"

const detail = (status: number, message: string) => HttpServerResponse.jsonUnsafe({ detail: message }, { status })

const problems: Readonly<Record<string, (value: string, detail: string | undefined) => string>> = {
  empty: (value) => `不能为空: '${value}'`,
  relative: (value) => `安装路径必须是绝对路径（可用 ~ 表示主目录）: ${value}`,
  parentSegment: (value) => `路径不能包含 '..': ${value}`,
  notWritable: (value) => `路径权限不足: ${value} 不可写`,
  notEmpty: (value) => `目标文件夹不是空的: ${value}`,
  notDirectory: (value) => `目标路径不是文件夹: ${value}`,
  unknownVersion: (value, known) => `未知版本: ${value}${known === undefined ? "" : `（可用: ${known}）`}`,
  unknownService: (value, known) => `未知服务: ${value}${known === undefined ? "" : `（可部署: ${known}）`}`,
  duplicateService: (value) => `服务重复: ${value}`,
  portRange: (value) => `端口无效: ${value}（应为 1–65535 的整数）`,
  portInUse: (value, holder) => `端口 ${value} 已被${holder === undefined ? "其他实例" : `实例 ${holder}`}使用`,
  badCommand: (value) => `启动命令无效: ${value}`,
  badChecksum: (value) => `SHA-256 校验值无效: ${value}（应为 64 位十六进制）`,
  missingArchive: () => "未配置 NapCat 安装包：请在服务中给出 archive，或设置 napcat_archive / MAIKIT_NAPCAT_ARCHIVE",
  downgrade: (value) => `不能从 1.x 降级到 ${value}（数据库已迁移）；请恢复更新前的备份`,
  notRepository: (value) => `实例文件夹不是 git 检出，无法更新: ${value}`
}

/** A Deployer failure as the launcher's `{"detail": …}` with the status that fits it. */
export const failure = (error: DeployerError) => {
  const reason = error.reason
  switch (reason._tag) {
    case "InvalidRequest":
      return Effect.succeed(detail(400, `${reason.field}: ${(problems[reason.problem] ?? ((value) => value))(reason.value, reason.detail)}`))
    case "PathBusy":
      return Effect.succeed(detail(409, `路径 ${reason.path} 已有部署任务进行中（任务 ${reason.jobId}）`))
    case "JobNotFound":
      return Effect.succeed(detail(404, `实例 ${reason.jobId} 不存在或尚未开始安装`))
    case "JobState":
      return Effect.succeed(detail(409, `任务 ${reason.jobId} 的状态是 ${reason.status}，不能这样做`))
    case "InstanceMissing":
      return Effect.succeed(detail(404, `未找到实例 ${reason.instanceId}`))
    case "InstanceBusy":
      return Effect.succeed(detail(409, `实例 ${reason.instanceId} 正在运行（${reason.status}），请先停止`))
    case "BackupNotFound":
      return Effect.succeed(detail(404, `未找到备份 ${reason.backupId}`))
    case "BackupFailed":
      return Effect.as(Effect.logError("backup failed", error), detail(500, `备份操作失败 (${reason.step}): ${reason.output}`))
    case "StorageFailed":
      return Effect.as(Effect.logError("deployer storage failed", error), detail(500, `${reason.operation} 失败: ${reason.output}`))
  }
}

const pad = (value: number) => String(value).padStart(2, "0")
const clock = (millis: number) => {
  const date = new Date(millis)
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
}

export const installStatus = (status: Deployer.JobStatus) => ({
  status: status.status,
  progress: status.progress,
  message: status.message,
  services_install_status: status.services,
  logs: status.logs.map((entry) => ({ timestamp: clock(entry.at), message: entry.message, level: entry.level })),
  job_id: status.id,
  instance_id: status.instanceId,
  kind: status.kind,
  version: status.version,
  ref: status.ref,
  generation: status.generation,
  step: status.step,
  cancelled: status.cancelled,
  kept: status.kept,
  removed: status.removed,
  backup_id: status.backupId,
  started_at: status.startedAt,
  finished_at: status.finishedAt
})

const backupDetail = (backup: Deployer.Backup) => ({
  id: backup.id,
  instance_id: backup.instanceId,
  instance_name: backup.instanceName,
  version: backup.version,
  generation: backup.generation,
  head: backup.head,
  directory: backup.directory,
  previous_venv: backup.previousVenv,
  size_bytes: backup.sizeBytes,
  reason: backup.reason,
  created_at: backup.createdAt
})

const services = (requested: ReadonlyArray<typeof ServiceInstallRequest.Type> | undefined): ReadonlyArray<Deployer.ServiceRequest> =>
  (requested ?? []).map((service) => ({
    name: service.name,
    path: service.path ?? undefined,
    port: service.port ?? undefined,
    command: service.run_cmd ?? undefined,
    archive: service.archive ?? undefined,
    sha256: service.sha256 ?? undefined
  }))

const listing = (versions: Deployer.VersionListing) => ({
  versions: versions.versions,
  latest: versions.latest,
  source: versions.source,
  remote: versions.remote,
  fetched_at: versions.fetchedAt
})

export const DeployHandlers = ApiFamily.group(
  LauncherDeployApi,
  "launcherDeploy",
  Effect.fn(function*(handlers) {
    const deployer = yield* Deployer.Deployer
    const versions = (refresh: string | undefined) =>
      Effect.map(deployer.versions({ refresh: refresh === "true" || refresh === "1" }), listing)
    const deploy = (request: Deployer.DeployRequest, message: (status: Deployer.JobStatus) => string) =>
      deployer.deploy(request).pipe(
        Effect.map((status) => ({ success: true, message: message(status), instance_id: status.instanceId })),
        Effect.catchTag("DeployerError", failure)
      )
    const status = (id: string) =>
      deployer.status(id).pipe(Effect.map(installStatus), Effect.catchTag("DeployerError", failure))
    return handlers
      .handle("versions", ({ query }) => versions(query.refresh))
      .handle("versionsAlias", ({ query }) => versions(query.refresh))
      .handle("services", () => Effect.succeed({ services: Deployer.deployableServices }))
      .handle("deploy", ({ payload }) =>
        deploy({
          name: payload.instance_name,
          version: payload.version,
          path: payload.install_path,
          port: payload.port,
          host: payload.host ?? undefined,
          token: payload.token ?? undefined,
          webuiPort: payload.webui_port ?? undefined,
          services: services(payload.install_services)
        }, (job) => `MaiBot 版本 ${job.version} 的实例 ${job.name} 部署任务已启动。`))
      .handle("deployVersion", ({ params, payload }) =>
        deploy({
          name: payload.instance_name,
          version: params.version,
          path: payload.install_path,
          port: payload.port,
          host: payload.host ?? undefined,
          token: payload.token ?? undefined,
          webuiPort: payload.webui_port ?? undefined,
          services: services(payload.installServices ?? payload.install_services)
        }, () => "部署任务已提交"))
      .handle("jobs", () =>
        deployer.jobs.pipe(
          Effect.map((jobs) => ({
            success: true as const,
            jobs: jobs.map((job) => ({
              job_id: job.id,
              instance_id: job.instanceId,
              kind: job.kind,
              name: job.name,
              version: job.version,
              path: job.path,
              status: job.status,
              progress: job.progress,
              message: job.message,
              started_at: job.startedAt,
              finished_at: job.finishedAt
            }))
          })),
          Effect.catchTag("DeployerError", failure)
        ))
      .handle("installStatus", ({ params }) => status(params.id))
      .handle("installStatusAlias", ({ params }) => status(params.id))
      .handle("cancel", ({ params }) =>
        deployer.cancel(params.id).pipe(
          Effect.map((job) => ({ success: true, message: `${job.kind === "deploy" ? "部署" : "更新"}任务 ${job.name} 已取消` })),
          Effect.catchTag("DeployerError", failure)
        ))
      .handle("retry", ({ params }) =>
        deployer.retry(params.id).pipe(
          Effect.map((job) => ({ success: true, message: `任务 ${job.name} 已重新开始`, instance_id: job.instanceId })),
          Effect.catchTag("DeployerError", failure)
        ))
      .handle("update", ({ params, payload }) =>
        deployer.update(params.id, payload.version).pipe(
          Effect.map((job) => ({
            success: true,
            message: `实例 ${job.name} 更新到 ${payload.version} 的任务已启动。`,
            instance_id: job.instanceId,
            job_id: job.id
          })),
          Effect.catchTag("DeployerError", failure)
        ))
      .handle("backups", ({ params }) =>
        deployer.backups(params.id).pipe(
          Effect.map((backups) => ({ success: true as const, backups: backups.map(backupDetail) })),
          Effect.catchTag("DeployerError", failure)
        ))
      .handle("restoreBackup", ({ params }) =>
        Effect.gen(function*() {
          const owned = (yield* deployer.backups(params.id)).some((backup) => backup.id === params.backup_id)
          if (!owned) return detail(404, `未找到备份 ${params.backup_id}`)
          const backup = yield* deployer.restoreBackup(params.backup_id)
          return { success: true, message: `实例 ${backup.instanceName} 已恢复到 ${backup.version}（备份 ${backup.id}）` }
        }).pipe(Effect.catchTag("DeployerError", failure)))
      .handle("deleteBackup", ({ params }) =>
        Effect.gen(function*() {
          const owned = (yield* deployer.backups(params.id)).some((backup) => backup.id === params.backup_id)
          if (!owned) return detail(404, `未找到备份 ${params.backup_id}`)
          const backup = yield* deployer.deleteBackup(params.backup_id)
          return { success: true, message: `备份 ${backup.id} 已删除` }
        }).pipe(Effect.catchTag("DeployerError", failure)))
  })
)

const prefixes = ["/api/v1/deploy", "/api/v1/versions", "/api/v1/install-status/", "/api/v1/instance/"]

/** The deploy routes, ready for `MaikitServer` next to the launcher's other families. Needs the `Deployer`. */
export const family: ApiFamily.ApiFamily<Deployer.Deployer> = ApiFamily.make({
  name: "launcher-deploy",
  api: LauncherDeployApi,
  routes: HttpApiBuilder.layer(LauncherDeployApi).pipe(Layer.provide(DeployHandlers)),
  owns: (path) => prefixes.some((prefix) => path === prefix || path.startsWith(prefix)),
  errors
})
