"""Keep a local stack running for the operator CLI: ``python -m local.serve``.

Starts moto's server and the Auth0 emulator, deploys template.yaml into the local AWS, and
writes the environment the CLI needs (the operator functions' variables, the local endpoints
and test credentials) to a file to ``source``. Optionally creates a few APIs so that there is
something to reconcile. Runs until interrupted.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from pathlib import Path

from local.auth0_emulator import Auth0Emulator
from local.aws import local_aws_environment
from local.pipeline import DOMAIN, SCOPES, WORKER_CLIENT
from local.stack import deploy_local_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-file", default="local-ops.env", help="where to write the settings to source")
    parser.add_argument("--apis", type=int, default=3, help="APIs to create in the emulator (no events sent)")
    parser.add_argument("--mode", choices=sorted(SCOPES), default="on_behalf_of")
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with local_aws_environment() as aws, Auth0Emulator(domain=DOMAIN) as emulator:
        emulator.add_m2m_client(*WORKER_CLIENT, scopes=SCOPES[args.mode])
        stack = deploy_local_stack(
            {"Auth0Domain": DOMAIN, "TokenExchangeMode": args.mode},
            credentials={"client_id": WORKER_CLIENT[0], "client_secret": WORKER_CLIENT[1]},
        )
        for i in range(args.apis):
            emulator.create_resource_server({"identifier": f"https://forgotten-{i}.example.com",
                                             "name": f"Forgotten API {i}"})
        env = {**stack.functions["ReplayFunction"].environment, **aws.env(), "AUTH0_BASE_URL": emulator.base_url}
        path = Path(args.env_file)
        path.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items())))
        shown = path if path.is_absolute() else f"./{path}"
        print(f"local stack up: AWS {aws.endpoint_url}, Auth0 {emulator.base_url}; "
              f"{args.apis} APIs created without events.\nIn another shell:  . {shown}  "
              f"then e.g.  token-exchange-enabler reconcile --dry-run\nCtrl-C stops.", file=sys.stderr)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
