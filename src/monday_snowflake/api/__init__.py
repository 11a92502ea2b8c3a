"""The HTTP API: FastAPI app, one router per resource (see `app.create_app`)."""
