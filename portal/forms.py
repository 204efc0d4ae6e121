"""Forms (Flask-WTF): every form that changes something carries a CSRF token.

The GET forms, MemberSearchForm and NameSearchForm, change nothing and read the
query string.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import abort, request
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    EmailField,
    Field,
    HiddenField,
    PasswordField,
    RadioField,
    SearchField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)

# WTForms 3.3's way to give choices (tuples are deprecated); its published stubs
# (3.2) do not know it yet.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    StopValidation,
    ValidationError,
)

from portal.authz import words
from portal.domain import expiry, outbox, roles
from portal.domain.models import (
    REPOSITORY_ROLE_NAMES,
    ROLE_NAMES,
    OrganizationRole,
    Repository,
)
from portal.domain.paging import RepeatedParameter, one_value
from portal.web.negotiation import wants_json

ALL_ROLES = ""  # the role filter's value for "All roles"

_SUBMIT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


NOT_AN_OBJECT = (
    'Send one JSON object whose values are strings, such as {"name": "MEMBER"}.'
)
NOT_A_STRING = "Send this as a JSON string."
SEND_ONCE = "Send this key once."
CSRF = "csrf_token"  # Flask-WTF's field: a JSON body may carry the token too


# Flask-WTF ships no type information: FlaskForm is Any to mypy.
class Form(FlaskForm):  # type: ignore[misc]
    """Base of our forms: fields come from the urlencoded/multipart form, or from a
    JSON body that is one flat object of strings (the same fields, the same
    validators).

    Flask-WTF would also read uploaded files into the fields, and JSON values of any
    type; a file or a number where a string belongs then crashes validators (500).
    Here anything but a string is a field error (anything but an object, a form
    error), so validate() fails with a message and the view answers 422.
    """

    def __init__(self, **kwargs: Any) -> None:
        submitted = request.method in _SUBMIT_METHODS
        formdata: MultiDict[str, str] | None = None
        self._refused: dict[str | None, str] = {}
        self._keys: list[str] = []
        if submitted:
            formdata, self._refused, self._keys = _submitted()
        super().__init__(formdata=formdata, **kwargs)

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate the fields; a JSON value that is not a string fails its field,
        a JSON key that is no field (whatever its value) or a body that is no
        object fails the form."""
        valid = super().validate(extra_validators)
        for name, message in self._refused.items():
            if name is None:
                self.form_errors.append(message)
            elif name in self._fields:
                self._fields[name].errors = [message]
        unknown = sorted(
            key for key in self._keys if key not in self._fields and key != CSRF
        )
        if unknown:
            self.form_errors.append(self._unknown_keys(unknown))
        return valid and not self._refused and not unknown

    def _unknown_keys(self, unknown: list[str]) -> str:
        """The error naming the keys no field of this form takes, and the keys to
        send instead (the data fields: no CSRF token, no submit button)."""
        keys = [
            name
            for name, field in self._fields.items()
            if name != CSRF and not isinstance(field, SubmitField)
        ]
        return (
            f"Unknown key{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}."
            f" Send only: {', '.join(keys)}."
        )


class _Object(dict[str, Any]):
    """A decoded JSON object that remembers the keys it was sent more than once
    (json.loads keeps the last value; a form's field keeps the first)."""

    repeated: frozenset[str] = frozenset()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    decoded = _Object(pairs)
    if len(decoded) != len(pairs):
        keys = [key for key, _value in pairs]
        decoded.repeated = frozenset(key for key in keys if keys.count(key) > 1)
    return decoded


def _is_text(value: str) -> bool:
    """Whether value is text that UTF-8 can encode: a JSON escape such as \\ud800
    names half a UTF-16 pair, which no database driver stores."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _submitted() -> tuple[MultiDict[str, str], dict[str | None, str], list[str]]:
    """A submission's fields, why some values were refused (name: message), and
    the keys of a JSON object (the form refuses those it has no field for).

    A body that is not valid JSON (or nested past the parser's depth, or holding
    a lone surrogate) is a 400 that says why; a JSON array, string, number or
    null is refused as a whole; a key sent twice is refused as a field error.
    """
    if not request.is_json:
        # A browser sends the fields its page's form has: no key to refuse.
        return request.form, {}, []
    try:
        payload = json.loads(request.get_data(cache=True), object_pairs_hook=_object)
    except ValueError as error:  # also a body that is not UTF-8
        abort(400, description=f"The request body is not valid JSON: {error}.")
    except RecursionError:
        abort(400, description="The request body is not valid JSON: nested too deeply.")
    if not isinstance(payload, _Object):
        return MultiDict(), {None: NOT_AN_OBJECT}, []
    strings = [key for key, value in payload.items() if isinstance(value, str)]
    if not all(_is_text(key) for key in payload) or not all(
        _is_text(payload[key]) for key in strings
    ):
        abort(
            400,
            description="The request body is not valid JSON: a string holds a lone"
            " surrogate (half a UTF-16 pair).",
        )
    fields = {key: payload[key] for key in strings}
    refused: dict[str | None, str] = {
        key: NOT_A_STRING for key in payload if key not in fields
    }
    refused.update(dict.fromkeys(payload.repeated, SEND_ONCE))
    return MultiDict(fields), refused, list(payload)


def text(field: Field) -> str:
    """The text submitted in a field that validated (its validators require one)."""
    if not isinstance(field.data, str):
        raise TypeError(f"{field.name} holds no text: validate the form first")
    return field.data


def no_control_characters(form: FlaskForm, field: Any) -> None:
    """Refuse NUL and other control characters (PostgreSQL cannot even store NUL)."""
    if field.data and any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in field.data):
        raise ValidationError("Remove the control characters from this field.")


class LoginForm(Form):
    """Email and password."""

    email = EmailField(
        "Email",
        validators=[
            DataRequired("Enter your email."),
            Length(max=254, message="That is too long to be an email address."),
            no_control_characters,
        ],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Log in")


def role_choices() -> list[SelectChoice]:
    """The organization roles as a select offers them: the code is the value
    sent, the name (portal/policy_words.toml) what the person reads."""
    return [SelectChoice(code, words().role_name(code)) for code in ROLE_NAMES]


def choose_a_role(or_all: bool = False) -> str:
    """What to choose instead of a role that is not one: on a page, the roles'
    names ("Choose one of Owner, Member or Billing manager."); in JSON, the codes
    a client sends ("Choose one of OWNER, MEMBER, BILLING.")."""
    if wants_json():
        roles = ", ".join(ROLE_NAMES)
        return (
            f"Choose one of {roles}, or all roles."
            if or_all
            else f"Choose one of {roles}."
        )
    roles = words().role_names(ROLE_NAMES, last="or")
    return (
        f"Choose one of {roles}, or All roles." if or_all else f"Choose one of {roles}."
    )


class ARole:
    """Require one of the organization roles (sent, and known), with a message
    that names them (a POST without the field is an error, never a silent
    default)."""

    def __init__(self) -> None:
        self.field_flags = {"required": True}  # as InputRequired: the widget says so

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if not (field.raw_data and field.raw_data[0]) or field.data not in ROLE_NAMES:
            field.errors = []  # only this message (as InputRequired does)
            raise StopValidation(choose_a_role())


class RoleForm(Form):
    """Give a user (by email) a role in an organization, or change the one they have."""

    user_email = EmailField(
        "User email",
        validators=[
            DataRequired("Enter the email of the person."),
            Length(max=254, message="That is too long to be an email address."),
            no_control_characters,
        ],
    )
    name = SelectField(
        "Role",
        choices=role_choices,
        # Preselected on the empty form only: a POST without the field is an
        # error (ARole), never a silent MEMBER.
        default="MEMBER",
        validators=[ARole()],
        validate_choice=False,  # ARole says which roles exist
    )
    # The newest role change of the organization the page knew of (its audit
    # trail's last entry id): a change of this person's role after it makes the
    # form stale. Optional: a client that never loaded the page (the guide's
    # add-or-reassign, the curl walkthrough) asks for the change as it stands.
    seen = HiddenField()
    submit = SubmitField("Assign role")

    def validate_seen(self, field: HiddenField) -> None:
        """The page put an audit entry's id here (or nothing); anything else is
        not our form's."""
        if field.data and not _ROW_ID.fullmatch(field.data):
            raise ValidationError(STALE_FORM)

    @property
    def seen_id(self) -> int | None:
        """The audit entry id the form was rendered after (None: not sent)."""
        return int(self.seen.data) if self.seen.data else None


STALE_FORM = "This form is out of date. Reload the page and try again."
NO_CHANGE = "Choose a role other than the current one: sending it changes nothing."

# A row id as a form carries it: ASCII digits (int() would take " 2" and "２").
_ROW_ID = re.compile(r"[0-9]{1,18}")


class RemoveForm(Form):
    """A CSRF-protected button that takes one person's role away (or gives up
    one's own), carrying the role row the page showed (its id and name) so that a
    stale form is noticed: also one rendered before the person was removed and
    given the same role again (a new row)."""

    current = HiddenField(validators=[InputRequired(STALE_FORM)])
    current_id = HiddenField()

    def validate_current(self, field: HiddenField) -> None:
        """The page put a role name here; anything else is not our form's."""
        if field.data not in ROLE_NAMES:
            raise ValidationError(STALE_FORM)

    def validate_current_id(self, field: HiddenField) -> None:
        """The page put a role row's id here; anything else is not our form's
        (said once: not again when ``current`` already said it)."""
        if not self.current.errors and not _ROW_ID.fullmatch(field.data or ""):
            raise ValidationError(STALE_FORM)

    def show(self, role: OrganizationRole) -> None:
        """Carry role as the page shows it now (what is_for compares)."""
        self.current.data, self.current_id.data = role.name, str(role.id)

    def is_for(self, role: OrganizationRole) -> bool:
        """Whether the form was rendered for role as it is now: the same row (not
        one made since) holding the same name."""
        return self.current.data == role.name and self.current_id.data == str(role.id)


# ---- time-limited roles (issue 19): the optional expiry of a role or grant ----


class AnExpiry:
    """An optional expiry (portal.domain.expiry): blank is "never"; a moment
    that is no date, or that has passed, is refused with what to type."""

    def __call__(self, form: FlaskForm, field: Field) -> None:
        try:
            expiry.check_future(expiry.parse_expiry(field.data))
        except expiry.ExpiryError as error:
            field.errors = []
            raise StopValidation(str(error)) from None


def expiry_field() -> StringField:
    """The expiry of a role: a date, or a date and time, read in UTC."""
    return StringField(
        "Expires (UTC, optional)",
        validators=[Optional(), Length(max=40), AnExpiry()],
        # Typed, not a browser's date-and-time picker: its parts are Tab stops
        # of their own and it shows the moment in the reader's locale's format,
        # with nothing to say it is UTC.
        render_kw={
            "placeholder": "YYYY-MM-DD HH:MM",
            "autocomplete": "off",
            "spellcheck": "false",
        },
        description=(
            "In UTC. Leave empty for a role that never expires. From this moment"
            " on the role grants nothing; it stays listed, marked expired, until"
            " it is renewed or removed."
        ),
    )


def wanted_expiry(field: Field) -> roles.Expires:
    """What a validated expiry field asks for: KEEP when the form did not send
    it (a row's select has none), else the moment (None: never)."""
    if not field.raw_data:
        return roles.KEEP
    return expiry.parse_expiry(field.data)


class MemberRoleForm(RemoveForm):
    """Change one member's role (the member page, and the row of the roles page);
    ``confirm`` is "yes" once an owner has confirmed a change of their own role
    that takes access away.

    The form is drawn with the member's role chosen (a radio button per role on
    the member page, a select on each row), so sending it untouched asks for no
    change: refused here (422) with a message that says what to do, before
    anything is read. ``back`` is where to go after the change: the roles page
    (with its search) the row was on; nothing else is followed.
    """

    name = RadioField(
        "Role",
        choices=[SelectChoice(name) for name in ROLE_NAMES],
        validators=[ARole()],
        validate_choice=False,  # ARole says which roles exist
    )
    confirm = HiddenField()
    back = HiddenField()
    # Time-limited roles: sent by the member page's form (blank: never), not by
    # a row's select (the role then keeps its expiry).
    expires = expiry_field()

    def validate_name(self, field: RadioField) -> None:
        """Refuse a "change" to the role the form was drawn for (unless an
        expiry was sent: the domain says whether that changes anything)."""
        if self.expires.raw_data:
            return
        if field.data in ROLE_NAMES and field.data == self.current.data:
            raise ValidationError(NO_CHANGE)

    @property
    def wanted_expiry(self) -> roles.Expires:
        """The expiry asked for (KEEP: not sent)."""
        return wanted_expiry(self.expires)

    @property
    def confirmed(self) -> bool:
        """Whether the person confirmed the change."""
        return self.confirm.data == "yes"

    def back_to(self, roles_page: str) -> str | None:
        """``back`` if it is roles_page (a path, maybe with a query string: the
        search and page the row was on), else None."""
        back = self.back.data or ""
        if len(back) > 2048 or not all(" " < ch < "\x7f" for ch in back):
            return None  # url_for writes printable ASCII; a header takes no other
        parts = urlsplit(back)
        if parts.scheme or parts.netloc or parts.fragment or parts.path != roles_page:
            return None
        return back


class PasswordForm(Form):
    """Change one's own password (OWASP ASVS: at least 12 characters)."""

    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired("Enter a new password."),
            Length(min=12, max=128, message="Use between 12 and 128 characters."),
            no_control_characters,
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[EqualTo("new_password", "The two new passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Change password")


def _strip(value: str | None) -> str | None:
    """value without surrounding whitespace (a pasted address often has some)."""
    return value.strip() if value is not None else None


class MemberSearchForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF: untyped
    """Find people on the roles page: email contains q, holding role.

    A GET form: it changes nothing, so it has no CSRF token, and it always reads
    the query string (also when a POST re-renders the roles page).
    """

    class Meta:
        csrf = False

    q = SearchField(
        "Email contains",
        filters=[_strip],
        validators=[
            Length(max=254, message="Search for at most 254 characters."),
            no_control_characters,
        ],
    )
    # Not labelled "Role": the owner's assign form on the same page has that.
    role = SelectField(
        "Has role",
        choices=lambda: [SelectChoice(ALL_ROLES, "All roles"), *role_choices()],
        default=ALL_ROLES,
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(formdata=request.args, **kwargs)
        # Said the way this request reads it (names on a page, codes in JSON).
        # invalid_choice_message is WTForms 3.3's; its stubs (3.2) lack it.
        self.role.invalid_choice_message = choose_a_role(or_all=True)  # type: ignore[attr-defined]

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate the fields; a field given more than once in the query string
        is an error naming it (the rule of every list's parameters, page too)."""
        valid = super().validate(extra_validators)
        repeated = False
        for field, what in ((self.q, "search"), (self.role, "role")):
            try:
                one_value(field.name, what, request.args.getlist(field.name))
            except RepeatedParameter as error:
                field.errors = [str(error)]  # the one thing to fix first
                repeated = True
        return valid and not repeated

    @property
    def filtering(self) -> bool:
        """Whether the search narrows the list (by email or by role)."""
        return bool(self.q.data) or bool(self.role.data)


# As long as a name can be (Organization.name and Repository.name: 200).
NAME_SEARCH_MAX = 200


class NameSearchForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF: untyped
    """Find organizations or repositories by name: the name contains q.

    A GET form like MemberSearchForm: no CSRF token, read from the query string,
    the same rules (at most as long as a name, no control characters, given once).
    """

    class Meta:
        csrf = False

    q = SearchField(
        "Name contains",
        filters=[_strip],
        validators=[
            Length(
                max=NAME_SEARCH_MAX,
                message=f"Search for at most {NAME_SEARCH_MAX} characters.",
            ),
            no_control_characters,
        ],
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(formdata=request.args, **kwargs)

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate q; q given more than once is an error naming it."""
        valid = super().validate(extra_validators)
        try:
            one_value(self.q.name, "search", request.args.getlist(self.q.name))
        except RepeatedParameter as error:
            self.q.errors = [str(error)]
            return False
        return bool(valid)

    @property
    def term(self) -> str:
        """What to search for ("" when nothing, or when the search is invalid)."""
        return "" if self.errors else (self.q.data or "")


# --- organizations (issue 18): the names' and addresses' rules are
# portal.domain.org_admin's, which the views apply and word as field errors. ---


class OrganizationForm(Form):
    """Create an organization: its name."""

    name = StringField(
        "Name", render_kw={"maxlength": 100, "autocomplete": "organization"}
    )


class SettingsForm(Form):
    """The settings page's two forms, one field each: the name (rename) and the
    billing address. A request changes what it sends (a JSON client may send
    both); sending neither is an error."""

    name = StringField("New name", render_kw={"maxlength": 100})
    billing_address = TextAreaField(
        "Billing address", render_kw={"maxlength": 500, "rows": 4}
    )
    # The repository role every member gets on each repository (NO_BASE_ROLE:
    # none); checked by validate_base_repository_role, with the choices' words.
    base_repository_role = RadioField(
        "Base repository role",
        choices=lambda: base_role_choices(),
        validate_choice=False,
    )
    # What each form was rendered with: a change made meanwhile by someone else
    # makes it stale (409). Optional: a client that never loaded the page changes
    # the value as it stands.
    current_name = HiddenField()
    current_billing_address = HiddenField()
    current_base_repository_role = HiddenField()

    def sent(self, field: Field) -> bool:
        """Whether the request sent field (an empty textarea sends ""; a form that
        does not have the field sends nothing)."""
        return (
            self.is_submitted() and field.raw_data is not None and bool(field.raw_data)
        )

    def validate_base_repository_role(self, field: RadioField) -> None:
        """A base role sent must be a repository role or NO_BASE_ROLE."""
        if self.sent(field) and field.data not in BASE_ROLE_VALUES:
            raise ValidationError(choose_a_base_role())

    def validate_current_base_repository_role(self, field: HiddenField) -> None:
        """The page put a base role here (or nothing); anything else is not our
        form's."""
        if self.sent(field) and field.data not in BASE_ROLE_VALUES:
            raise ValidationError(STALE_FORM)

    @staticmethod
    def base_role_value(code: str | None) -> str:
        """How the form carries a base role: its code, or NO_BASE_ROLE."""
        return NO_BASE_ROLE if code is None else code

    @staticmethod
    def base_role_code(value: str) -> str | None:
        """The base role a value of the form stands for (None: no role)."""
        return None if value == NO_BASE_ROLE else value


class DeleteOrganizationForm(Form):
    """Delete an organization: its name, typed to confirm."""

    confirm_name = StringField(
        "Type the organization's name to confirm", render_kw={"autocomplete": "off"}
    )


# --- repositories (issue 18): the names' rules are portal.domain.names', which
# portal.domain.repositories applies and the views word as field errors. ---


class RepositoryForm(Form):
    """Create a repository: its name."""

    name = StringField(
        "Repository name", render_kw={"maxlength": 100, "autocomplete": "off"}
    )


class RepositorySettingsForm(Form):
    """Rename a repository. ``current_name``: the name the form was drawn with, so
    that a rename made meanwhile by someone else makes it stale (409); optional, a
    client that never loaded the page renames the repository as it stands."""

    name = StringField("New name", render_kw={"maxlength": 100, "autocomplete": "off"})
    current_name = HiddenField()

    def validate_current_name(self, field: HiddenField) -> None:
        """What the page put here is a name a repository may have: anything else
        is a form out of date (422), not a rename made meanwhile (409)."""
        value = field.data or ""
        if len(value) > Repository.name.type.length or any(
            ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value
        ):
            raise ValidationError(STALE_FORM)

    @property
    def shown_name(self) -> str | None:
        """The name the form says it was drawn with (None: not sent)."""
        raw = self.current_name.raw_data
        return (self.current_name.data or "") if raw else None


class DeleteRepositoryForm(Form):
    """Delete a repository: its name, typed to confirm."""

    confirm_name = StringField(
        "Type the repository's name to confirm", render_kw={"autocomplete": "off"}
    )


# --- mine (issue 18): the base repository role on the settings page -------------

#: The settings form's value for "no base repository role" (the organization's
#: base_repository_role is then None). JSON bodies are strings: null cannot say it.
NO_BASE_ROLE = "NONE"
#: Every value the settings form takes for the base repository role.
BASE_ROLE_VALUES = (*REPOSITORY_ROLE_NAMES, NO_BASE_ROLE)
#: "No access" in words.
NO_BASE_ROLE_NAME = "No access"


def base_role_choices() -> list[SelectChoice]:
    """The base repository roles as the settings page offers them, weakest
    first: no access, then each repository role in words."""
    repository = words().roles["Repository"]
    return [
        SelectChoice(NO_BASE_ROLE, NO_BASE_ROLE_NAME),
        *(
            SelectChoice(code, repository[code].name)
            for code in reversed(REPOSITORY_ROLE_NAMES)
        ),
    ]


def choose_a_base_role() -> str:
    """What to choose instead of a base role that is not one: names on a page,
    codes in JSON."""
    if wants_json():
        return f"Choose one of {', '.join(BASE_ROLE_VALUES)} ({NO_BASE_ROLE}: no role)."
    names = [choice.label for choice in base_role_choices()]
    return f"Choose one of {', '.join(names[:-1])} or {names[-1]}."


# ---- access: repository roles granted directly (portal.repository_access) ----


def repository_role_choices() -> list[SelectChoice]:
    """The repository roles as a select offers them: the code is sent, the name
    (portal/policy_words.toml) is read."""
    return [
        SelectChoice(code, words().role(code, "Repository").name)
        for code in REPOSITORY_ROLE_NAMES
    ]


def choose_a_repository_role() -> str:
    """What to choose instead of a repository role that is not one: the names on
    a page, the codes in JSON."""
    if wants_json():
        return f"Choose one of {', '.join(REPOSITORY_ROLE_NAMES)}."
    names = words().role_names(REPOSITORY_ROLE_NAMES, "Repository", last="or")
    return f"Choose one of {names}."


class ARepositoryRole:
    """Require one of the repository roles (sent, and known)."""

    def __init__(self) -> None:
        self.field_flags = {"required": True}

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if not (field.raw_data and field.raw_data[0]) or (
            field.data not in REPOSITORY_ROLE_NAMES
        ):
            field.errors = []
            raise StopValidation(choose_a_repository_role())


class RepositoryGrantForm(Form):
    """Give someone of the organization (by email) a role on a repository."""

    user_email = EmailField(
        "Email",
        validators=[
            DataRequired("Enter the email of the person."),
            Length(max=254, message="That is too long to be an email address."),
            no_control_characters,
        ],
    )
    name = SelectField(
        "Role",
        choices=repository_role_choices,
        default="WRITER",
        validators=[ARepositoryRole()],
        validate_choice=False,
    )
    expires = expiry_field()  # time-limited grants (issue 19)

    @property
    def wanted_expiry(self) -> roles.Expires:
        """The expiry asked for (KEEP: not sent; a new grant then never expires)."""
        return wanted_expiry(self.expires)


class RepositoryGrantRemoveForm(Form):
    """Take a direct repository role away; ``current`` is the role the form was
    drawn with (a grant changed meanwhile makes it stale: 409). Optional: a
    client that never loaded the page acts on the grant as it stands."""

    current = HiddenField()

    def validate_current(self, field: HiddenField) -> None:
        """The page put a repository role here (or nothing)."""
        if field.data and field.data not in REPOSITORY_ROLE_NAMES:
            raise ValidationError(STALE_FORM)

    @property
    def shown(self) -> str | None:
        """The role the form was drawn with (None: not sent)."""
        return self.current.data or None


class RepositoryGrantChangeForm(RepositoryGrantRemoveForm):
    """Change a direct repository role (the select on a people row), and its
    expiry when ``expires`` is sent (blank: never; not sent: as it is)."""

    name = SelectField(
        "Role",
        choices=repository_role_choices,
        validators=[ARepositoryRole()],
        validate_choice=False,
    )
    expires = expiry_field()  # time-limited grants (issue 19)

    @property
    def wanted_expiry(self) -> roles.Expires:
        """The expiry asked for (KEEP: not sent)."""
        return wanted_expiry(self.expires)


# --- password reset (issue 19) ---------------------------------------------------


def mail_header_safe(form: FlaskForm, field: Any) -> None:
    """Refuse what cannot go into a mail's To: header (a line break of any kind
    would start a header of its own)."""
    if field.data and not outbox.header_safe(field.data):
        raise ValidationError("Remove the line breaks from this field.")


class ForgotPasswordForm(Form):
    """The email to send a link for setting a new password to."""

    email = EmailField(
        "Email",
        validators=[
            DataRequired("Enter your email."),
            Length(max=254, message="That is too long to be an email address."),
            no_control_characters,
            mail_header_safe,
        ],
        render_kw={"autocomplete": "username"},
    )
    submit = SubmitField("Send me a link")


class ResetPasswordForm(Form):
    """A new password, set through a mailed link: PasswordForm's own fields and
    validators (12 to 128 characters, typed twice the same), without the
    current password the link stands in for."""

    new_password = PasswordForm.new_password
    confirm = PasswordForm.confirm
    submit = SubmitField("Set the new password")


# --- invitations (issue 19): the roles page's form invites; the link's page
# sets a password or accepts (portal.invitations). ---

# What a browser accepts in <input type="email"> (the HTML standard's "valid
# email address"): an invitation creates the account of this address.
_EMAIL_ADDRESS = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)


def an_email_address(form: FlaskForm, field: Field) -> None:
    """Refuse what is not an email address (name@example.com)."""
    if field.data and not _EMAIL_ADDRESS.fullmatch(field.data.strip()):
        raise ValidationError("That is not an email address (name@example.com).")


class InviteForm(Form):
    """Invite someone (by email) to the organization with a role. The answer is
    the same whether or not the email has an account (portal.domain.invitations)."""

    user_email = EmailField(
        "Email address",
        validators=[
            DataRequired("Enter the email of the person."),
            Length(max=254, message="That is too long to be an email address."),
            no_control_characters,
            an_email_address,
        ],
    )
    name = SelectField(
        "Role",
        choices=role_choices,
        default="MEMBER",
        validators=[ARole()],
        validate_choice=False,  # ARole says which roles exist
    )
    # Until when the role lasts once accepted (time-limited roles).
    expires = expiry_field()

    @property
    def role_expires(self) -> datetime | None:
        """The role's expiry asked for (None: never)."""
        wanted = wanted_expiry(self.expires)
        return None if isinstance(wanted, roles.Keep) else wanted


class InvitationActionForm(Form):
    """A CSRF-protected button about one invitation: accept (with an account),
    decline, resend, revoke."""


class NewAccountForm(Form):
    """Accept an invitation as a new person: a password, by the password page's
    own fields and rules."""

    new_password = PasswordForm.new_password
    confirm = PasswordForm.confirm
