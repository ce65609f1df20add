"""Pipelines and sweeps as pure logic: graphs, bindings, step documents, reuse keys, search."""
