"""The FHIR R4 face (docs/fhir.md): Vietnam Core IG resources over the same core as the native and national faces."""
