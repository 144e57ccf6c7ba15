"""The GraphQL API over the customer graph (strawberry on Starlette, served by uvicorn).

``api.app.create_app`` builds the ASGI app; ``customer-graph serve`` runs it.
"""
