/** Instance actions and their per-component statistics, shared by the dashboard, the list and the detail page. */
import { ref } from "vue"
import { ApiError, get } from "./api.ts"
import { type Key, t } from "./i18n.ts"
import type { Instance, InstanceState } from "./types.ts"

export type InstanceAction = "start" | "stop" | "restart"

export const listInstances = async () =>
  (await get<{ readonly instances: ReadonlyArray<Instance> }>("/api/v1/instances")).instances

export const instanceState = (id: string) => get<InstanceState>(`/api/v1/instance/${encodeURIComponent(id)}/status`)

/** The latest action's outcome, for the page's live region. */
export const notice = ref<{ readonly kind: "ok" | "error"; readonly text: string } | undefined>(undefined)
export const busy = ref<ReadonlySet<string>>(new Set())

const done: Record<InstanceAction, Key> = {
  start: "notice.started",
  stop: "notice.stopped",
  restart: "notice.restarted"
}
const componentDone: Record<InstanceAction, Key> = {
  start: "notice.componentStarted",
  stop: "notice.componentStopped",
  restart: "notice.componentRestarted"
}

/**
 * Runs an instance action (`GET /api/v1/instance/{id}/start|stop|restart`, as the original's routes are), or, with
 * `component` and its `path`, the same action on one component.
 */
export const act = async (instance: Pick<Instance, "id" | "name">, action: InstanceAction, path?: string, component?: string) => {
  const key = `${instance.id}:${path ?? action}`
  const words = { name: instance.name, component: component ?? "" }
  busy.value = new Set([...busy.value, key])
  try {
    const answer = await get<{ readonly success: boolean; readonly message: string }>(
      path ?? `/api/v1/instance/${encodeURIComponent(instance.id)}/${action}`
    )
    notice.value = answer.success
      ? { kind: "ok", text: t(component === undefined ? done[action] : componentDone[action], words) }
      : { kind: "error", text: `${t(component === undefined ? "notice.failed" : "notice.componentFailed", words)} ${answer.message}` }
  } catch (error) {
    notice.value = {
      kind: "error",
      text: `${t(component === undefined ? "notice.failed" : "notice.componentFailed", words)} ${error instanceof ApiError ? error.message : String(error)}`
    }
  } finally {
    const next = new Set(busy.value)
    next.delete(key)
    busy.value = next
  }
}

export const isBusy = (id: string, what: string) => busy.value.has(`${id}:${what}`)
