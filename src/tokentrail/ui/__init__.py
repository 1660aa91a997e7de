"""The read-only web UI (`tokentrail ui`): server-rendered pages over `tokentrail.reports`.

- `settings`: `UiSettings` (where to listen, the token, the database, the Jaeger link, the refresh period)
- `app`: `create_app(settings)`, the Starlette application: routes, security headers, token check, error pages
- `params`: query strings -> `CallFilter`, time range, grouping, sort and page (a bad value is a 400 page)
- `db`: the read-only connection pool
- `charts`: inline SVG charts, built server-side
- `render`: the Jinja2 environment (autoescaped) and the value formatters the templates share
- `pages/`: one module per page; each reads through `tokentrail.reports`, never SQL of its own
- `main`: the server process (uvicorn)

Needs the `ui` extra (`pip install 'tokentrail[ui]'`).
"""
