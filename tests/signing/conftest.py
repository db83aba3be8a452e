"""Fixtures of the signing tests: gateway signers and a test PKI built in the test run
(root CA -> intermediate CA -> prescriber certificate), like the national one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from signing.jws import Signer
from signing.key_store import generate_private_key
from tests.support.pki import NOW, Pki, build_pki, prescriber_jws


@pytest.fixture(scope="session")
def ed25519_signer() -> Signer:
    return Signer(private_key=generate_private_key("EdDSA"), clock=lambda: NOW.timestamp())

@pytest.fixture(scope="session")
def es256_signer() -> Signer:
    return Signer(private_key=generate_private_key("ES256"), clock=lambda: NOW.timestamp())

@pytest.fixture(scope="session", params=["EdDSA", "ES256"])
def any_signer(request: pytest.FixtureRequest, ed25519_signer: Signer,
               es256_signer: Signer) -> Signer:
    return ed25519_signer if request.param == "EdDSA" else es256_signer


@pytest.fixture(scope="session")
def pki() -> Pki:
    return build_pki()


@pytest.fixture
def sign_as_prescriber(pki: Pki) -> Callable[..., str]:
    return lambda payload, **options: prescriber_jws(payload, options.pop("signer", pki.leaf),
                                                    options.pop("chain", pki.chain()), **options)
