"""The environment a command-line test runs `erx-gateway` in."""

from __future__ import annotations


def cli_env(app_config: dict) -> dict[str, str]:
    return {"ERX_MONGODB_URI": app_config["MONGODB_URI"], "ERX_DB_NAME": app_config["DB_NAME"],
            "ERX_VAR_DIR": app_config["VAR_DIR"], "ERX_ENV": "development",
            "ERX_TOKEN_SECRET": app_config["TOKEN_SECRET"],
            "ERX_DATA_KEY_FILE": app_config["DATA_KEY_FILE"],
            "ERX_SECRET_HASH_TIME_COST": "1", "ERX_SECRET_HASH_MEMORY_KIB": "1024"}
