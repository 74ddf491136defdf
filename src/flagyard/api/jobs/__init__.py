"""Background work the server does on a schedule: an edge like the others, calling the wings'
front doors (never the store)."""
