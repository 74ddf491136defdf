"""Management API routers: the current generation (/api/1) and the beta one."""
