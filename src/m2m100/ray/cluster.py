"""Reaching a Ray cluster: start one on this machine, or join one that runs.

The addresses are those of ``ray.init``: "local" starts a cluster for this process alone (it
stops when the process disconnects), "auto" joins the one started on this machine with
``ray start``, "HOST:PORT" joins one by its head node, and "ray://HOST:PORT" connects through
Ray Client (the driver may then run off the cluster).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator

import ray
import ray.data


def is_address(address: str) -> bool:
    """Whether ``address`` has the shape of a cluster address (not whether one answers there)."""
    if address in ("local", "auto") or address.startswith("ray://"):
        return True
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit()


def check_reachable(address: str, timeout: float = 10.0) -> None:
    """Open (and close) a TCP connection to the head at ``address``: ``ray.init`` waits minutes
    for a head that does not answer, this says so at once.

    Raises:
        ConnectionError: nothing accepts connections there.
    """
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError) as err:
        raise ConnectionError(f"no Ray cluster answers at {address} ({err})") from err


@contextlib.contextmanager
def connect(address: str, *, num_cpus: int | None = None, num_gpus: int | None = None) -> Iterator[None]:
    """Connect this process to the cluster at ``address`` for the ``with`` block, then disconnect
    (which stops a cluster that "local" started, with its worker processes).

    Ray's own progress bars and log lines are turned off: the caller reports progress, and
    worker errors reach it as the exceptions of the tasks that failed.

    Args:
        address: "local", "auto", "HOST:PORT" or "ray://HOST:PORT".
        num_cpus: CPUs of a "local" cluster (default: this machine's); ignored when joining.
        num_gpus: GPUs of a "local" cluster (default: those Ray finds); ignored when joining.

    Raises:
        ValueError: ``address`` has none of those shapes.
        ConnectionError: no cluster answers at ``address``.
    """
    if not is_address(address):
        raise ValueError(f"a Ray address is local, auto, HOST:PORT or ray://HOST:PORT, got {address!r}")
    if ray.is_initialized():
        raise ValueError("this process is already connected to a Ray cluster; call ray.shutdown() first")
    local = address == "local"
    if not local and address != "auto":
        check_reachable(address)
    try:
        ray.init(
            address=address,
            num_cpus=(num_cpus or os.cpu_count()) if local else None,
            num_gpus=num_gpus if local else None,
            include_dashboard=False if local else None,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    except ConnectionError:
        raise
    except Exception as err:  # ray.init raises RuntimeError, ValueError ... for an unreachable head
        raise ConnectionError(f"cannot connect to the Ray cluster at {address}: {err}") from err
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    try:
        yield
    finally:
        ray.shutdown()
