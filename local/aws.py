"""A local AWS: moto's server on a free loopback port, reached over real HTTP.

boto3 is pointed at it with ``AWS_ENDPOINT_URL`` (honoured by botocore >= 1.31), so the product
code runs unchanged: it never knows it is not talking to AWS.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from moto.server import ThreadedMotoServer

LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any credentials
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class LocalAws:
    endpoint_url: str
    server: ThreadedMotoServer

    def env(self) -> dict[str, str]:
        """Environment variables that send boto3 (in this or a child process) to this server."""
        return {**LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": self.endpoint_url}

    def reset(self) -> None:
        """Forget every resource (moto's /moto-api/reset), keeping the server up."""
        import requests

        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        self.server.stop()


def start_local_aws() -> LocalAws:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return LocalAws(endpoint_url=f"http://{host}:{port}", server=server)


@contextmanager
def local_aws_environment() -> Iterator[LocalAws]:
    """Start moto's server and point this process's boto3 at it for the duration."""
    aws = start_local_aws()
    saved = {k: os.environ.get(k) for k in aws.env()}
    os.environ.update(aws.env())
    try:
        yield aws
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        aws.stop()
