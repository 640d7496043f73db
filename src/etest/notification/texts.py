"""The words of every email, per language. Templates hold the layout only; a new language is one
more entry of :data:`CATALOG` (every key of ``en``), nothing else.

Placeholders are ``str.format`` fields filled with plain values; the HTML template escapes the
formatted sentence as a whole, so no sentence carries markup.
"""

from __future__ import annotations

from etest.kit.levels import level_meaning as _english_level_meaning

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Dear {name},",
        "greeting_anonymous": "Hello,",
        "signoff": "Best regards,",
        "footer": "This message was sent automatically by eTest on behalf of {org}. "
        "Replies to it are not read.",
        "score_line": "Your score: {score}% (pass mark: {pass_mark}%).",
        "correct_line": "You answered {correct} of {total} questions correctly.",
        # PT result
        "pt_result.subject": "Your Assessment Test result: {level}",
        "pt_result.intro": "You completed the Assessment Test on {date}.",
        "pt_result.level_label": "Your level",
        "pt_result.meaning_label": "What it means",
        "pt_result.start_here": "This is the level where English challenges you without being "
        "too hard: your lessons can start here.",
        "pt_result.areas_label": "Areas for improvement",
        # PT without a level (too few answers)
        "pt_unplaced.subject": "Your Assessment Test: no level yet",
        "pt_unplaced.intro": "You finished the Assessment Test on {date}.",
        "pt_unplaced.not_placed": "We could not place you at a level: you answered {answered} "
        "questions, and at least {needed} answers are needed to tell "
        "your level.",
        "pt_unplaced.retake": "Ask your school or company for a new test token to take the "
        "test again.",
        # CT pass
        "ct_pass.subject": "Congratulations! You passed the {level} Certification Test",
        "ct_pass.intro": "You passed the {level} Certification Test on {date}.",
        "ct_pass.attached": "Your certificate is attached to this email as a PDF file.",
        "ct_pass.verify": "Anyone can check that your certificate is genuine here:",
        "ct_pass.code": "Verification code: {code}",
        "ct_pass.next": "Well done! You can go on to level {level}.",
        # CT fail
        "ct_fail.subject": "Your {level} Certification Test result",
        "ct_fail.intro": "You took the {level} Certification Test on {date}. This time your "
        "score did not reach the pass mark.",
        "ct_fail.cant_do_label": "What to work on",
        "ct_fail.review_label": "Lessons to review",
        "ct_fail.retake": "You can try this level again with a new token from your school or "
        "company.",
        "ct_fail.needs_review": "Your teacher or support team will look at your result with "
        "you before you try this level again.",
        # token invitation (issued from the console)
        "token_invite.subject": "{org} invites you to take the {test}",
        "token_invite.intro": "{org} invites you to take the {test}.",
        "token_invite.pt": "Assessment Test",
        "token_invite.ct": "{level} Certification Test",
        "token_invite.open": "Open this link to start the test:",
        "token_invite.button": "Start the test",
        "token_invite.expires": "The link works until {date}.",
        "token_invite.private": "This link is for you alone: please do not share it. If you "
        "stop before the end, open it again to continue where you left off.",
    },
    "es": {
        "greeting": "Hola, {name}:",
        "greeting_anonymous": "Hola:",
        "signoff": "Saludos cordiales,",
        "footer": "eTest envió este mensaje automáticamente en nombre de {org}. Las respuestas "
        "a este mensaje no se leen.",
        "score_line": "Tu puntuación: {score} % (nota mínima para aprobar: {pass_mark} %).",
        "correct_line": "Respondiste correctamente {correct} de {total} preguntas.",
        "pt_result.subject": "Tu resultado de la prueba de nivel: {level}",
        "pt_result.intro": "Completaste la prueba de nivel el {date}.",
        "pt_result.level_label": "Tu nivel",
        "pt_result.meaning_label": "Qué significa",
        "pt_result.start_here": "Es el nivel en el que el inglés te supone un reto sin ser "
        "demasiado difícil: tus clases pueden empezar aquí.",
        "pt_result.areas_label": "Aspectos que mejorar",
        "pt_unplaced.subject": "Tu prueba de nivel: todavía no tienes nivel",
        "pt_unplaced.intro": "Terminaste la prueba de nivel el {date}.",
        "pt_unplaced.not_placed": "No pudimos asignarte un nivel: respondiste {answered} "
        "preguntas y se necesitan al menos {needed} respuestas para "
        "saber tu nivel.",
        "pt_unplaced.retake": "Pide a tu escuela o empresa un nuevo código para volver a hacer "
        "la prueba.",
        "ct_pass.subject": "¡Enhorabuena! Aprobaste la prueba de certificación de nivel {level}",
        "ct_pass.intro": "Aprobaste la prueba de certificación de nivel {level} el {date}.",
        "ct_pass.attached": "Tu certificado va adjunto a este correo como archivo PDF.",
        "ct_pass.verify": "Cualquier persona puede comprobar aquí que tu certificado es auténtico:",
        "ct_pass.code": "Código de verificación: {code}",
        "ct_pass.next": "¡Muy bien! Puedes pasar al nivel {level}.",
        "ct_fail.subject": "Tu resultado de la prueba de certificación de nivel {level}",
        "ct_fail.intro": "Hiciste la prueba de certificación de nivel {level} el {date}. Esta "
        "vez tu puntuación no alcanzó la nota mínima.",
        "ct_fail.cant_do_label": "En qué trabajar",
        "ct_fail.review_label": "Lecciones para repasar",
        "ct_fail.retake": "Puedes volver a intentar este nivel con un nuevo código de tu "
        "escuela o empresa.",
        "ct_fail.needs_review": "Tu profesor o el equipo de apoyo revisará tu resultado contigo "
        "antes de que vuelvas a intentar este nivel.",
        "token_invite.subject": "{org} te invita a hacer la {test}",
        "token_invite.intro": "{org} te invita a hacer la {test}.",
        "token_invite.pt": "prueba de nivel",
        "token_invite.ct": "prueba de certificación de nivel {level}",
        "token_invite.open": "Abre este enlace para empezar la prueba:",
        "token_invite.button": "Empezar la prueba",
        "token_invite.expires": "El enlace funciona hasta el {date}.",
        "token_invite.private": "Este enlace es solo para ti: no lo compartas. Si te detienes "
        "antes del final, vuelve a abrirlo para continuar donde lo dejaste.",
    },
    "vi": {
        "greeting": "Chào {name},",
        "greeting_anonymous": "Xin chào,",
        "signoff": "Trân trọng,",
        "footer": "Thư này được eTest gửi tự động thay mặt {org}. Thư trả lời sẽ không được đọc.",
        "score_line": "Điểm của bạn: {score}% (điểm đạt: {pass_mark}%).",
        "correct_line": "Bạn trả lời đúng {correct} trên {total} câu hỏi.",
        "pt_result.subject": "Kết quả bài kiểm tra xếp trình độ của bạn: {level}",
        "pt_result.intro": "Bạn đã hoàn thành bài kiểm tra xếp trình độ vào ngày {date}.",
        "pt_result.level_label": "Trình độ của bạn",
        "pt_result.meaning_label": "Ý nghĩa",
        "pt_result.start_here": "Đây là trình độ mà tiếng Anh thử thách bạn nhưng không quá "
        "khó: bạn có thể bắt đầu học từ đây.",
        "pt_result.areas_label": "Những điểm cần cải thiện",
        "pt_unplaced.subject": "Bài kiểm tra xếp trình độ của bạn: chưa xếp được trình độ",
        "pt_unplaced.intro": "Bạn đã kết thúc bài kiểm tra xếp trình độ vào ngày {date}.",
        "pt_unplaced.not_placed": "Chúng tôi chưa thể xếp trình độ cho bạn: bạn đã trả lời "
        "{answered} câu hỏi, trong khi cần ít nhất {needed} câu trả "
        "lời để xác định trình độ.",
        "pt_unplaced.retake": "Hãy xin trường hoặc công ty của bạn một mã dự thi mới để làm lại "
        "bài kiểm tra.",
        "ct_pass.subject": "Chúc mừng! Bạn đã đạt bài thi chứng chỉ trình độ {level}",
        "ct_pass.intro": "Bạn đã đạt bài thi chứng chỉ trình độ {level} vào ngày {date}.",
        "ct_pass.attached": "Chứng chỉ của bạn được đính kèm trong thư này dưới dạng tệp PDF.",
        "ct_pass.verify": "Bất kỳ ai cũng có thể kiểm tra chứng chỉ của bạn tại đây:",
        "ct_pass.code": "Mã xác minh: {code}",
        "ct_pass.next": "Làm tốt lắm! Bạn có thể học tiếp trình độ {level}.",
        "ct_fail.subject": "Kết quả bài thi chứng chỉ trình độ {level} của bạn",
        "ct_fail.intro": "Bạn đã làm bài thi chứng chỉ trình độ {level} vào ngày {date}. Lần "
        "này điểm của bạn chưa đạt điểm đạt.",
        "ct_fail.cant_do_label": "Những điều cần luyện tập",
        "ct_fail.review_label": "Bài học cần ôn lại",
        "ct_fail.retake": "Bạn có thể làm lại bài thi trình độ này với mã dự thi mới từ trường "
        "hoặc công ty của bạn.",
        "ct_fail.needs_review": "Giáo viên hoặc bộ phận hỗ trợ sẽ xem lại kết quả cùng bạn "
        "trước khi bạn thi lại trình độ này.",
        "token_invite.subject": "{org} mời bạn làm {test}",
        "token_invite.intro": "{org} mời bạn làm {test}.",
        "token_invite.pt": "bài kiểm tra xếp trình độ",
        "token_invite.ct": "bài thi chứng chỉ trình độ {level}",
        "token_invite.open": "Hãy mở liên kết này để bắt đầu làm bài:",
        "token_invite.button": "Bắt đầu làm bài",
        "token_invite.expires": "Liên kết có hiệu lực đến hết {date}.",
        "token_invite.private": "Liên kết này chỉ dành riêng cho bạn: vui lòng không chia sẻ. "
        "Nếu bạn dừng giữa chừng, hãy mở lại liên kết để làm tiếp từ chỗ đã dừng.",
    },
}

#: What a placement level means, for languages other than English (English: the words the
#: candidate already saw on the result page, :func:`etest.kit.levels.level_meaning`).
_BANDS: dict[str, dict[str, str]] = {
    "es": {
        "Pre A1": "Conoces algunas palabras y frases muy comunes, como saludos y números.",
        "A1": "Entiendes y usas frases sencillas de la vida diaria cuando te hablan despacio "
        "y con claridad.",
        "A2": "Entiendes y hablas de cosas cotidianas, como la familia, las compras y el "
        "trabajo, con frases sencillas.",
        "B1": "Te desenvuelves en la mayoría de las situaciones cotidianas, sigues las ideas "
        "principales de textos claros sobre temas conocidos y describes tus "
        "experiencias.",
        "B2": "Entiendes las ideas principales de textos complejos y hablas de muchos temas con "
        "cierta fluidez.",
        "C1": "Entiendes textos largos y exigentes y te expresas con fluidez y flexibilidad en "
        "el trabajo, los estudios y la vida social.",
        "above": "Estás por encima de {base} y en camino hacia el siguiente nivel.",
        "bridge": "Estás trabajando más allá del C1.",
    },
    "vi": {
        "Pre A1": "Bạn biết một số từ và cụm từ rất thông dụng, như lời chào và các con số.",
        "A1": "Bạn hiểu và dùng được những cụm từ đơn giản hằng ngày khi người khác nói chậm "
        "và rõ ràng.",
        "A2": "Bạn hiểu và nói được về những điều quen thuộc hằng ngày, như gia đình, mua sắm "
        "và công việc, bằng câu đơn giản.",
        "B1": "Bạn xử lý được hầu hết các tình huống hằng ngày, nắm được ý chính của lời nói "
        "và văn bản rõ ràng về chủ đề quen thuộc, và kể lại trải nghiệm của mình.",
        "B2": "Bạn hiểu ý chính của các văn bản phức tạp và nói về nhiều chủ đề khá trôi chảy.",
        "C1": "Bạn hiểu các văn bản dài, khó và diễn đạt trôi chảy, linh hoạt trong công việc, "
        "học tập và giao tiếp xã hội.",
        "above": "Bạn đã vượt trên {base} và đang tiến tới trình độ tiếp theo.",
        "bridge": "Bạn đang học ở mức cao hơn C1.",
    },
}

SKILLS: dict[str, dict[str, str]] = {
    "en": {
        "listening": "Listening",
        "reading": "Reading",
        "grammar": "Grammar",
        "vocabulary": "Vocabulary",
    },
    "es": {
        "listening": "Comprensión auditiva",
        "reading": "Comprensión lectora",
        "grammar": "Gramática",
        "vocabulary": "Vocabulario",
    },
    "vi": {"listening": "Nghe", "reading": "Đọc", "grammar": "Ngữ pháp", "vocabulary": "Từ vựng"},
}


def language_of(setting: str | None) -> str:
    """The catalog language for an organization's ``language`` setting: ``es-MX`` falls back to
    ``es``, anything unknown to ``en``."""
    if setting in CATALOG:
        return setting
    base = (setting or "").split("-")[0]
    return base if base in CATALOG else "en"


def level_meaning(level: str, language: str) -> str:
    """What being placed at ``level`` means, in plain words ("" for an unknown level)."""
    bands = _BANDS.get(language)
    if bands is None:
        return _english_level_meaning(level)
    if level in bands:
        return bands[level]
    if level == "C1-Bridge":
        return f"{bands['C1']} {bands['bridge']}"
    base = level.rstrip("+")
    if level.endswith("+") and base in bands:
        return f"{bands[base]} {bands['above'].format(base=base)}"
    return ""


def skill_name(skill: str, language: str) -> str:
    return SKILLS.get(language, SKILLS["en"]).get(skill, skill.capitalize())
