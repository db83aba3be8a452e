"""The baseline of the lifecycle benchmark: a bare Flask endpoint that only inserts the raw
JSON body into the same database (``gunicorn 'bench.bare_app:create_app()'``)."""

from __future__ import annotations

import os

import pymongo
from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)
    client: pymongo.MongoClient = pymongo.MongoClient(os.environ["ERX_MONGODB_URI"], connect=False)
    collection = client[os.environ.get("ERX_DB_NAME", "erx")]["bare_inserts"]

    @app.post("/insert")
    def insert() -> tuple[dict[str, str], int]:
        result = collection.insert_one(request.get_json())
        return {"id": str(result.inserted_id)}, 201

    return app
