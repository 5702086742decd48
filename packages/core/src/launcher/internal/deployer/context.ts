/**
 * What a running job offers its steps: settings, logging, progress, service progress, the record of what it
 * creates, and `runTool`, which runs git/python/pip with its lines logged and its progress read from them.
 */
import type { Effect } from "effect"
import type * as DeployJob from "../../DeployJob.ts"
import type { StepFailed } from "../../DeployerError.ts"
import type * as ProcessTree from "../../ProcessTree.ts"
import type { Created } from "./store.ts"
import type * as Tool from "./tool.ts"

export interface PipSettings {
  readonly indexUrl: string | undefined
  readonly extraIndexUrls: ReadonlyArray<string>
  readonly trustedHosts: ReadonlyArray<string>
}

export interface Timeouts {
  readonly cloneMs: number
  readonly venvMs: number
  readonly pipMs: number
  readonly archiveMs: number
}

export interface Settings {
  readonly maibotRemotes: ReadonlyArray<string>
  readonly adapterRemotes: ReadonlyArray<string>
  readonly pip: PipSettings
  readonly pythonCandidates: ReadonlyArray<string>
  readonly napcatArchive: string | undefined
  readonly napcatSha256: string | undefined
  readonly timeouts: Timeouts
  /** The environment tools run with: MaiKit's own (so `PIP_*`, proxies and `PATH` apply), or a host's choice. */
  readonly env: Readonly<Record<string, string | undefined>>
  /** Where backups go: `<dataDir>/backups`. */
  readonly backupRoot: string
}

export interface ToolRun {
  readonly spec: Omit<Tool.Spec, "env"> & { readonly env?: Readonly<Record<string, string | undefined>> | undefined }
  /** Reads the tool's lines into a fraction done. */
  readonly tracker?: { readonly feed: (line: string) => number } | undefined
  /** The job's percent range this tool covers. */
  readonly range?: readonly [from: number, to: number] | undefined
  /** The status message while it runs; `{done}` is replaced by what the tracker says (`45%`). */
  readonly message?: string | undefined
  /** Lines that are only progress (git's redrawn counters) are not logged one by one. */
  readonly quietProgress?: boolean | undefined
}

export interface JobContext {
  readonly jobId: string
  readonly settings: Settings
  readonly log: (level: DeployJob.LogLevel, message: string) => Effect.Effect<void>
  /** Moves the job forward; a lower percent than the current one only changes the message. */
  readonly progress: (percent: number, message: string) => Effect.Effect<void>
  /** The step now running (named in a failure). */
  readonly step: (name: string) => Effect.Effect<void>
  readonly service: (progress: DeployJob.ServiceProgress) => Effect.Effect<void>
  readonly resolved: (ref: string, generation: DeployJob.Generation | null) => Effect.Effect<void>
  /** Records a path before the job creates it, so a failure, a cancel or a crash can remove it. */
  readonly created: (entry: Created) => Effect.Effect<void>
  readonly runTool: (run: ToolRun) => Effect.Effect<void, StepFailed, ProcessTree.ProcessTree>
}
