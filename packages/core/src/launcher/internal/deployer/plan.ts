/**
 * Checks a deploy request before anything is written and turns it into a plan: absolute paths (after `~`),
 * a writable parent, an absent or empty target, a version the catalog resolves, known services, ports in range
 * and not taken by another instance. Every refusal names the field and what was wrong with it.
 */
import { Effect } from "effect"
import * as Path from "node:path"
import { InvalidRequest, type Problem } from "../../DeployerError.ts"
import type * as InstanceRegistry from "../../InstanceRegistry.ts"
import * as VenvCommand from "../../VenvCommand.ts"
import * as Files from "./files.ts"
import { type Catalog, listing, resolve, type Resolved } from "./versions.ts"

export interface ServiceRequest {
  /** `napcat-ada` (the NapCat adapter) or `napcat`. */
  readonly name: string
  /** Default `<path>/<name>`; a 1.x adapter is a plugin inside the instance whatever this says. */
  readonly path?: string | undefined
  readonly port?: number | undefined
  /** How to start it; default `python main.py` for the 0.x adapter, NapCat's own start script for NapCat. */
  readonly command?: string | undefined
  /** NapCat's release archive (URL or local file); default the configured one. */
  readonly archive?: string | undefined
  readonly sha256?: string | undefined
}

export interface DeployRequest {
  readonly name: string
  readonly version: string
  readonly path: string
  readonly port: number
  readonly host?: string | undefined
  readonly token?: string | undefined
  /** MaiBot's WebUI port (default: MaiBot's own, 8001). */
  readonly webuiPort?: number | undefined
  readonly services?: ReadonlyArray<ServiceRequest> | undefined
}

export const serviceNames = ["napcat-ada", "napcat"] as const

export const defaultServicePorts: Readonly<Record<string, number>> = { "napcat-ada": 8095, napcat: 3001 }

export interface PlannedService {
  readonly name: string
  readonly path: string
  readonly port: number
  readonly command: string | undefined
  readonly archive: string | undefined
  readonly sha256: string | undefined
  readonly existed: boolean
}

export interface Plan {
  readonly name: string
  readonly version: string
  readonly resolved: Resolved
  readonly path: string
  /** Folders above the target that do not exist yet, outermost first. */
  readonly missingParents: ReadonlyArray<string>
  /** The target existed (empty) before the job. */
  readonly existed: boolean
  readonly port: number
  readonly host: string
  readonly token: string
  readonly webuiPort: number | undefined
  readonly services: ReadonlyArray<PlannedService>
  readonly freeBytes: number | undefined
}

const invalid = (field: string, problem: Problem, value: unknown, detail?: string) =>
  Effect.fail(new InvalidRequest({ field, problem, value: String(value), ...(detail === undefined ? {} : { detail }) }))

const validPort = (port: number | undefined) => port !== undefined && Number.isInteger(port) && port >= 1 && port <= 65535

/** An absolute, `..`-free path after `~` expansion, whose target is absent or empty and whose parent is writable. */
export const checkPath = (field: string, raw: string) =>
  Effect.gen(function*() {
    if (raw.trim() === "") return yield* invalid(field, "empty", raw)
    if (Files.hasParentSegment(raw)) return yield* invalid(field, "parentSegment", raw)
    const expanded = Files.expandHome(raw)
    if (!Path.isAbsolute(expanded)) return yield* invalid(field, "relative", raw)
    const path = Path.resolve(expanded)
    const kind = Files.kindOf(path)
    if (kind === "file") return yield* invalid(field, "notDirectory", path)
    if (kind === "directory" && !Files.isEmptyDirectory(path)) return yield* invalid(field, "notEmpty", path)
    const { existing, missing } = Files.existingAncestor(path)
    if (Files.kindOf(existing) !== "directory" || !Files.isWritable(existing)) return yield* invalid(field, "notWritable", existing)
    return { path, existed: kind === "directory", missing, ancestor: existing }
  })

/** Ports of every registered instance and its services, with the instance that holds each. */
const portsInUse = (instances: ReadonlyArray<InstanceRegistry.Instance>) => {
  const used = new Map<number, string>()
  for (const instance of instances) {
    used.set(instance.port, instance.name)
    for (const component of instance.components) {
      if (component.port !== null) used.set(component.port, instance.name)
      const webui = Number(component.env["WEBUI_PORT"])
      if (Number.isInteger(webui) && webui > 0) used.set(webui, instance.name)
    }
  }
  return used
}

export const make = (
  request: DeployRequest,
  context: {
    readonly catalog: Catalog
    readonly instances: ReadonlyArray<InstanceRegistry.Instance>
    readonly napcatArchive: string | undefined
    readonly napcatSha256: string | undefined
  }
) =>
  Effect.gen(function*() {
    const name = request.name.trim()
    if (name === "") return yield* invalid("instance_name", "empty", request.name)
    const target = yield* checkPath("install_path", request.path)
    const resolved = resolve(context.catalog, request.version)
    if (resolved === undefined) {
      return yield* invalid("version", "unknownVersion", request.version, listing(context.catalog).slice(0, 12).join(", "))
    }
    const used = portsInUse(context.instances)
    const claimed = new Map<number, string>()
    const claim = (field: string, port: number | undefined) =>
      Effect.gen(function*() {
        if (!validPort(port)) return yield* invalid(field, "portRange", port)
        const holder = used.get(port as number)
        if (holder !== undefined) return yield* invalid(field, "portInUse", port, holder)
        const self = claimed.get(port as number)
        if (self !== undefined) return yield* invalid(field, "portInUse", port, self)
        claimed.set(port as number, field)
      })
    yield* claim("port", request.port)
    if (request.webuiPort !== undefined) yield* claim("webui_port", request.webuiPort)
    const services: Array<PlannedService> = []
    for (const service of request.services ?? []) {
      const field = "install_services"
      if (!(serviceNames as ReadonlyArray<string>).includes(service.name)) {
        return yield* invalid(field, "unknownService", service.name, serviceNames.join(", "))
      }
      if (services.some((other) => other.name === service.name)) return yield* invalid(field, "duplicateService", service.name)
      const port = service.port ?? defaultServicePorts[service.name]
      yield* claim(`${field}.${service.name}.port`, port)
      const rawPath = service.path === undefined || service.path.trim() === "" ? Path.join(target.path, service.name) : service.path
      const inside = Path.isAbsolute(Files.expandHome(rawPath)) && Files.isInside(Path.resolve(Files.expandHome(rawPath)), target.path)
      const checked = inside
        ? { path: Path.resolve(Files.expandHome(rawPath)), existed: false }
        : yield* checkPath(`${field}.${service.name}.path`, rawPath)
      if (service.command !== undefined && service.command.trim() !== "") {
        yield* VenvCommand.split(service.command).pipe(
          Effect.catch(() => invalid(`${field}.${service.name}.run_cmd`, "badCommand", service.command))
        )
      }
      const archive = service.name === "napcat" ? service.archive ?? context.napcatArchive : undefined
      if (service.name === "napcat" && archive === undefined) return yield* invalid(`${field}.napcat.archive`, "missingArchive", "")
      const sha256 = service.name === "napcat" ? service.sha256 ?? (service.archive === undefined ? context.napcatSha256 : undefined) : undefined
      if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) return yield* invalid(`${field}.napcat.sha256`, "badChecksum", sha256)
      services.push({
        name: service.name,
        path: checked.path,
        port: port as number,
        command: service.command === undefined || service.command.trim() === "" ? undefined : service.command,
        archive,
        sha256,
        existed: checked.existed
      })
    }
    return {
      name,
      version: request.version,
      resolved,
      path: target.path,
      missingParents: target.missing.filter((path) => path !== target.path),
      existed: target.existed,
      port: request.port,
      host: request.host ?? "127.0.0.1",
      token: request.token ?? "",
      webuiPort: request.webuiPort,
      services,
      freeBytes: Files.freeBytes(target.ancestor)
    } satisfies Plan
  })
