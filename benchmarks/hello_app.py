"""The FastAPI hello-world ceiling the serving benchmark compares against.

``uvicorn benchmarks.hello_app:create_app --factory`` — one route, no middleware, the
framework's default JSON response: the most a FastAPI route can do on this machine.
"""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    """A bare FastAPI app with ``GET /hello``."""
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "hello world"}

    return app
