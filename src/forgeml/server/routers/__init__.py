"""One router per resource; each route parses, calls one service, returns a schema."""
