"""The catalogue of domain events casework publishes: pydantic models of the envelope and of each event's
``data``, from which docs/events/ and the template's schema registry are generated
(scripts/generate_event_catalogue.py).

Nothing on a function's request path imports this package: it is the contract, checked by the tests, not
runtime code (pydantic's JSON Schema machinery stays out of every cold start).
"""
