"""HTTP edge: routes parse, call one service, and serialize."""
