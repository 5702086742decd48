import { Schema } from "effect"

/** The JSON POST body both servers decode and validate: the shape of the launcher's service entries. */
export const Instance = Schema.Struct({
  name: Schema.String,
  path: Schema.String,
  port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })),
  run_cmd: Schema.String
})

export const instanceBody = JSON.stringify({
  name: "napcat-ada",
  path: "/srv/maibot/napcat-ada",
  port: 8095,
  run_cmd: "python main.py"
})
