"""HTTP plumbing shared by every edge: middleware, CORS, rate limits, observability, the one
error table, the SDK fast path."""
