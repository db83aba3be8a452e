"""The FHIR face over HTTP as the tests call it: its media type and the systems of the test app."""

from __future__ import annotations

from gateway.fhir.systems import Systems

SYSTEMS = Systems("https://erx-gateway.vn/fhir")


FHIR = "application/fhir+json"
