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
                             role="admin", display_name="Administrator",
                             must_change_password=True)
        click.echo("")
        click.echo(f"First administrator: user name '{admin_name}', one-time password: {password}")
        click.echo("Sign in with it; you will be asked to choose your own password.")
    db.session.commit()


@fleet_cli.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["city", "ministry", "admin", "viewer"]),
              required=True, help="What the user may do.")
@click.option("--city", "city_code", help="The city's 6-digit code (for --role city).")
@click.option("--name", "display_name", default="", help="The user's full name.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input (for scripts).")
def create_user_command(username, role, city_code, display_name, password_stdin):
    """Create an account. The password is prompted for, or read with --password-stdin;
    it is never taken as an argument (it would stay in the shell history)."""
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
                                    display_name=display_name, must_change_password=False)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error.message)) from None
    db.session.commit()
    click.echo(f"Created {role} user {user.username}"
               + (f" for {city.code} {city.name_zh}" if city else "") + ".")


@fleet_cli.command("demo")
@click.option("--seed", default=2025, show_default=True, help="Seed of the random numbers.")
@click.option("--through", help="Last month to fill, YYYY-MM (default: the last complete "
                                "month).")
@click.option("--replace", is_flag=True, help="Replace demo data loaded before.")
@click.option("--clear", is_flag=True, help="Remove the demo returns and the demo banner.")
def demo_command(seed: int, through: str | None, replace: bool, clear: bool):
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
