"""The job runner that executes inside a compute: environment, inputs, command, outputs, logs.

It talks to the workspace only over HTTP (`forgeml.schemas.runtime`), so the same runner serves a
local process backend and a remote cluster. It never imports the server, services or store.
"""
