"""The user's API tokens on the account page: create one (its secret shown once), see when
and from where each was last used, revoke."""

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..domain import tokens
from ..domain.errors import DomainError
from ..extensions import db
from ..models import ApiToken
from ..web import current_actor, form_status, signed_in_user
from . import bp
from .forms import TokenForm


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def api_tokens():
    """List one's tokens; create a new one, whose secret is shown on this response only."""
    form = TokenForm()
    secret = None
    if form.validate_on_submit():
        try:
            new = tokens.create_token(db.session, current_actor(), signed_in_user(),
                                      form.name.data, form.expires_days.data)
        except DomainError as error:
            db.session.rollback()
            getattr(form, error.field or "name").errors.append(error.message)
        else:
            secret = new.secret
            db.session.commit()
            form = TokenForm(formdata=None)
    response = make_response(render_template(
        "auth/tokens.html", form=form, secret=secret,
        tokens=tokens.tokens_of(db.session, signed_in_user()), state=tokens.token_state),
        form_status(form))
    response.cache_control.no_store = True  # the secret must not stay in a cache
    return response


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_api_token(token_id: int):
    """Revoke one of one's own tokens; it stops working at once."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    tokens.revoke_token(db.session, current_actor(), token)
    db.session.commit()
    flash(_("The token “%(name)s” was revoked.", name=token.name), "success")
    return redirect(url_for("auth.api_tokens"))
