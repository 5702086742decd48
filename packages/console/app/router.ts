/** The console's pages under `/console/`; each view is its own chunk, loaded when first visited. */
import { createRouter, createWebHistory } from "vue-router"

export const router = createRouter({
  history: createWebHistory("/console/"),
  routes: [
    { path: "/", name: "dashboard", component: () => import("./views/DashboardView.vue") },
    { path: "/instances", name: "instances", component: () => import("./views/InstancesView.vue") },
    { path: "/instances/:id", name: "instance", component: () => import("./views/InstanceView.vue"), props: true },
    { path: "/deploy", name: "deploy", component: () => import("./views/DeployView.vue") },
    { path: "/control-plane", name: "control-plane", component: () => import("./views/ControlPlaneView.vue") },
    { path: "/light", name: "light", component: () => import("./views/LightView.vue") },
    { path: "/:rest(.*)*", name: "not-found", component: () => import("./views/NotFoundView.vue") }
  ]
})
