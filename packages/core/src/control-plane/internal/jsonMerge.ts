import { Predicate, type Schema } from "effect"

type Json = Schema.Json
type JsonObject = { readonly [key: string]: Json }

export const isJsonObject = (value: unknown): value is JsonObject =>
  Predicate.isObject(value) && !Array.isArray(value)

/**
 * Called for each array in the patch with the array at the same place in the base (empty when there is
 * none); returns the merged array, or `undefined` to replace the base array with the patch's.
 */
export type ArrayMerge = (
  path: ReadonlyArray<string>,
  base: ReadonlyArray<Json>,
  patch: ReadonlyArray<Json>
) => ReadonlyArray<Json> | undefined

/**
 * Merges `patch` into `base`: objects merge key by key at every depth, scalars replace, and arrays replace
 * unless `arrays` merges them. Keys absent from the patch keep their stored values.
 */
export const mergeJson = (base: Json | undefined, patch: Json, arrays: ArrayMerge, path: ReadonlyArray<string> = []): Json => {
  if (isJsonObject(patch)) {
    if (!isJsonObject(base)) return mergeJson({}, patch, arrays, path)
    const merged: Record<string, Json> = { ...base }
    for (const [key, value] of Object.entries(patch)) {
      merged[key] = mergeJson(base[key], value, arrays, [...path, key])
    }
    return merged
  }
  if (Array.isArray(patch)) return arrays(path, Array.isArray(base) ? base : [], patch) ?? patch
  return patch
}
