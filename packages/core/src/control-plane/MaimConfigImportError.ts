import { Schema } from "effect"

/**
 * An import from an original MaimConfig database could not run: the source could not be opened (`open`), is not
 * a MaimConfig / maim_db database or could not be read (`read`), or MaiKit's store refused the write (`write`;
 * nothing was written then, the import is one transaction).
 */
export class MaimConfigImportError extends Schema.TaggedError<MaimConfigImportError>()("MaimConfigImportError", {
  /** The source URL without its password. */
  source: Schema.String,
  reason: Schema.Literals(["open", "read", "write"]),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}
