"""A real SMTP server (aiosmtpd) on a loopback port, started and stopped by the tests."""

import socket
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """Keeps every message the server accepts: (envelope recipients, parsed message)."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos),
                              message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


class SMTPServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.collector = Collector()
        self.controller = None

    @property
    def messages(self):
        # Mail leaves after the request, in a thread (fleet.background): wait for it first.
        from fleet import background

        background.drain(30)
        return self.collector.messages

    def start(self):
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def config(self) -> dict:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port,
                "MAIL_SENDER": "fleet@ministry.example"}

    def by_recipient(self) -> dict:
        return {rcpt: msg for rcpts, msg in self.messages for rcpt in rcpts}
