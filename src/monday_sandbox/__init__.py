"""A local, schema-faithful stand-in for monday.com's GraphQL API (API version 2026-10).

Entry points: `monday_sandbox.server.SandboxServer` (background server for tests and demos),
`monday_sandbox.server.run_sandbox` (the `monday-snowflake sandbox` command) and
`monday_sandbox.app.create_app` (the ASGI app around a `monday_sandbox.state.Sandbox`).
"""
