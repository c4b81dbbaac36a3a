"""`flask fleet ...` commands: set-up and accounts. Later features add their commands here."""

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .domain import accounts, cities
from .domain.audit import Actor
from .domain.errors import DomainError
from .domain.programme import get_programme
from .domain.reference import ROLES
from .extensions import db
from .models import City, User

fleet_cli = AppGroup("fleet", help="Fleet administration commands.")


def _policy() -> accounts.PasswordPolicy:
    return accounts.PasswordPolicy(current_app.config["PASSWORD_MIN_LENGTH"],
                                   current_app.config["PASSWORD_MIN_CLASSES"])


@fleet_cli.command("init")
@click.option("--admin", "admin_name", default="admin", show_default=True,
              help="User name of the first administrator, created only if no admin exists.")
def init_command(admin_name: str):
    """Create or upgrade the database, load the 25 pilot cities, create the first admin.

    Safe to run twice: nothing that exists is changed. The first admin gets a one-time
    password, printed once, which must be changed at first sign-in.
    """
    from flask_migrate import upgrade

    upgrade()
    actor = Actor.system("fleet init")
    get_programme(db.session)
    added = cities.load_pilot_cities(db.session, actor)
    click.echo(f"Cities: {added} added, "
               f"{len(cities.all_cities(db.session)) - added} already present.")
    has_admin = db.session.scalar(select(User.id).where(User.role == "admin").limit(1))
    if has_admin is None:
        policy = _policy()
        password = policy.generate()
        accounts.create_user(db.session, actor, policy, username=admin_name, password=password,
                             role="admin", display_name="",
                             must_change_password=True)
        click.echo("")
        click.echo(f"First administrator: user name '{admin_name}', one-time password: {password}")
        click.echo("Sign in with it; you will be asked to choose your own password.")
    db.session.commit()


@fleet_cli.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES),
              required=True, help="What the user may do.")
@click.option("--city", "city_code", help="The city's 6-digit code (for --role city).")
@click.option("--name", "display_name", default="", help="The user's full name.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input (for scripts).")
@click.option("--no-password-change", is_flag=True,
              help="Keep this password: do not ask the user to change it at first sign-in "
                   "(for scripted set-ups).")
def create_user_command(username, role, city_code, display_name, password_stdin,
                        no_password_change):
    """Create an account. The password is prompted for, or read with --password-stdin;
    it is never taken as an argument (it would stay in the shell history). As on the admin
    page, the user must change it at first sign-in, unless --no-password-change."""
    city = None
    if city_code:
        city = cities.city_by_code(db.session, city_code)
        if city is None:
            raise click.ClickException(f"No city with code {city_code}.")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = accounts.create_user(db.session, Actor.system("fleet create-user"), _policy(),
                                    username=username, password=password, role=role, city=city,
                                    display_name=display_name,
                                    must_change_password=not no_password_change)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error.message)) from None
    db.session.commit()
    click.echo(f"Created {role} user {user.username}"
               + (f" for {city.code} {city.name_zh}" if city else "") + "."
               + ("" if no_password_change else
                  " The password must be changed at first sign-in."))


@fleet_cli.command("demo")
@click.option("--seed", default=2025, show_default=True, help="Seed of the random numbers.")
@click.option("--through", help="Last month to fill, YYYY-MM (default: the last complete "
                                "month).")
@click.option("--replace", is_flag=True, help="Replace demo data loaded before.")
@click.option("--clear", is_flag=True, help="Remove the demo returns and the demo banner.")
@click.option("--vehicles", is_flag=True, help="Also generate each return's vehicle roster "
                                               "(valid VINs and plates, matching the counts).")
def demo_command(seed: int, through: str | None, replace: bool, clear: bool, vehicles: bool):
    """Load demonstration returns for every pilot city, from the first month of the window
    through the last complete month: deterministic for a seed, some late, some sent back,
    some missing, recent months less complete; cities without a target get a demo target.

    Refuses if any return exists, unless it is demo data and --replace is given. Pages show
    a banner while demo data is loaded; --clear removes it (real returns are never touched).
    """
    from .domain import demo

    actor = Actor.system("fleet demo")
    try:
        if clear:
            deleted = demo.clear_demo(db.session, actor)
            db.session.commit()
            click.echo(f"Demo data removed: {deleted} returns deleted.")
            return
        result = demo.load_demo(db.session, actor, seed=seed, through=through,
                                replace=replace)
        if vehicles:
            from .domain.demo_vehicles import load_demo_vehicles

            written = load_demo_vehicles(db.session, actor, seed)
    except (DomainError, ValueError) as error:
        db.session.rollback()
        raise click.ClickException(str(getattr(error, "message", error))) from None
    db.session.commit()
    if result.replaced:
        click.echo(f"Replaced the demo data loaded before ({result.replaced} returns deleted).")
    click.echo(f"Demo data loaded through {result.through} for {result.cities} cities: "
               f"{result.returns} returns ({result.approved} approved, {result.submitted} "
               f"submitted, {result.returned} sent back, {result.draft} drafts), "
               f"{result.missing} missing, {result.late} submitted late; "
               f"{result.targets_set} demo city targets set.")
    if vehicles:
        click.echo(f"Demo rosters: {written} vehicles with valid VINs and plates.")


@fleet_cli.command("create-token")
@click.argument("username")
@click.option("--name", default="cli", show_default=True,
              help="What the token is for, e.g. the system that uses it.")
@click.option("--expires-days", type=int, default=90, show_default=True,
              help="Days until the token expires (1 to 365).")
def create_token_command(username: str, name: str, expires_days: int):
    """Create an API token that acts as USERNAME, and print it once (only its hash is kept)."""
    from .domain import tokens

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"No user named {username}.")
    try:
        new = tokens.create_token(db.session, Actor.system("fleet create-token"), user, name,
                                  expires_days)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error.message)) from None
    db.session.commit()
    click.echo(f"Token '{new.token.name}' for {user.username}, expires "
               f"{new.token.expires_at:%Y-%m-%d} (UTC). It is shown only this once:", err=True)
    click.echo(new.secret)


def _who_runs() -> str:
    """The name recorded with a verification: the system user, or "cron" without a terminal."""
    import getpass

    if not sys.stdin.isatty():
        return "cron"
    try:
        return f"{getpass.getuser()} (command line)"
    except (KeyError, OSError):
        return "command line"


@fleet_cli.command("verify")
@click.option("--by", help="Who runs it, stored with the result (default: the system user, "
                           "or 'cron' when not run from a terminal).")
def verify_command(by: str | None):
    """Prove that no stored number changed behind the revisions' hash chain.

    Recomputes the SHA-256 chain of every return's revisions and compares each submitted or
    approved return's current numbers to its last revision. Lists every mismatch (city,
    month, field, stored value vs the revision's) and exits 1; otherwise prints
    "all N returns verified" and exits 0. The result is stored; the admin page
    数据完整性 / Integrity shows the last one.
    """
    from .domain import integrity

    result = integrity.verify_returns(db.session)
    integrity.record_verification(db.session, Actor.system("fleet verify"), result,
                                  by=by or _who_runs())
    db.session.commit()
    for mismatch in result.mismatches:
        click.echo(mismatch.line())
    if not result.ok:
        count = len(result.mismatches)
        click.echo(f"{count} mismatch{'es' if count != 1 else ''} in "
                   f"{len({(m.city, m.period) for m in result.mismatches})} of "
                   f"{result.returns} returns.", err=True)
        sys.exit(1)
    click.echo(f"all {result.returns} returns verified ({result.revisions} revisions).")


def _secret_key_file():
    """instance/secret_key: where the key lives unless FLEET_SECRET_KEY sets it."""
    from pathlib import Path

    return Path(current_app.instance_path) / "secret_key"


@fleet_cli.command("backup")
@click.argument("path", required=False, type=click.Path())
def backup_command(path: str | None):
    """Write a consistent copy of the live database and the instance secret key to one
    file: PATH, or a new file named by the time in PATH if it is a folder (default:
    instance/backups/). SQLite is copied with its online backup API, PostgreSQL with
    `pg_dump -Fc`; a manifest inside says when, which database, the Alembic revision and
    each table's rows. The file is readable by its owner only: it holds the secret key.
    """
    from pathlib import Path

    from .domain import backup

    target = Path(path) if path else Path(current_app.instance_path) / "backups"
    if not path:
        target.mkdir(parents=True, exist_ok=True)
    try:
        done = backup.backup(db.engine, target, _secret_key_file(),
                             pg_bin_dir=current_app.config.get("PG_BIN_DIR"))
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    manifest = done.manifest
    click.echo(f"Backup written to {done.path}: {manifest['database']} database at revision "
               f"{manifest['alembic_revision']}, {manifest['rows']} rows in "
               f"{len(manifest['tables'])} tables"
               + (", with the secret key." if manifest["secret_key"] else
                  "; the secret key is not in instance/ (FLEET_SECRET_KEY), keep it apart."))


@fleet_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True,
              help="Replace a database that already has data (its rows are lost).")
def restore_command(path: str, force: bool):
    """Restore a file written by `flask fleet backup` into the configured database (of the
    same kind) and the secret key into instance/. Refuses a database that has data unless
    --force is given; checks every file against the manifest first and every table's row
    count against it afterwards.
    """
    from .domain import backup

    db.session.remove()  # no connection of ours holds the database while it is replaced
    try:
        done = backup.restore(db.engine, path, _secret_key_file(), force=force,
                              pg_bin_dir=current_app.config.get("PG_BIN_DIR"))
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    manifest = done.manifest
    click.echo(f"Restored the {manifest['database']} backup of {manifest['created_at']} "
               f"(revision {manifest['alembic_revision']}): {sum(done.counts.values())} rows "
               f"in {len(done.counts)} tables, as in the backup"
               + ("; secret key restored." if done.secret_key_written else "."))
    click.echo("Then run `flask fleet init` (it upgrades the schema if the backup is older "
               "than this Fleet) and `flask fleet verify`.")


@fleet_cli.command("remind")
@click.option("--today", "today_text", help="Run as if today were this date, YYYY-MM-DD "
                                            "(Beijing; default: today).")
@click.option("--days-before", type=click.IntRange(0, 28), default=None,
              help="Remind this many days before the due date (default: the "
                   "REMIND_DAYS_BEFORE setting, 3).")
def remind_command(today_text: str | None, days_before: int | None):
    """Send the automatic reminders (催报) and retry the e-mail still in the outbox.

    Cities with no submitted return are reminded from N days before the due date, and once
    more after it. Each reminder is keyed by kind, city and month: running twice a day (or
    every day) sends nothing twice. Meant for cron, e.g. daily at 09:00.
    """
    from datetime import date

    from . import mail
    from .domain import notices

    try:
        today = date.fromisoformat(today_text) if today_text else None
    except ValueError:
        raise click.ClickException("--today is written YYYY-MM-DD.") from None
    if days_before is None:
        days_before = int(current_app.config["REMIND_DAYS_BEFORE"])
    sent = notices.automatic_reminders(db.session, Actor.system("fleet remind"), today=today,
                                       days_before=days_before)
    db.session.commit()  # the mail of these reminders goes out after this commit
    for reminder in sent:
        code = db.session.get(City, reminder.city_id).code
        click.echo(f"Reminded {code} for {reminder.period} ({reminder.kind}, "
                   f"{reminder.recipients} users).")
    click.echo(f"{len(sent)} reminders sent.")
    settings = mail.settings()
    if not settings.configured:
        click.echo(f"Mail is not configured (FLEET_MAIL_SERVER): "
                   f"{notices.outbox_waiting(db.session)} e-mails wait in the outbox.")
        return
    result = notices.deliver(db.session, settings)
    db.session.commit()
    click.echo(f"E-mail: {result.sent} sent from the outbox, {result.failed} still waiting"
               + (f" ({result.error})" if result.error else "") + ".")


roster_cli = AppGroup("roster", help="Vehicle rosters (车辆明细).")
fleet_cli.add_command(roster_cli)


@roster_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--city", "city_code", required=True, help="The city's 6-digit code.")
@click.option("--period", required=True, help="The month, YYYY-MM.")
@click.option("--dry-run", is_flag=True, help="Check only: print the findings, save nothing.")
def roster_import_command(file: str, city_code: str, period: str, dry_run: bool):
    """Replace a city-month's vehicle roster with FILE (.xlsx or .csv), all or nothing, as the
    upload page does. Prints a summary; exits non-zero when anything is refused, and then
    nothing is written (refused claims of VINs counted elsewhere are kept for the ministry)."""
    from pathlib import Path

    from .domain import roster
    from .domain.periods import parse_period
    from .domain.vehicle_rules import column_label

    city = cities.city_by_code(db.session, city_code)
    if city is None:
        raise click.ClickException(f"No city with code {city_code}.")
    try:
        period = parse_period(period)
    except ValueError:
        raise click.ClickException("--period must be YYYY-MM.") from None
    actor = Actor.system("fleet roster import")
    try:
        rfile = roster.read_roster(Path(file).read_bytes(), Path(file).name)
        if dry_run:
            check = roster.preview(db.session, actor, city, period, rfile, "en")
        else:
            check, _notes = roster.replace_roster(db.session, actor, city, period, rfile, "en",
                                                  source="cli")
    except roster.RosterHasErrors as failed:
        check = failed.check
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error.message)) from None
    for p in check.errors[:roster.LISTED_PROBLEMS]:
        click.echo(f"row {p.row}, {column_label(p.column, 'en')} {p.value!r}: {p.message}",
                   err=True)
    for p in check.warnings[:roster.LISTED_PROBLEMS]:
        click.echo(f"warning: row {p.row}, {column_label(p.column, 'en')} {p.value!r}: "
                   f"{p.message}", err=True)
    click.echo(f"{city.code} {period}: {check.total_rows} rows, {check.accepted} accepted, "
               f"{len(check.error_rows)} with errors, {len(check.warnings)} warnings.")
    if not check.ok or dry_run:
        db.session.rollback()
        roster.record_conflicts(db.session, actor, check, "cli")
        db.session.commit()
        if not check.ok:
            raise click.ClickException("Refused: nothing was saved.")
        click.echo("Dry run: nothing was saved.")
        return
    db.session.commit()
    click.echo(f"Saved: the roster of {city.code} {period} now holds {len(check.vehicles)} "
               "vehicles.")


@fleet_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option("--simple", is_flag=True,
              help="Run each job in this process instead of a forked one.")
def worker_command(burst: bool, simple: bool):
    """Run background jobs (exports, large roster checks, summaries) from the RQ queue of
    FLEET_REDIS_URL, with this installation's settings. Run as many as you like, on any
    machine that reaches the database, Redis and the jobs' folder (JOBS_DIR)."""
    from . import background

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("FLEET_REDIS_URL is not set: without Redis, background "
                                   "jobs run in the web processes and need no worker.")
    background.work(current_app._get_current_object(), burst=burst, simple=simple)


jobs_cli = AppGroup("jobs", help="Background jobs (后台任务).")
fleet_cli.add_command(jobs_cli)


@jobs_cli.command("cleanup")
def jobs_cleanup_command():
    """Expire the background jobs whose day is over and remove their files, fail the jobs
    lost by a stopped server, and remove files no job owns. Safe to run at any time (each
    job's start does the same)."""
    from . import background
    from .domain import jobs
    from .domain.audit import record_event

    removed = jobs.cleanup(db.session, background.folder())
    if removed:
        record_event(db.session, Actor.system("fleet jobs cleanup"), "job.cleanup", "job", "",
                     after={"files": removed})
    db.session.commit()
    click.echo(f"{removed} expired job files removed.")
