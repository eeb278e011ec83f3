"""A text pre-filter: skip parsing files that cannot contain job code.

Parsing is most of the cost, and most files of a large tree never mention a job framework.
A file is parsed when it may define a job or a model (the index must see those), may
enqueue, or may send e-mail from a request handler. The filter only ever widens: a false
positive costs a parse, never a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

__all__ = ["may_define", "may_lint", "may_suppress", "mentions_job", "names_pattern"]

# Each marker is searched on its own terms: one alternation that mixes literal-led branches
# with `\b`-led ones makes the regex engine try every branch at every character (five times
# slower on Django's source than these three searches together), while an alternation of
# literal-led branches only stops where a branch's first character occurs.
_DEFINES = re.compile(
    r"jobkit|celery|shared_task|\.task\b|dramatiq|huey|GenericActor|declarative_base"
    r"|django\.tasks|django_tasks|django_rq|TASK_SERIALIZER|task_serializer|taskiq|SQLAlchemy\("
)
_MODEL_CLASS = re.compile(r"^class\s+\w+\s*\([^)]*(?:Model|Base)\b", re.MULTILINE)
_DEFINE_WORDS = re.compile(r"\b(?:rq|arq|saq)\b")
_ENQUEUES = re.compile(
    r"jobkit|perform_(?:async|in|at|bulk)|\.delay\b|delay_on_commit|apply_async|\.si?\("
    r"|\.signature\(|send_task"
    r"|enqueue|dramatiq|send_with_options|huey|celery|shared_task|\.task\b|taskiq"
)
_ENQUEUE_WORDS = re.compile(r"\b(?:arq|saq)\b")
_EMAIL = re.compile(
    r"send_mail|send_mass_mail|mail_admins|mail_managers|EmailMessage|EmailMultiAlternatives"
    r"|smtplib|mail\.send|email_user"
)
_WORD = re.compile(r"[A-Za-z_]\w*")
_SUPPRESSION = re.compile(r"#\s*noqa\s*:[^\n]*\bJK\d|#\s*jobkit-lint:\s*ignore")
_HANDLER = re.compile(r"request|\.route\(|APIView|ViewSet|@\w+\.(?:get|post|put|patch|delete)\(")


def may_define(text: str, extra: re.Pattern[str] | None = None) -> bool:
    """Whether the file may define a job or a model class the index must know.

    `extra` matches the configured `model-base-classes`, whose names the built-in markers
    cannot know.
    """
    if _DEFINES.search(text) or _MODEL_CLASS.search(text):
        return True
    # `in` finds a literal far faster than a `\b`-led pattern searches: it goes first.
    if ("rq" in text or "saq" in text) and _DEFINE_WORDS.search(text):
        return True
    return extra is not None and bool(extra.search(text))


def names_pattern(qualified_names: Iterable[str]) -> re.Pattern[str] | None:
    """A word pattern for the last segments of configured qualified names, if any."""
    names = sorted({q.rsplit(".", 1)[-1] for q in qualified_names})
    return re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b") if names else None


def may_lint(text: str, job_names: AbstractSet[str] = frozenset()) -> bool:
    """Whether any rule could report in this file; `job_names` are the indexed job names.

    A module that only does `from billing.actors import charge; charge.send(x)` mentions no
    framework, so it is kept when it mentions the name of a job defined anywhere in the tree.
    """
    if _ENQUEUES.search(text):
        return True
    # Every e-mail marker but `smtplib` contains "mail" (`EmailMessage` too): `in` first.
    if ("mail" in text or "smtplib" in text) and _EMAIL.search(text) and _HANDLER.search(text):
        return True
    if ("arq" in text or "saq" in text) and _ENQUEUE_WORDS.search(text):
        return True
    return mentions_job(text, job_names)


def mentions_job(text: str, job_names: AbstractSet[str]) -> bool:
    """Whether the text names one of the indexed jobs (the second half of :func:`may_lint`)."""
    return bool(job_names) and not job_names.isdisjoint(_WORD.findall(text))


def may_suppress(text: str) -> bool:
    """Whether the file may hold a JK-coded suppression, which ``--warn-unused-ignores``
    must see even where no rule could report (it then silences nothing)."""
    return _SUPPRESSION.search(text) is not None
