/**
 * The shapes the console reads and sends, derived from the server's own schemas. Only types are imported:
 * nothing of Effect reaches the browser bundle.
 */
import type { AgentConfig as Config } from "@maikit/core/control-plane"
import type { ConsoleApi } from "@maikit/http-adapter/console"
import type { ControlPlaneApi } from "@maikit/http-adapter/control-plane"
import type { LauncherApi, LauncherDeployApi, LauncherResourcesApi } from "@maikit/http-adapter/launcher"
import type { StatusRelayApi } from "@maikit/http-adapter/relay"
import type { InstallLogSocket, LogSocket, TerminalSocket } from "@maikit/ws-adapter"

export type ConsoleInfo = ConsoleApi.ConsoleInfo

export type Metrics = typeof LauncherApi.LauncherMetrics.Type
export type Instances = typeof LauncherApi.InstancesResponse.Type
export type Instance = typeof LauncherApi.InstanceDetail.Type
export type InstanceStatus = Instance["status"]
export type InstanceState = typeof LauncherApi.InstanceStatusResponse.Type
export type ComponentStats = typeof LauncherApi.ComponentStatsDetail.Type
export type ComponentState = ComponentStats["state"]

export type Versions = typeof LauncherDeployApi.VersionsResponse.Type
export type DeployableService = typeof LauncherDeployApi.ServicesResponse.Type["services"][number]
export type DeployRequest = typeof LauncherDeployApi.DeployRequestBody.Type
export type InstallStatus = typeof LauncherDeployApi.InstallStatusResponse.Type
export type JobSummary = typeof LauncherDeployApi.JobSummary.Type
export type UpdateAnswer = typeof LauncherDeployApi.UpdateResponse.Type
export type Backup = typeof LauncherDeployApi.BackupDetail.Type
export type InstallLogLine = InstallLogSocket.InstallLogLine
export type ConfigFileInfo = typeof LauncherResourcesApi.FileInfo.Type
export type ConfigVersions = typeof LauncherResourcesApi.VersionsResponse.Type
export type ConfigWritten = typeof LauncherResourcesApi.WriteResponse.Type

export type TerminalIn = TerminalSocket.ClientFrame
export type TerminalOut = TerminalSocket.ServerFrame
export type LogLine = LogSocket.LogLine

/** The control plane's envelope around `D` (its validation error is the envelope with `data: null`). */
export type Envelope<D> = Omit<typeof ControlPlaneApi.ValidationError.Type, "data" | "detail"> & { readonly data: D | null }
export type Tenant = typeof ControlPlaneApi.TenantView.Type
export type Agent = typeof ControlPlaneApi.AgentView.Type
export type ApiKey = typeof ControlPlaneApi.ApiKeyView.Type
export type CreatedApiKey = typeof ControlPlaneApi.CreatedApiKey.Type
export type ApiKeyPage = typeof ControlPlaneApi.ApiKeyPage.Type
export type Activity = typeof ControlPlaneApi.ActivityList.Type
export type AgentConfig = typeof Config.AgentConfig.Type
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly total: number
  readonly page: number
  readonly size: number
  readonly pages: number
}

export type RelayStatus = typeof StatusRelayApi.StatusResponse.Type["data"]
export type StatusCode = RelayStatus["code"]
export type Session = RelayStatus["sessions"][number]
export type MqttConfig = typeof StatusRelayApi.MqttConfigResponse.Type["data"]
export type BleConfig = typeof StatusRelayApi.BleConfigResponse.Type["data"]
export type DeviceConfig = typeof StatusRelayApi.DeviceConfigResponse.Type["data"]
export type PushAnswer = typeof StatusRelayApi.PushResponse.Type["data"]

/** The snapshot of `GET /api/events`'s `connected` event. */
export type Snapshot = Omit<RelayStatus, "mqtt" | "ble" | "devices" | "sse_clients">
/** The `status` events of `GET /api/events`. */
export interface StatusUpdate {
  readonly seq: number
  readonly reason: "event" | "expired"
  readonly code: StatusCode
  readonly timestamp: string
  readonly changed: boolean
  readonly session: Session
  readonly sessions: number
}
