"""Forms (Flask-WTF): every form carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from portal.models import ROLE_NAMES


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(
        "Email",
        validators=[DataRequired("Enter your email."), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Log in")


class RoleForm(FlaskForm):
    """Give a user (by email) a role in an organization, or change the one they have."""

    user_email = EmailField(
        "User email",
        validators=[
            DataRequired("Enter the email of the person."),
            Length(max=254, message="That is too long to be an email address."),
        ],
    )
    name = SelectField(
        "Role",
        choices=[SelectChoice(name) for name in ROLE_NAMES],
        default="MEMBER",  # the least powerful role that works with the code
        validate_choice=False,  # checked below, with a message that lists the roles
    )
    submit = SubmitField("Assign role")

    def validate_name(self, field: SelectField) -> None:
        """Accept only the organization roles, with a message that names them."""
        if field.data not in ROLE_NAMES:
            raise ValidationError(f"Choose one of {', '.join(ROLE_NAMES)}.")


class ConfirmForm(FlaskForm):
    """A form with only a CSRF token, for POST buttons (logout, remove)."""
