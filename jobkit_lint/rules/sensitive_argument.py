"""JK103: a job argument whose name says it is a secret or regulated personal data."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from functools import lru_cache

import libcst as cst

from jobkit_lint.rule import FileFacts, Rule, Violation, iter_arg_values

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_SECRET_WORDS = frozenset({
    "password", "passwd", "passphrase", "secret", "secrets", "token", "tokens", "credential",
    "credentials", "creds", "apikey", "otp",
})
_SECRET_PAIRS = frozenset({
    ("api", "key"), ("access", "key"), ("private", "key"), ("signing", "key"),
    ("encryption", "key"), ("auth", "key"),
})
_CARD_WORDS = frozenset({"cvv", "cvc", "cvv2", "cardnumber", "ccnumber"})
_CARD_PAIRS = frozenset({("card", "number"), ("credit", "card"), ("cc", "number")})
_ID_WORDS = frozenset({"ssn", "iban"})
_ID_PAIRS = frozenset({("social", "security"), ("passport", "number"), ("tax", "number")})
# A last word that makes the name *about* the secret, not the secret: `token_id`,
# `password_changed`, `secret_name`, `api_key_prefix`.
_META_LAST = frozenset({
    "id", "ids", "pk", "pks", "uuid", "count", "type", "kind", "name", "names", "label",
    "length", "len", "hash", "hashed", "digest", "expiry", "expires", "expiration", "at",
    "ttl", "url", "uri", "endpoint", "path", "file", "filename", "field", "fields", "policy",
    "required", "changed", "enabled", "set", "version", "prefix", "suffix", "last4", "hint",
    "strength", "reset", "sent", "status", "scope", "scopes", "header", "env", "arn", "ref",
    "provider", "method", "template", "limit", "usage", "used", "valid", "generator",
})
_META_FIRST = frozenset({
    "is", "has", "should", "use", "require", "requires", "needs", "no", "hashed",
    "encrypted", "masked", "redacted", "num", "max", "min", "total",
})
# Tokens that address or paginate rather than authenticate (or count words for an LLM).
_HARMLESS_TOKEN = frozenset({
    "page", "next", "prev", "previous", "continuation", "pagination", "cursor", "sync",
    "csrf", "device", "push", "fcm", "apns", "registration", "notification", "prompt",
    "completion", "input", "output",
})


# Both are pure functions of a name, and the same names (`order_id`, `user`) recur at
# nearly every enqueue of a project: cached.
@lru_cache(maxsize=8192)
def _words(identifier: str) -> tuple[str, ...]:
    return tuple(w.lower() for part in identifier.split("_") for w in _WORD.findall(part))


@lru_cache(maxsize=8192)
def sensitive_kind(identifier: str) -> str | None:
    """`a secret`, `card data` or `a personal identifier` when the name says so, else None."""
    words = _words(identifier)
    if not words or words[-1] in _META_LAST or words[0] in _META_FIRST:
        return None
    pairs = set(itertools.pairwise(words))
    for i, word in enumerate(words):
        if word in {"token", "tokens"} and i and words[i - 1] in _HARMLESS_TOKEN:
            return None
    if _CARD_WORDS.intersection(words) or _CARD_PAIRS & pairs:
        return "card data"
    if _ID_WORDS.intersection(words) or _ID_PAIRS & pairs:
        return "a personal identifier"
    if _SECRET_WORDS.intersection(words) or _SECRET_PAIRS & pairs:
        return "a secret"
    return None


def _string(expr: cst.BaseExpression) -> str | None:
    if type(expr) is cst.SimpleString:
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _value_name(expr: cst.BaseExpression) -> str | None:
    """The name an argument value is known by: `token`, `user.password`, `data["secret"]`."""
    if type(expr) is cst.Name:
        return expr.value
    if type(expr) is cst.Attribute:
        if expr.attr.value in {"key", "value", "raw"} and isinstance(
            expr.value, cst.Name | cst.Attribute
        ):
            return _value_name(expr.value)
        return expr.attr.value
    if type(expr) is cst.Subscript and len(expr.slice) == 1:
        index = expr.slice[0].slice
        return _string(index.value) if type(index) is cst.Index else None
    if (
        type(expr) is cst.Call and type(expr.func) is cst.Attribute
        and expr.func.attr.value in {"get", "pop"} and expr.args
    ):
        return _string(expr.args[0].value)
    return None


class SensitiveArgument(Rule):
    """Don't pass secrets or card data as job arguments: payloads are stored in clear text.

    A job's arguments sit in Redis (or the broker) until the job runs, are copied into the
    retry and dead sets when it fails, and are shown by dashboards (Sidekiq Web, Flower,
    rq-dashboard) and error trackers. A password, token, API key, card number or social
    security number passed as an argument leaks to everyone who can read any of those. Pass
    the id of the record that holds it and read it (or a short-lived reference) inside the
    job.

    The rule reads names: the argument expression (`token`, `user.password`,
    `form.cleaned_data["password"]`), the keyword it is passed as, string keys of a dict
    argument, and the parameters of job definitions. A name that is *about* a secret is not
    one: `token_id`, `password_reset_id`, `secret_name`, `has_password`, `token_count`,
    `api_key_prefix`, `card_last4`, and tokens that address or paginate (`page_token`,
    `next_token`, `device_token`, `csrf_token`). E-mail addresses, phone numbers and names
    are personal data too, but they are usually what the job exists to use (the recipient),
    so they are not flagged.
    """

    CODE = "JK103"
    NAME = "sensitive-argument"
    MESSAGE = (
        "`{name}` looks like {kind} passed to a job; job payloads sit in Redis and dashboards "
        "in clear text, so pass an id and load it inside the job"
    )
    VALID = (
        """\
from accounts.tasks import send_reset_email

def reset(user, reset_request):
    send_reset_email.delay(user.id, reset_request.id, token_id=reset_request.token_id)
""",
        """\
from celery import shared_task

@shared_task
def sync_page(account_id, page_token, has_password):
    pass
""",
    )
    INVALID = (
        """\
from accounts.tasks import send_reset_email

def reset(user, token):
    send_reset_email.delay(user.id, token)
""",
        """\
from billing.jobs import ChargeJob

def checkout(order, form):
    ChargeJob.perform_async(order.id, {"card_number": form.cleaned_data["card_number"]})
""",
        """\
from celery import shared_task

@shared_task
def create_account(email, password):
    pass
""",
        """\
from crm.tasks import push

def sync(account, settings):
    push.apply_async(kwargs={"account_id": account.id, "api_key": settings.CRM_API_KEY})
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag sensitive names at enqueue sites and among job parameters."""
        for enqueue in facts.enqueues:
            seen = {id(a) for a in enqueue.args}
            keywords = {
                id(a.value): a.keyword.value for a in enqueue.call.args
                if a.keyword is not None and id(a.value) in seen
            }
            for arg in enqueue.args:
                for value in iter_arg_values(arg):
                    found = self._finding(value, keywords.get(id(value)))
                    if found:
                        yield Violation(value, enqueue.call, found)
        for job in facts.jobs:
            for body in job.bodies:
                params = body.params
                for param in (*params.posonly_params, *params.params, *params.kwonly_params):
                    found = self._finding(None, param.name.value)
                    if found:
                        yield Violation(job.node, message=found)

    def _finding(self, value: cst.BaseExpression | None, keyword: str | None) -> str | None:
        if keyword and not sensitive_kind(keyword) and _words(keyword)[-1:] in (("id",), ("pk",)):
            return None  # `token_id=invite.token`: the job treats the value as an id
        names = [keyword, _value_name(value) if value is not None else None]
        if type(value) is cst.Dict:
            # A key whose value is itself named as a secret is reported once, at the value.
            names.extend(
                _string(e.key) for e in value.elements if type(e) is cst.DictElement
                and not sensitive_kind(_value_name(e.value) or "")
            )
        for name in names:
            kind = sensitive_kind(name) if name else None
            if kind:
                return self.MESSAGE.format(name=name, kind=kind)
        return None
