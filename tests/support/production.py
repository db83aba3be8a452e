"""Settings that pass every production check, for tests that change one of them."""

from __future__ import annotations

from typing import Any

from gateway.core.config import SETTINGS


def production(app_config: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A complete production configuration, then ``changes``."""
    secrets = {setting.name: "s" * 48 for setting in SETTINGS
               if setting.secret and not app_config.get(setting.name, setting.default)}
    return {**app_config, **secrets, "ENV": "production",
            "SIGNING_KEY_PASSPHRASE": "a long production passphrase for the signing keys",
            "REGISTRY_BASE_URL": "https://registry.example.vn", **changes}
