"""The pure domain: errors, the YAML documents users bring, references and content addressing.

Nothing here touches a database, the network or a web framework.
"""
