"""Every email language says everything English says (same placeholders), and the Simplified
Chinese and Arabic result emails go out through a real SMTP server in their own words, the
Arabic one right to left."""

from __future__ import annotations

import uuid
from string import Formatter

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.config import Settings
from etest.db import transaction
from etest.kit.levels import LEVELS
from etest.models import Certificate
from etest.notification.texts import _BANDS, CATALOG, SKILLS, language_of, level_meaning
from etest.outbox.worker import drain
from tests.attempt.conftest import make_course
from tests.conftest import Headers
from tests.notification.conftest import SmtpServer, context
from tests.notification.test_email import all_right, attachments, html_of, take, text_of

NEW = ("zh-Hans", "ar")
LRI, PDI = "\u2066", "\u2069"


def fields(sentence: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(sentence) if name is not None}


def test_the_languages_of_issue_15_are_there() -> None:
    for table in (CATALOG, SKILLS):
        assert {"en", "es", "vi", *NEW} <= set(table)
    assert {"es", "vi", *NEW} <= set(_BANDS)


@pytest.mark.parametrize("language", sorted(CATALOG))
def test_every_language_has_every_key_with_the_same_placeholders(language: str) -> None:
    english, words = CATALOG["en"], CATALOG[language]
    assert set(words) == set(english)
    for key, sentence in english.items():
        assert words[key].strip(), key
        assert fields(words[key]) == fields(sentence), key
    assert set(SKILLS[language]) == set(SKILLS["en"])
    assert all(SKILLS[language].values())


@pytest.mark.parametrize("language", sorted(_BANDS))
def test_every_language_says_what_every_level_means(language: str) -> None:
    bands, reference = _BANDS[language], _BANDS["es"]
    assert set(bands) == set(reference)
    for key, sentence in reference.items():
        assert fields(bands[key]) == fields(sentence), key
    for level in LEVELS:
        meaning = level_meaning(level, language)
        assert meaning and "{" not in meaning, level
        assert meaning != level_meaning(level, "en")


def test_level_meanings_in_chinese_and_arabic() -> None:
    assert level_meaning("A2+", "zh-Hans") == (
        "您能用简单的句子理解和谈论熟悉的日常事物，比如家庭、购物和工作。"
        "您已超过 A2 级，正在向下一个级别迈进。"
    )
    assert level_meaning("C1-Bridge", "ar").endswith(" مستواك يتجاوز C1.")


@pytest.mark.parametrize(
    ("setting", "language"),
    [
        ("zh", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh-SG", "zh-Hans"),
        ("zh-Hans", "zh-Hans"),
        ("zh-Hans-CN", "zh-Hans"),
        ("zh-TW", "en"),  # Traditional characters: no catalog yet
        ("ar", "ar"),
        ("ar-EG", "ar"),
        ("es-MX", "es"),
        ("fr", "en"),
        (None, "en"),
    ],
)
def test_the_setting_picks_the_catalog(setting: str | None, language: str) -> None:
    assert language_of(setting) == language


async def test_pt_result_email_in_chinese_and_arabic(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, settings: Settings, smtp: SmtpServer
) -> None:
    courses = {
        lang: await make_course(app, client, su, settings={"language": lang})
        for lang in ("zh-CN", "ar")
    }
    levels = {lang: (await take(app, client, c))["outcome"]["level"] for lang, c in courses.items()}
    await drain(context(app, settings, smtp_url=smtp.url))
    [zh] = smtp.inbox.to(courses["zh-CN"].candidate["email"])
    [ar] = smtp.inbox.to(courses["ar"].candidate["email"])

    level = levels["zh-CN"]
    assert zh["Subject"] == f"您的水平测试结果：{level}"
    assert zh["Content-Language"] == "zh-Hans"
    text, html = text_of(zh), html_of(zh)
    assert '<html lang="zh-Hans" dir="ltr">' in html and 'dir="rtl"' not in html
    for body in (text, html):
        assert "您已于 " in body and " 完成水平测试。" in body
        assert level in body and level_meaning(level, "zh-Hans") in body
        assert "有待提高的方面" in body and "阅读" in body
        assert "您的课程可以从这里开始" in body and "祝好！" in body
        assert "Assessment" not in body and "Reading" not in body
    assert text.startswith("您好：\n")  # the candidate has no name
    assert (
        f"您的级别：{level}\n" in text and "级别说明：您能" in text and "有待提高的方面：\n" in text
    )

    level = levels["ar"]
    assert ar["Subject"] == f"نتيجة اختبار تحديد المستوى: {LRI}{level}{PDI}"
    assert ar["Content-Language"] == "ar"
    text, html = text_of(ar), html_of(ar)
    assert '<html lang="ar" dir="rtl">' in html and '<body dir="rtl"' in html
    assert html.count('dir="rtl"') == 4 and 'dir="ltr"' not in html  # the tables say it too
    assert "dir=" not in text and "<" not in text
    assert f"مستواك: {LRI}{level}{PDI}\n" in text and "مجالات تحتاج إلى تحسين:\n" in text
    for body in (text, html):
        assert f"{LRI}{level}{PDI}" in body and level_meaning(level, "ar") in body
        assert "مجالات تحتاج إلى تحسين" in body and "القراءة" in body
        assert "أكملت اختبار تحديد المستوى بتاريخ " in body and "مع أطيب التحيات،" in body
        assert "Assessment" not in body and "Reading" not in body


async def test_ct_pass_email_in_chinese_and_arabic(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, settings: Settings, smtp: SmtpServer
) -> None:
    courses = {
        lang: await make_course(app, client, su, settings={"language": lang})
        for lang in ("zh", "ar")
    }
    attempts = {}
    for lang, course in courses.items():
        state = await take(app, client, course, "CT", all_right)
        assert state["outcome"]["passed"] is True
        attempts[lang] = state["attempt_id"]
    await drain(context(app, settings, smtp_url=smtp.url))
    codes = {}
    async with transaction(app.state.sessionmaker) as session:
        for lang, attempt_id in attempts.items():
            certificate = await session.scalar(
                select(Certificate).where(Certificate.attempt_id == uuid.UUID(attempt_id))
            )
            assert certificate is not None
            codes[lang] = certificate.code
    [zh] = smtp.inbox.to(courses["zh"].candidate["email"])
    [ar] = smtp.inbox.to(courses["ar"].candidate["email"])

    assert zh["Subject"] == "恭喜！您已通过 A1 级认证考试"
    assert zh["Content-Language"] == "zh-Hans"
    html = html_of(zh)
    assert '<html lang="zh-Hans" dir="ltr">' in html and 'dir="rtl"' not in html
    verify_url = f"{settings.base_url}/verify/{codes['zh']}"
    for body in (text_of(zh), html):
        assert "您的得分：100%（及格线：70%）。" in body
        assert "做得好！您可以继续学习 A1+ 级。" in body
        assert "您的证书以 PDF 文件形式附在本邮件中。" in body
        assert f"证书核验码：{codes['zh']}" in body and verify_url in body

    assert ar["Subject"] == f"تهانينا! لقد اجتزت اختبار الشهادة للمستوى {LRI}A1{PDI}"
    assert ar["Content-Language"] == "ar"
    text, html = text_of(ar), html_of(ar)
    assert '<html lang="ar" dir="rtl">' in html and '<body dir="rtl"' in html
    verify_url = f"{settings.base_url}/verify/{codes['ar']}"
    # the link reads left to right inside the right-to-left page
    assert f'<a href="{verify_url}" dir="ltr">{verify_url}</a>' in html
    for body in (text, html):
        assert "نتيجتك: 100% (درجة النجاح: 70%)." in body
        assert f"أحسنت! يمكنك الانتقال إلى المستوى {LRI}A1+{PDI}." in body
        assert f"اجتزت اختبار الشهادة للمستوى {LRI}A1{PDI} بتاريخ " in body
        assert "شهادتك مرفقة بهذه الرسالة في ملف PDF." in body
        assert f"رمز التحقق: {codes['ar']}" in body and verify_url in body
    for message, lang in ((zh, "zh"), (ar, "ar")):
        [pdf] = attachments(message)
        assert pdf.get_filename() == f"certificate-{codes[lang]}.pdf"
