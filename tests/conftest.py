"""Shared test setup. Keep it minimal: no moto or boto3 at module level (unit tests never need them).

Import paths come from pyproject.toml ([tool.pytest.ini_options] pythonpath); unit-test fakes live in
tests/fakes.py.
"""
