"""JSON Schemas of the contracts (snapshot, request)."""
