const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)

/** The landing page at `/`: what this server is and where its docs are, with no external assets. */
export const homePage = (title: string, families: ReadonlyArray<string>): string =>
  `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
code{background:#f3f3f3;padding:.1rem .3rem;border-radius:.2rem}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>欢迎来到 MaiLauncher 后端服务 — served by MaiKit.</p>
<p>API families on this server: ${families.map((name) => `<code>${escapeHtml(name)}</code>`).join(", ")}.</p>
<ul>
<li><a href="/docs">Interactive API documentation (Swagger UI)</a></li>
<li><a href="/redoc">API reference</a></li>
<li><a href="/openapi.json">OpenAPI document</a></li>
</ul>
</body>
</html>
`
