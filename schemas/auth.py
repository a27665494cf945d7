"""Registration, login, refresh."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import CamelSchema, single_line

# docs/contract.md §5: letters, digits, underscore; 3-50. Python's `$` also matches before a
# trailing newline ("alice\n" would pass); `(?!\n)` forbids that and stays a valid
# ECMAScript pattern for the OpenAPI document.
USERNAME_RE = r"^[A-Za-z0-9_]{3,50}$(?!\n)"
PASSWORD_MIN_CHARS = 8
# bcrypt ignores everything after 72 bytes; bcrypt 5 refuses it. Refuse it clearly instead.
PASSWORD_MAX_BYTES = 72
EMAIL_MAX = 255
# Emails: a dot-atom local part and a host name with at least one dot, ASCII only (the
# web's `<input type=email>` syntax, minus dotless hosts). RFC 5321 also allows quoted
# local parts, which carry spaces and control characters (ESC, BEL) into the database and
# into every place that shows an address. `$(?!\n)` as in USERNAME_RE.
_EMAIL_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_RE = rf"^{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*@{_EMAIL_LABEL}(?:\.{_EMAIL_LABEL})+$(?!\n)"


def password_rules(value: str) -> None:
    if len(value) < PASSWORD_MIN_CHARS:
        raise ValidationError(f"Must be at least {PASSWORD_MIN_CHARS} characters.")
    if len(value.encode("utf-8", errors="surrogatepass")) > PASSWORD_MAX_BYTES:
        raise ValidationError(f"Must be at most {PASSWORD_MAX_BYTES} bytes in UTF-8.")
    single_line(value)


# Marshmallow formats validator messages: no braces in here.
EMAIL_RULE = "An address like name@example.com: no quotes, spaces, control or non-ASCII characters."


def email_field(**kwargs: Any) -> fields.String:
    """An email address as accounts store it. EMAIL_RE is the whole rule, and the document
    states it as the field's pattern: marshmallow's own Email check would refuse addresses
    the pattern allows (a one-letter top-level label), so it is not used."""
    return fields.String(
        validate=[
            validate.Length(max=EMAIL_MAX),
            validate.Regexp(EMAIL_RE, error=EMAIL_RULE),
        ],
        **kwargs,
    )


class RegisterSchema(CamelSchema):
    email = email_field(required=True)
    username = fields.String(
        required=True,
        validate=validate.Regexp(USERNAME_RE, error="3-50 letters, digits or underscores."),
    )
    password = fields.String(required=True, validate=password_rules)


class LoginSchema(CamelSchema):
    """Log in by email, or by username in the same `email` field, or in `username`."""

    email = fields.String(validate=[validate.Length(min=1, max=EMAIL_MAX), single_line])
    username = fields.String(validate=[validate.Length(min=1, max=EMAIL_MAX), single_line])
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))

    # For the OpenAPI document (chat_server/api/openapi.py): `identifier` needs one of them.
    JSON_SCHEMA_RULES: ClassVar[dict[str, Any]] = {
        "anyOf": [{"required": ["email"]}, {"required": ["username"]}]
    }

    @staticmethod
    def identifier(data: dict[str, str]) -> str:
        return data.get("email") or data.get("username") or ""


class RefreshSchema(CamelSchema):
    refresh_token = fields.String(validate=validate.Length(min=1, max=512))


class AuthenticateSchema(CamelSchema):
    """The `authenticate` socket event."""

    token = fields.String(required=True, validate=validate.Length(min=1, max=4096))


# What PUT /api/users/me can change (wire names); a new `password` or `email` needs
# `currentPassword` (a stolen access token must not take the account over).
UPDATABLE_FIELDS = ("username", "email", "displayName", "password")


class UpdateMeSchema(CamelSchema):
    username = fields.String(
        validate=validate.Regexp(USERNAME_RE, error="3-50 letters, digits or underscores.")
    )
    email = email_field()
    display_name = fields.String(allow_none=True, validate=[validate.Length(max=100), single_line])
    password = fields.String(validate=password_rules)
    current_password = fields.String(validate=validate.Length(max=1024))

    # For the OpenAPI document: what `_something_to_change` checks.
    JSON_SCHEMA_RULES: ClassVar[dict[str, Any]] = {
        "allOf": [
            {"anyOf": [{"required": [name]} for name in UPDATABLE_FIELDS]},
            {"anyOf": [{"not": {"required": ["password"]}}, {"required": ["currentPassword"]}]},
            {"anyOf": [{"not": {"required": ["email"]}}, {"required": ["currentPassword"]}]},
        ]
    }

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **_: Any) -> None:
        """An update that changes nothing is a mistake (e.g. a body that never arrived), and
        a new password or email needs the current one (checked by the service)."""
        if not any(self.fields[name].data_key in UPDATABLE_FIELDS for name in data):
            raise ValidationError(
                "Nothing to change: give " + ", ".join(UPDATABLE_FIELDS) + ".", "_schema"
            )
        if ("password" in data or "email" in data) and "current_password" not in data:
            raise ValidationError("Missing data for required field.", "currentPassword")


USER_SEARCH_MAX = 50


class UserSearchQuerySchema(CamelSchema):
    """GET /api/users?search=prefix&limit=N."""

    search = fields.String(required=True, validate=[validate.Length(min=1, max=50), single_line])
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=USER_SEARCH_MAX))
