"""The SMTP mailer against a real server: URLs, login, and how failures are classified."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from pathlib import Path

import pytest

from etest.config import Settings
from etest.notification.mailer import SmtpMailer, UnconfiguredMailer, mailer_from_settings
from etest.outbox.jobs import JobFailed
from tests.notification.conftest import SmtpServer
from tests.support.server import free_port
from tests.support.tls import self_signed


def message(to: str = "someone@example.org") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "eTest <no-reply@etest.invalid>"
    msg["To"] = to
    msg["Subject"] = "hello"
    msg["Message-ID"] = "<m1@etest.invalid>"
    msg.set_content("hi")
    return msg


def test_urls() -> None:
    plain = SmtpMailer.from_url("smtp://mail.example.org")
    assert (plain.hostname, plain.port, plain.implicit_tls, plain.username) == (
        "mail.example.org",
        25,
        False,
        None,
    )
    tls = SmtpMailer.from_url("smtps://u%40x:p%3Aw%2Fd@mail.example.org", timeout=3)
    assert (tls.port, tls.implicit_tls, tls.username, tls.password, tls.timeout) == (
        465,
        True,
        "u@x",
        "p:w/d",
        3,
    )
    assert SmtpMailer.from_url("smtp://mail.example.org:587").port == 587
    for bad in (
        "http://mail.example.org",
        "smtp://",
        "mail.example.org:25",
        "smtp://mail.example.org:99999",
    ):
        with pytest.raises(ValueError, match="ETEST_SMTP_URL") as info:
            SmtpMailer.from_url(bad)
        assert "p:w" not in str(info.value)


def test_from_settings(settings: Settings) -> None:
    assert isinstance(
        mailer_from_settings(settings.model_copy(update={"smtp_url": None})), UnconfiguredMailer
    )
    mailer = mailer_from_settings(
        settings.model_copy(update={"smtp_url": "smtp://127.0.0.1:2525", "smtp_timeout": 7.0})
    )
    assert isinstance(mailer, SmtpMailer) and mailer.timeout == 7.0


async def test_unconfigured_asks_for_a_retry() -> None:
    with pytest.raises(JobFailed, match="SMTP is not configured") as info:
        await UnconfiguredMailer().send(message())
    assert info.value.retry is True


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_login_from_the_url(smtp_auth: SmtpServer) -> None:
    url = f"smtp://mailer:p%40ss%3Aw%2Frd@127.0.0.1:{smtp_auth.port}"
    reply = await SmtpMailer.from_url(url, timeout=5).send(message())
    assert reply["message_id"] == "<m1@etest.invalid>" and reply["refused"] == {}
    assert len(smtp_auth.inbox.to("someone@example.org")) == 1
    wrong = f"smtp://mailer:nope@127.0.0.1:{smtp_auth.port}"
    with pytest.raises(JobFailed, match="535") as info:
        await SmtpMailer.from_url(wrong, timeout=5).send(message())
    assert info.value.retry is True  # a login problem is ours to fix: the mail waits


async def test_failures_are_classified(smtp: SmtpServer) -> None:
    mailer = SmtpMailer.from_url(smtp.url, timeout=5)
    with pytest.raises(JobFailed) as info:
        await mailer.send(message("refuse@example.org"))
    assert info.value.retry is False and info.value.detail == {
        "refused": {"refuse@example.org": 550}
    }
    with pytest.raises(JobFailed) as info:
        await mailer.send(message("later@example.org"))
    assert info.value.retry is True
    down = SmtpMailer.from_url(f"smtp://127.0.0.1:{free_port()}", timeout=5)
    with pytest.raises(JobFailed, match="unreachable") as info:
        await down.send(message())
    assert info.value.retry is True
    assert smtp.inbox.received == []


async def test_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """STARTTLS when offered (the server below refuses mail without it), implicit TLS for
    smtps://, and the server certificate is checked."""
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    starttls = SmtpServer(tls_context=context, require_starttls=True)
    implicit = SmtpServer(ssl_context=context)
    starttls.start()
    implicit.start()
    try:
        with pytest.raises(JobFailed, match="CERTIFICATE_VERIFY_FAILED") as info:  # untrusted
            await SmtpMailer.from_url(starttls.url, timeout=5).send(message())
        assert info.value.retry is True
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust it, as an operator's CA store
        await SmtpMailer.from_url(starttls.url, timeout=5).send(message("a@example.org"))
        await SmtpMailer.from_url(f"smtps://127.0.0.1:{implicit.port}", timeout=5).send(
            message("b@example.org")
        )
    finally:
        starttls.stop()
        implicit.stop()
    assert len(starttls.inbox.to("a@example.org")) == 1
    assert len(implicit.inbox.to("b@example.org")) == 1
