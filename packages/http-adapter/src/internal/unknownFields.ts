/**
 * Effect's OpenAPI generator writes `additionalProperties: false` on every object (it renders schemas as if
 * decoded with `onExcessProperty: "error"`), but `HttpApi` decodes request bodies with the default, which drops
 * unknown fields — and the original systems' clients send extra fields, so dropping them is what MaiKit wants.
 * This transform makes the document say what the server does: every object a request body can hold (followed
 * through `$ref`s into the components) accepts additional properties, which the server ignores.
 */

type Json = Record<string, unknown>

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

const componentPrefix = "#/components/schemas/"

/** Opens every object schema reachable from `schema`, following references into `components` once each. */
const open = (schema: unknown, components: Json, visited: Set<string>): void => {
  if (Array.isArray(schema)) {
    for (const item of schema) open(item, components, visited)
    return
  }
  if (!isObject(schema)) return
  const ref = schema["$ref"]
  if (typeof ref === "string" && ref.startsWith(componentPrefix)) {
    const name = ref.slice(componentPrefix.length)
    if (!visited.has(name)) {
      visited.add(name)
      open(components[name], components, visited)
    }
  }
  if (schema["additionalProperties"] === false) schema["additionalProperties"] = true
  for (const [key, value] of Object.entries(schema)) {
    if (key !== "$ref" && key !== "additionalProperties") open(value, components, visited)
  }
}

/**
 * For `OpenApi.annotations({ transform })` on an API. Applied by Effect to a whole document for an API, and to
 * each tag for the groups an API was merged into; a tag has no `paths` and passes unchanged.
 */
export const acceptUnknownFields = (spec: Json): Json => {
  const paths: unknown = spec["paths"]
  if (!isObject(paths)) return spec
  const componentsRoot: unknown = spec["components"]
  const schemas: unknown = isObject(componentsRoot) ? componentsRoot["schemas"] : undefined
  const components = isObject(schemas) ? schemas : {}
  const visited = new Set<string>()
  for (const item of Object.values(paths)) {
    if (!isObject(item)) continue
    for (const operation of Object.values(item)) {
      if (!isObject(operation) || !isObject(operation["requestBody"])) continue
      const content = operation["requestBody"]["content"]
      if (!isObject(content)) continue
      for (const media of Object.values(content)) {
        if (isObject(media)) open(media["schema"], components, visited)
      }
    }
  }
  return spec
}
