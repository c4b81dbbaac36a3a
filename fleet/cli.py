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
from .models import User

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
