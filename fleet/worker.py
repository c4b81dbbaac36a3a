"""What an RQ worker runs (fleet.background puts "fleet.worker.run_job" on the queue).

In `flask fleet worker` the app is the command's own; under a plain `rq worker` (started
with the app's environment: FLEET_DATABASE_URL, FLEET_REDIS_URL, ...) it is built here, once
per work horse, from the same settings as the web nodes.
"""

from flask import Flask, current_app, has_app_context

from . import background

_app: Flask | None = None


def run_job(job_id: int) -> None:
    """Run Fleet job `job_id` (fleet.background.execute: claim, work, file or reason)."""
    background.execute(_the_app(), job_id)


def send_mail(ids: list[int]) -> None:
    """Send these outbox mails (fleet.background.send_mail)."""
    background.send_mail(_the_app(), ids)


def _the_app() -> Flask:
    global _app
    if has_app_context():
        return current_app._get_current_object()
    if _app is None:
        from . import create_app

        _app = create_app()
    return _app
