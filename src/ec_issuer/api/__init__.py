"""The HTTP adapter: an APIFlask application with an OpenAPI 3.1 description and RFC 9457 errors."""
