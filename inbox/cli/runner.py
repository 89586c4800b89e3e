"""``inbox runner build``: the image each session's container runs."""

from pathlib import Path
from typing import Annotated

import typer

from inbox.cli.render import console

app = typer.Typer(help="The agent runner image.", no_args_is_help=True)


@app.command()
def build(
    base: Annotated[
        str | None, typer.Option("--base", help="Base image with python3 (default python:3.12-slim).")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Image name (default inbox-runner:latest).")] = None,
    wheels: Annotated[
        Path | None, typer.Option("--wheels", help="Folder of wheels for httpx and pydantic (no index needed).")
    ] = None,
) -> None:
    """Build the runner image from dockerfiles/runner.Dockerfile (unchanged layers are reused)."""
    import docker

    from inbox.errors import InvalidInput
    from sweeper.runtimes.image import DEFAULT_BASE, DEFAULT_IMAGE, build_runner_image

    if wheels is not None and not wheels.is_dir():
        raise InvalidInput("--wheels", f"{wheels} is not a folder")
    try:
        client = docker.from_env(timeout=600)
    except docker.errors.DockerException as exc:
        console.print(f"inbox runner build: no container engine answers: {exc}")
        raise typer.Exit(1) from exc
    chosen_tag = tag or DEFAULT_IMAGE
    console.print(f"building {chosen_tag} from {base or DEFAULT_BASE} ...", highlight=False)
    try:
        image_id = build_runner_image(client, base=base or DEFAULT_BASE, tag=chosen_tag, wheels=wheels)
    except docker.errors.BuildError as exc:
        tail = "".join(str(part.get("stream", part.get("error", ""))) for part in list(exc.build_log)[-15:])
        console.print(f"inbox runner build failed: {exc}\n{tail}", highlight=False)
        raise typer.Exit(1) from exc
    except docker.errors.APIError as exc:
        console.print(f"inbox runner build failed: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    finally:
        client.close()
    console.print(f"built {chosen_tag} ({image_id[:19]})", highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="runner")
