"""E-mail without a mail server (the embedded default): each message is logged, not printed.

Django's console backend writes messages to stdout as they are, one-click links included; going
through the log, they pass the redaction of ``config.logging`` like every other line (a moderator
without e-mail decides in the admin).
"""

import logging
from collections.abc import Sequence

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

logger = logging.getLogger("moderato.mail")


class LoggingEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            logger.info("e-mail to %s: %s\n%s", ", ".join(message.recipients()), message.subject, message.body)
        return len(email_messages)
