"""`python -m infra.local` (what `make run` runs): start the local stack and serve until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from infra.local.stack import LocalStack, StackConfig

BANNER = """
casework local stack is up
  API        {base}            (OpenAPI: {base}/openapi.json, Swagger UI: {base}/docs)
  tokens     curl -s -XPOST {base}/_dev/token -d '{{"username":"mary"}}'
  mail       curl -s {base}/_dev/mail
  users      SP (Specialty Polymers): mary (Sales Rep), john (Supply Chain & Quality),
             frank (Tech Team & Sales Dev), peter (Sales Manager), susan (Customer Service), admin
             CARE (Customer Care): carol, dave (Care Agents), tina (Team Lead); FIELD: fred (Technician)
  data       accounts ACC-1001 (Acme Corp), ACC-1002 (Globex); products P-100, P-200, SVC-*;
             contacts CON-2001..2004 (North -> CARE, West -> FIELD)
  case types csr, customer_request, sample_request; service_request, activity, lead (GET /config/<module>)
  moto       {moto}   (aws --endpoint-url {moto} dynamodb scan --table-name {table})
Ctrl-C stops it. Data lives in memory only.
"""


def _interrupt(*_: object) -> None:
    # Stopping the server from inside the handler would wait for serve_forever, which runs on this very
    # thread: raise instead, and let the finally below stop the stack once serve_forever has returned.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--moto-port", type=int, default=5055)
    parser.add_argument("--public-base-url", default=None, help="base URL for links in emails")
    parser.add_argument("--quiet", action="store_true", help="no request log")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every AWS call
    config = StackConfig(
        host=args.host,
        port=args.port,
        moto_port=args.moto_port,
        public_base_url=args.public_base_url,
        quiet=args.quiet,
    )
    stack = LocalStack(config).start()
    signal.signal(signal.SIGTERM, _interrupt)  # stop as Ctrl-C does: leave serve_forever, then clean up
    print(
        BANNER.format(
            base=stack.base_url, moto=f"http://{args.host}:{args.moto_port}", table=stack.summary["table"]
        ),
        flush=True,
    )
    try:
        stack.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    code = main()
    # Everything lives in memory and is gone now: skip the interpreter's teardown of moto's and botocore's
    # objects, which alone took seconds after a busy session.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
