"""The HTTP edge: Powertools routers, request schemas, error mapping.

Each functions/*/app.py wires one router group.
"""
