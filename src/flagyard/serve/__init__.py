"""The serve wing: published documents -> compiled snapshot -> answers for SDKs, OFREP and
streams. Its front door is `serve.service.Serving`."""
