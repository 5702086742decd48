/** The control-plane family (`/api/v2`, `/health`, `/info`): MaimConfig's routes in its envelope. */
export * as ControlPlane from "./ControlPlane.ts"
export * as ControlPlaneApi from "./ControlPlaneApi.ts"
export * as ControlPlaneClient from "./ControlPlaneClient.ts"
