"""The `forgeml` command line, built on the SDK. Heavy modules load inside the commands."""
