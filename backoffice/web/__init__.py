"""The aiohttp app: listeners, middlewares, auth and JSON helpers, page rendering, OpenAPI and health; it
assembles the routes each context serves."""
