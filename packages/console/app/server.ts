/**
 * What the console knows of the server it came from (`GET /api/console/info`): whether a sign-in is needed,
 * and which API families and routes it serves, so that only those pages appear.
 */
import { computed, ref } from "vue"
import { ApiError, get, signedOut } from "./api.ts"
import type { ConsoleInfo } from "./types.ts"

export const info = ref<ConsoleInfo | undefined>(undefined)
export const infoError = ref<ApiError | undefined>(undefined)

export const loadInfo = async () => {
  infoError.value = undefined
  try {
    info.value = await get<ConsoleInfo>("/api/console/info")
    signedOut.value = false
  } catch (error) {
    infoError.value = error instanceof ApiError ? error : new ApiError(0, String(error))
  }
}

export const needsSignIn = computed(() =>
  signedOut.value || (info.value !== undefined && info.value.access.required && !info.value.access.signed_in)
)

/** A route with its path parameters unnamed: `GET /api/v1/instance/:id/status` → `GET /api/v1/instance/:/status`. */
const shape = (route: string) => route.replace(/\/:[^/]+/g, "/:")

const served = computed(() => new Set((info.value?.routes ?? []).map(shape)))

/** Whether the server serves `route` (`"GET /api/v1/instances"`; path parameters may have any name). */
export const serves = (route: string) => served.value.has(shape(route))

export const features = computed(() => ({
  metrics: serves("GET /api/v1/system/metrics"),
  instances: serves("GET /api/v1/instances"),
  terminals: serves("GET /api/v1/ws/:session"),
  logs: serves("GET /api/v1/logs/instance/:id/ws"),
  controlPlane: serves("GET /api/v2/tenants"),
  relay: serves("GET /api/events"),
  deploy: serves("POST /api/v1/deploy/deploy") && serves("GET /api/v1/deploy/install-status/:id") && serves("GET /api/v1/deploy/jobs"),
  update: serves("POST /api/v1/instance/:id/update") && serves("GET /api/v1/instance/:id/backups"),
  configs: serves("GET /api/v1/resources/:iid/files/:file") && serves("GET /api/v1/resources/:iid/files/:file/versions"),
  resources: serves("POST /api/v1/resource/:iid/emoji/search") && serves("POST /api/v1/resource/:iid/person/search"),
  componentActions: serves("GET /api/v1/instance/:id/component/:component/stop")
}))
