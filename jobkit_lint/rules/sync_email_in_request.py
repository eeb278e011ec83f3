"""JK501: e-mail sent synchronously inside a request handler."""

from __future__ import annotations

from collections.abc import Iterator

from jobkit_lint.rule import FileFacts, Rule, Violation, dotted_name


class SyncEmailInRequest(Rule):
    """Send e-mail from a job, not from the request handler.

    SMTP is slow and flaky: sending inside a Django view, a Flask or FastAPI route or a DRF
    viewset method makes the user wait on the mail server and turns its hiccups into 500
    errors with no retry. Enqueue a job that sends the message. Management commands, jobs
    and plain functions are not request handlers and are not flagged, nor is a send inside a
    `try` that catches SMTP errors (`SMTPException`, `BadHeaderError`, …) to report them: a
    "send a test e-mail" endpoint waits on purpose.
    """

    CODE = "JK501"
    NAME = "sync-email-in-request"
    MESSAGE = "`{call}` sends e-mail synchronously in a request handler; send it from a job"
    VALID = (
        """\
from django.core.mail import send_mail
from accounts.tasks import send_welcome

def signup(request):
    send_welcome.delay(request.POST["email"])

def send_digest(addresses):
    send_mail("Digest", "...", "noreply@example.com", addresses)
""",
        # A test-e-mail endpoint that reports the SMTP outcome: the wait is the point.
        """\
from smtplib import SMTPException
from django.core.mail import send_mail
from django.http import JsonResponse

def test_email(request):
    try:
        send_mail("Test", "It works.", None, [request.POST["to"]])
    except SMTPException as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse({"sent": True})
""",
    )
    INVALID = (
        """\
from django.core.mail import send_mail

def signup(request):
    send_mail("Welcome", "...", "noreply@example.com", [request.POST["email"]])
""",
        """\
from flask import Flask
from flask_mail import Message

app = Flask(__name__)

@app.route("/signup", methods=["POST"])
def signup():
    mail.send(Message("Welcome"))
""",
        """\
from django.core.mail import EmailMessage
from rest_framework.viewsets import ModelViewSet

class InviteViewSet(ModelViewSet):
    def create(self, request):
        EmailMessage("Invite", "...", to=["a@example.com"]).send()
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag every e-mail call the walker found inside a request handler."""
        for call, _scope in facts.emails:
            label = dotted_name(call.func) or facts.module.code_for_node(call.func)
            yield Violation(call, message=self.MESSAGE.format(call=label))
