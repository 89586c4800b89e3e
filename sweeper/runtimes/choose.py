"""Which runtime a host uses: ``--runtime``, else ``INBOX_RUNTIME``, else docker when an engine answers and the
runner image (``INBOX_RUNNER_IMAGE``, default ``inbox-runner:latest``) exists, else the process runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inbox.config import Settings
from sweeper.runtimes.base import RunnerContext, Runtime
from sweeper.runtimes.process import ProcessRuntime


@dataclass(frozen=True)
class Choice:
    name: str  # docker | process
    why: str
    factory: Callable[[RunnerContext], Runtime]


class RuntimeUnavailable(RuntimeError):
    """The runtime asked for cannot run here (no engine, no image)."""


def docker_status(settings: Settings) -> tuple[Any | None, str]:
    """(client, "") when the engine answers and the image exists, else (None, why not)."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:  # the SDK raises many kinds; all mean "no engine here"
        return None, f"no container engine answers ({type(exc).__name__})"
    image = settings.runner_image
    try:
        client.images.get(image)
    except Exception:
        client.close()
        return None, f"the runner image {image} does not exist (build it with: inbox runner build)"
    return client, ""


def choose_runtime(settings: Settings, explicit: str | None) -> Choice:
    wanted = explicit or settings.runtime
    if wanted == "process":
        return Choice("process", "asked for", ProcessRuntime)
    client, why_not = docker_status(settings)
    if client is None:
        if wanted == "docker":
            raise RuntimeUnavailable(f"the docker runtime cannot start: {why_not}")
        return Choice("process", why_not, ProcessRuntime)

    from sweeper.runtimes.containers import DockerRuntime, Limits

    limits = Limits(
        memory=settings.container_memory,
        cpus=settings.container_cpus,
        pids=settings.container_pids,
        pool=settings.container_pool,
        network_sessions=settings.network_sessions,
    )
    image = settings.runner_image

    def factory(context: RunnerContext) -> Runtime:
        runtime = DockerRuntime(context, client=client, image=image, limits=limits)
        runtime.remove_orphans()
        return runtime

    return Choice("docker", "asked for" if wanted else f"an engine answers and {image} exists", factory)
