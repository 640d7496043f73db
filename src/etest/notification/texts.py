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
        # between a label and what follows it in the plain text ("Your level: A2")
        "colon": ": ",
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
        "colon": ": ",
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
        "colon": ": ",
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
    "zh-Hans": {
        "greeting": "{name}，您好：",
        "greeting_anonymous": "您好：",
        "signoff": "祝好！",
        "footer": "本邮件由 eTest 代表{org}自动发送。对本邮件的回复无人查阅。",
        "score_line": "您的得分：{score}%（及格线：{pass_mark}%）。",
        "correct_line": "您答对了 {total} 道题中的 {correct} 道。",
        "colon": "：",
        "pt_result.subject": "您的水平测试结果：{level}",
        "pt_result.intro": "您已于 {date} 完成水平测试。",
        "pt_result.level_label": "您的级别",
        "pt_result.meaning_label": "级别说明",
        "pt_result.start_here": "在这个级别，英语对您既有挑战又不会太难：您的课程可以从这里开始。",
        "pt_result.areas_label": "有待提高的方面",
        "pt_unplaced.subject": "您的水平测试：暂未评定级别",
        "pt_unplaced.intro": "您已于 {date} 结束水平测试。",
        "pt_unplaced.not_placed": "我们暂时无法为您评定级别：您回答了 {answered} 道题，而评定级别"
        "至少需要 {needed} 个回答。",
        "pt_unplaced.retake": "请向您的学校或公司申请新的测试码，再次参加测试。",
        "ct_pass.subject": "恭喜！您已通过 {level} 级认证考试",
        "ct_pass.intro": "您已于 {date} 通过 {level} 级认证考试。",
        "ct_pass.attached": "您的证书以 PDF 文件形式附在本邮件中。",
        "ct_pass.verify": "任何人都可以通过以下链接核实您证书的真实性：",
        "ct_pass.code": "证书核验码：{code}",
        "ct_pass.next": "做得好！您可以继续学习 {level} 级。",
        "ct_fail.subject": "您的 {level} 级认证考试结果",
        "ct_fail.intro": "您已于 {date} 参加 {level} 级认证考试。这一次您的得分未达到及格线。",
        "ct_fail.cant_do_label": "需要加强的内容",
        "ct_fail.review_label": "需要复习的课程",
        "ct_fail.retake": "您可以向学校或公司申请新的测试码，再次挑战这个级别。",
        "ct_fail.needs_review": "在您再次参加这个级别的考试之前，您的老师或支持团队会和您一起"
        "查看这次的结果。",
        "token_invite.subject": "{org}邀请您参加{test}",
        "token_invite.intro": "{org}邀请您参加{test}。",
        "token_invite.pt": "水平测试",
        "token_invite.ct": "{level} 级认证考试",
        "token_invite.open": "请打开以下链接开始测试：",
        "token_invite.button": "开始测试",
        "token_invite.expires": "此链接的有效期至 {date}。",
        "token_invite.private": "此链接仅供您本人使用，请勿分享。如果您中途退出，再次打开此链接即可"
        "从上次停下的地方继续。",
    },
    "ar": {
        "greeting": "مرحبًا {name}،",
        "greeting_anonymous": "مرحبًا،",
        "signoff": "مع أطيب التحيات،",
        "footer": "أرسل eTest هذه الرسالة تلقائيًا نيابةً عن {org}. لا تُقرأ الردود على هذه الرسالة.",
        "score_line": "نتيجتك: {score}% (درجة النجاح: {pass_mark}%).",
        "correct_line": "عدد إجاباتك الصحيحة: {correct} من أصل {total} سؤال.",
        "colon": ": ",
        "pt_result.subject": "نتيجة اختبار تحديد المستوى: {level}",
        "pt_result.intro": "أكملت اختبار تحديد المستوى بتاريخ {date}.",
        "pt_result.level_label": "مستواك",
        "pt_result.meaning_label": "ماذا يعني ذلك",
        "pt_result.start_here": "هذا هو المستوى الذي تمثّل فيه اللغة الإنجليزية تحديًا لك دون أن "
        "تكون صعبة جدًا: يمكن أن تبدأ دروسك من هنا.",
        "pt_result.areas_label": "مجالات تحتاج إلى تحسين",
        "pt_unplaced.subject": "اختبار تحديد المستوى: لم يُحدَّد مستواك بعد",
        "pt_unplaced.intro": "أنهيت اختبار تحديد المستوى بتاريخ {date}.",
        "pt_unplaced.not_placed": "لم نتمكن من تحديد مستواك: عدد الأسئلة التي أجبت عنها "
        "{answered}، ويلزم ما لا يقل عن {needed} من الإجابات لتحديد "
        "المستوى.",
        "pt_unplaced.retake": "يمكنك طلب رمز اختبار جديد من مدرستك أو شركتك لإعادة الاختبار.",
        "ct_pass.subject": "تهانينا! لقد اجتزت اختبار الشهادة للمستوى {level}",
        "ct_pass.intro": "اجتزت اختبار الشهادة للمستوى {level} بتاريخ {date}.",
        "ct_pass.attached": "شهادتك مرفقة بهذه الرسالة في ملف PDF.",
        "ct_pass.verify": "يمكن لأي شخص التحقق من صحة شهادتك هنا:",
        "ct_pass.code": "رمز التحقق: {code}",
        "ct_pass.next": "أحسنت! يمكنك الانتقال إلى المستوى {level}.",
        "ct_fail.subject": "نتيجة اختبار الشهادة للمستوى {level}",
        "ct_fail.intro": "أدّيت اختبار الشهادة للمستوى {level} بتاريخ {date}. لم تبلغ نتيجتك "
        "درجة النجاح هذه المرة.",
        "ct_fail.cant_do_label": "ما يحتاج إلى مزيد من التدريب",
        "ct_fail.review_label": "دروس للمراجعة",
        "ct_fail.retake": "يمكنك إعادة محاولة هذا المستوى برمز جديد من مدرستك أو شركتك.",
        "ct_fail.needs_review": "سيراجع معلمك أو فريق الدعم نتيجتك معك قبل إعادة محاولة هذا "
        "المستوى.",
        "token_invite.subject": "دعوة من {org} لأداء {test}",
        "token_invite.intro": "تلقيت دعوة من {org} لأداء {test}.",
        "token_invite.pt": "اختبار تحديد المستوى",
        "token_invite.ct": "اختبار الشهادة للمستوى {level}",
        "token_invite.open": "لبدء الاختبار، يُرجى فتح هذا الرابط:",
        "token_invite.button": "بدء الاختبار",
        "token_invite.expires": "يظل الرابط صالحًا حتى {date}.",
        "token_invite.private": "هذا الرابط مخصص لك وحدك: يُرجى عدم مشاركته. وإذا توقفت قبل "
        "النهاية، يمكنك فتحه مرة أخرى لمتابعة الاختبار من حيث توقفت.",
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
    "zh-Hans": {
        "Pre A1": "您认识一些非常常用的单词和短语，比如问候语和数字。",
        "A1": "当别人说得缓慢、清楚时，您能听懂并使用简单的日常用语。",
        "A2": "您能用简单的句子理解和谈论熟悉的日常事物，比如家庭、购物和工作。",
        "B1": "您能应对大多数日常情况，能听懂或读懂有关熟悉话题的清晰表达的要点，并能描述"
        "自己的经历。",
        "B2": "您能理解复杂文章的主要内容，并能较为流利地谈论许多话题。",
        "C1": "您能理解篇幅长、难度高的文章，并能在工作、学习和社交中流利、灵活地表达自己。",
        "above": "您已超过 {base} 级，正在向下一个级别迈进。",
        "bridge": "您正在学习 C1 以上的内容。",
    },
    "ar": {
        "Pre A1": "لديك معرفة ببعض الكلمات والعبارات الشائعة جدًا، مثل التحيات والأرقام.",
        "A1": "يمكنك فهم عبارات يومية بسيطة واستخدامها عندما يتحدث الآخرون ببطء ووضوح.",
        "A2": "يمكنك فهم الأمور اليومية المألوفة، مثل الأسرة والتسوق والعمل، والتحدث عنها بجمل "
        "بسيطة.",
        "B1": "يمكنك التعامل مع معظم المواقف اليومية، وفهم النقاط الرئيسية في الكلام والنصوص "
        "الواضحة حول موضوعات مألوفة، ووصف تجاربك.",
        "B2": "يمكنك فهم الأفكار الرئيسية في النصوص المعقدة والتحدث عن موضوعات كثيرة بقدر من "
        "الطلاقة.",
        "C1": "يمكنك فهم نصوص طويلة وصعبة، والتعبير عن نفسك بطلاقة ومرونة في العمل والدراسة "
        "والحياة الاجتماعية.",
        "above": "مستواك أعلى من {base} وأنت في طريقك إلى المستوى التالي.",
        "bridge": "مستواك يتجاوز C1.",
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
    "zh-Hans": {"listening": "听力", "reading": "阅读", "grammar": "语法", "vocabulary": "词汇"},
    "ar": {
        "listening": "الاستماع",
        "reading": "القراءة",
        "grammar": "القواعد",
        "vocabulary": "المفردات",
    },
}


#: Settings that name a catalog by another tag: Chinese without a script or region, or in a
#: region that writes Simplified characters, reads ``zh-Hans`` (Traditional: ``zh-TW``,
#: ``zh-HK``, ``zh-Hant``, has no catalog yet and falls back to English).
_ALIASES = {"zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-my": "zh-Hans"}

#: Languages written right to left: their HTML email has ``dir="rtl"``.
RTL = frozenset({"ar"})

# Unicode directional isolates (LRI ... PDI): a level such as ``A1+`` inside right-to-left
# words keeps its own left-to-right order (else it shows as ``+A1``).
_LRI, _PDI = "\u2066", "\u2069"


def language_of(setting: str | None) -> str:
    """The catalog language for an organization's ``language`` setting: ``es-MX`` falls back to
    ``es``, ``zh``/``zh-CN`` read ``zh-Hans``, anything unknown to ``en``."""
    if setting in CATALOG:
        return setting
    tag = (setting or "").lower()
    if tag in _ALIASES:
        return _ALIASES[tag]
    if tag == "zh-hans" or tag.startswith("zh-hans-"):
        return "zh-Hans"
    base = tag.split("-")[0]
    return base if base in CATALOG else "en"


def direction(language: str) -> str:
    """``rtl`` or ``ltr``: the writing direction of a catalog language."""
    return "rtl" if language in RTL else "ltr"


def isolate(value: str, language: str) -> str:
    """``value`` (a level, a code: Latin letters and signs) set apart as left-to-right inside
    the words of a right-to-left language; unchanged otherwise."""
    return f"{_LRI}{value}{_PDI}" if language in RTL and value else value


def level_meaning(level: str, language: str) -> str:
    """What being placed at ``level`` means, in plain words ("" for an unknown level)."""
    bands = _BANDS.get(language)
    if bands is None:
        return _english_level_meaning(level)
    # Chinese sentences follow one another without a space
    space = "" if language == "zh-Hans" else " "
    if level in bands:
        return bands[level]
    if level == "C1-Bridge":
        return f"{bands['C1']}{space}{bands['bridge']}"
    base = level.rstrip("+")
    if level.endswith("+") and base in bands:
        return f"{bands[base]}{space}{bands['above'].format(base=base)}"
    return ""


def skill_name(skill: str, language: str) -> str:
    return SKILLS.get(language, SKILLS["en"]).get(skill, skill.capitalize())
