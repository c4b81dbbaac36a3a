"""Every user's API tokens, for the admin: who holds which, last used when and from where;
revoke any."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from ..domain import tokens
from ..extensions import db
from ..models import ApiToken
from ..web import current_actor, roles_required
from . import bp


@bp.route("/tokens")
@roles_required("admin")
def api_tokens():
    """All API tokens, newest first."""
    return render_template("admin/tokens.html", tokens=tokens.all_tokens(db.session),
                           state=tokens.token_state)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required("admin")
def revoke_api_token(token_id: int):
    """Revoke any user's token (audited); it stops working at once."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        abort(404)
    tokens.revoke_token(db.session, current_actor(), token)
    db.session.commit()
    flash(_("The token “%(name)s” was revoked.", name=token.name), "success")
    return redirect(url_for("admin.api_tokens"))
