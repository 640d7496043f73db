"""The candidate's words are in the ``take`` catalog and every language has all of them; the
language chain and the page's words (dates, numbers, the young learners' register)."""

from __future__ import annotations

import re
import subprocess
import tempfile
import unicodedata
from datetime import UTC, date, datetime

import pytest

from etest.certificate import pdf
from etest.kit import i18n
from etest.kit.language import accepted, choose, direction, normalise, organization_language
from etest.kit.logo import load_logo
from etest.web.catalog import LANGUAGES, POT, extract, read, render, untranslated
from etest.web.language import LOCALE_DIR, Words

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]


def test_catalog_template_is_current() -> None:
    assert POT.is_file(), "run scripts/extract_messages"
    current = render(extract())
    assert 'msgid "Save and continue"' in current
    assert 'msgctxt "young"' in current
    assert POT.read_text() == current, "a /take word changed: run scripts/extract_messages"


def _strings(message: object) -> tuple[str, ...]:
    string = getattr(message, "string", "")
    return tuple(string) if isinstance(string, tuple) else (string,)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_every_message_with_its_placeholders(language: str) -> None:
    template = {(m.context, m.id) for m in extract() if m.id}
    catalog = read(language)
    found = {(m.context, m.id) for m in catalog if m.id}
    assert found == template, "run scripts/extract_messages, then translate"
    if language == "en":  # the source: only the young register has words of its own
        young = [m for m in catalog if m.id and m.context == "young"]
        assert young and all(m.string for m in young)
        return
    missing = untranslated(catalog)
    assert not missing, f"{language} misses {len(missing)} translations: {missing[:5]}"
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for text in _strings(message):
            got = set(PLACEHOLDER.findall(text))
            # a plural form may say its number in words ("سؤالان": two questions)
            assert got <= wanted and wanted - got <= {"n"}, (language, ids[0], text)
            if message.python_format:  # formats as the English does (a lone % would raise)
                assert text % dict.fromkeys(wanted | {"n"}, "1")


def test_arabic_has_six_plural_forms_and_chinese_one() -> None:
    assert read("ar").num_plurals == 6
    assert read("zh-Hans").num_plurals == 1
    ar = Words("ar")
    assert ar.ngettext("%(n)s question.", "%(n)s questions.", 2) == "سؤالان."
    assert ar.ngettext("%(n)s question.", "%(n)s questions.", 7) == "7 أسئلة."
    assert ar.ngettext("%(n)s question.", "%(n)s questions.", 12) == "12 سؤالًا."
    assert Words("es").ngettext("%(n)s question.", "%(n)s questions.", 1) == "1 pregunta."


def test_the_young_register_falls_back_to_the_normal_wording() -> None:
    young = Words("en", "young")
    assert young.gettext("Save and continue") == "Next"
    assert young.gettext("Start the test") == "Start the test"  # no young wording: the normal
    assert Words("en").gettext("Save and continue") == "Save and continue"
    assert Words("es", "young").gettext("Save and continue") == "Siguiente"
    assert Words("es", "young").gettext("Start the test") == "Empezar la prueba"
    # a catalog without the language: the English source, formatted
    say = i18n.translator(i18n.translations(LOCALE_DIR, "take", "xx"), "young")
    assert say("Question %(n)s", n=3) == "Question 3"


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("es-MX", "es"),
        ("ES", "es"),
        ("zh", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh_SG", "zh-Hans"),
        ("zh-Hans-HK", "zh-Hans"),
        ("zh-TW", None),
        ("zh-Hant", None),
        ("ar-EG", "ar"),
        ("vi-VN", "vi"),
        ("fr", None),
        ("", None),
        (None, None),
    ],
)
def test_tags_read_a_supported_language(tag: str | None, language: str | None) -> None:
    assert normalise(tag) == language


def test_the_chain_token_candidate_organization_browser_english() -> None:
    browser = "fr-FR,fr;q=0.9,vi;q=0.8,en;q=0.5"
    assert choose("ar", "es", "vi", accept_language=browser) == "ar"
    assert choose(None, "es", "vi", accept_language=browser) == "es"
    assert choose(None, None, "zh-CN", accept_language=browser) == "zh-Hans"
    assert choose(None, "fr", None, accept_language=browser) == "vi"  # unsupported tags skipped
    assert choose(None, None, None, accept_language="de, fr;q=0.5") == "en"
    assert choose(accept_language=None) == "en"
    assert organization_language({"language": "es-MX"}) == "es-MX"
    assert organization_language({}) is None and organization_language(None) is None


def test_accept_language_by_quality_then_order() -> None:
    assert accepted("es;q=0.4, ar;q=0.9, zh-TW, vi") == ["vi", "ar", "es"]
    assert accepted("es;q=0, vi;q=bad, ar") == ["ar"]
    assert accepted("*") == [] and accepted("") == []


def test_dates_and_numbers_in_the_language_and_the_organization_zone() -> None:
    late = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    assert Words("es", timezone="Europe/Madrid").date(late) == "7 de diciembre de 2026"
    assert Words("en", timezone="America/New_York").date(late) == "December 6, 2026"
    assert Words("zh-Hans").date(date(2026, 12, 6)) == "2026年12月6日"
    assert Words("vi").date(date(2026, 12, 6)) == "6 tháng 12, 2026"
    assert Words("es").number(87.5) == "87,5" and Words("en").number(1234.5) == "1,234.5"
    assert Words("ar").number(87.5) == "87.5"  # Latin digits, as levels and codes are
    assert Words("en", timezone="Not/AZone").timezone == "Not/AZone"  # kept as given ...
    assert direction("ar") == "rtl" and direction("zh-Hans") == "ltr"


def _pdf_text(view: pdf.CertificateView) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf.render(view))
        f.flush()
        out = subprocess.run(["pdftotext", f.name, "-"], capture_output=True, check=True)
    # Arabic is drawn in presentation forms; pdftotext marks direction with embeddings
    text = unicodedata.normalize("NFKC", out.stdout.decode())
    return re.sub("[\u202a-\u202e]", "", text)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "zh-Hans",
            [
                "英语证书",
                "兹证明",
                "已通过 eTest 认证测试",
                "英语 A1+ 级",
                "日期:2026年12月6日",
            ],  # NFKC: a full-width colon reads ":",
        ),
        ("ar", ["شهادة اللغة الإنجليزية", "تشهد هذه الوثيقة بأن", "A1+", "ديسمبر", "رمز التحقق"]),
        ("es", ["Certificado de inglés", "Inglés, nivel A1+", "Fecha: 6 de diciembre de 2026"]),
        ("en", ["Certificate of English", "English level A1+", "Date: December 6, 2026"]),
    ],
)
def test_the_certificate_prints_its_words_in_the_language(language: str, words: list[str]) -> None:
    view = pdf.CertificateView(
        holder_name="Lê Thị Hoa",
        level="A1+",
        plan_name="neo Plus",
        organization_name="Escuela",
        date="2026-12-06",
        code="K7QW-2M9X",
        verify_url="https://etest.example/verify/K7QW-2M9X",
        logo=load_logo(None).data,
        language=language,
        issued_on=date(2026, 12, 6),
    )
    text = _pdf_text(view)
    for word in words:
        assert word in text, (language, word, text)
    if language != "en":
        assert "Certificate of English" not in text and "This certifies" not in text
