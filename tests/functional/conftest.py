"""The API-handler fixtures (moto account seeded as the local stack is, the functions, an Api client) for
every functional module that drives the handlers, not only the one that defines them."""

from infra.local import moto_patches
from tests.functional.test_api_handlers import api, aws, functions, stack  # noqa: F401

moto_patches.install()  # as the local stack does: transactions cost what they touch, not the table size
