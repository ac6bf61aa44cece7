"""OpenAPI for the API: schema generation, security schemes and the Swagger UI pages.

The schema (``/api/schema/``) and Swagger UI (``/api/docs/``) are public documentation: they
carry the authority's public endpoints, the public client id and scope names, never a secret.
"""
