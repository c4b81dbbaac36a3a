"""The `flask fleet` commands."""

import re

from sqlalchemy import func, select

from fleet.extensions import db
from fleet.models import City, User

from .factories import PASSWORD


def test_init_migrates_loads_cities_and_creates_first_admin_once(make_app, tmp_path):
    # A database without tables: init must build the schema through the migrations.
    app = make_app(create_tables=False)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["fleet", "init"])
    assert result.exit_code == 0, result.output
    assert "25 added" in result.output
    password = re.search(r"one-time password: (\S+)", result.output).group(1)
    again = runner.invoke(args=["fleet", "init"])
    assert again.exit_code == 0 and "0 added" in again.output
    assert "one-time password" not in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count(City.id))) == 25
        admin = db.session.scalar(select(User).where(User.role == "admin"))
        assert admin.username == "admin" and admin.must_change_password
    client = app.test_client()
    response = client.post("/login", data={"username": "admin", "password": password})
    assert response.headers["Location"].endswith("/account/password")
    # The Chinese interface names the first admin in Chinese: no English display name.
    whoami = re.search(r'id="whoami">(.*?)</span>', client.get("/account/password")
                       .get_data(as_text=True), re.S).group(1)
    assert "Administrator" not in whoami and "admin" in whoami


def test_create_user_reads_password_from_stdin(app, runner, cities):
    result = runner.invoke(args=["fleet", "create-user", "sz_clerk", "--role", "city",
                                 "--city", "440300", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "sz_clerk"))
    assert user.city.code == "440300"
    # Someone else chose it: changed at first sign-in, as for an account made on the page.
    assert user.must_change_password is True
    assert "changed at first sign-in" in result.output


def test_user_created_on_the_command_line_must_change_the_password(app, runner, cities):
    runner.invoke(args=["fleet", "create-user", "cli_clerk", "--role", "viewer",
                        "--password-stdin"], input=PASSWORD + "\n")
    client = app.test_client()
    response = client.post("/login", data={"username": "cli_clerk", "password": PASSWORD})
    assert response.headers["Location"].endswith("/account/password")
    assert client.get("/").headers["Location"].endswith("/account/password")


def test_create_user_can_keep_the_password_for_scripted_set_ups(app, runner, cities):
    result = runner.invoke(args=["fleet", "create-user", "robot", "--role", "viewer",
                                 "--password-stdin", "--no-password-change"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "robot"))
    assert user.must_change_password is False
    client = app.test_client()
    response = client.post("/login", data={"username": "robot", "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_create_user_refuses_bad_input(app, runner, cities):
    weak = runner.invoke(args=["fleet", "create-user", "weak", "--role", "viewer",
                               "--password-stdin"], input="short\n")
    assert weak.exit_code != 0 and "密码至少需要" in weak.output
    no_city = runner.invoke(args=["fleet", "create-user", "lost", "--role", "city",
                                  "--password-stdin"], input=PASSWORD + "\n")
    assert no_city.exit_code != 0 and "城市用户必须隶属于一个城市" in no_city.output
    bad_city = runner.invoke(args=["fleet", "create-user", "lost", "--role", "city",
                                   "--city", "999999", "--password-stdin"],
                             input=PASSWORD + "\n")
    assert bad_city.exit_code != 0 and "999999" in bad_city.output
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_create_user_never_takes_the_password_as_an_argument():
    from fleet.cli import create_user_command

    options = {opt for param in create_user_command.params for opt in param.opts}
    assert "--password-stdin" in options
    assert not {"--password", "-p"} & options
