"""Scripts and kinds: which scripts are rendered and how often, the characters a font must map, built-in sample text."""

from __future__ import annotations

import os

from PIL import features

__all__ = ["KINDS", "SCRIPTS"]


KINDS = ("document", "map", "texture")

# Script -> share of rendered documents/maps (renormalised over the scripts that have fonts).
SCRIPTS = {
    "latin": 0.50,
    "cyrillic": 0.08,
    "greek": 0.04,
    "arabic": 0.06,
    "hebrew": 0.04,
    "devanagari": 0.05,
    "bengali": 0.03,
    "thai": 0.03,
    "chinese": 0.07,
    "japanese": 0.06,
    "korean": 0.04,
}

_RTL = frozenset({"arabic", "hebrew"})
_COMPLEX = frozenset({"arabic", "hebrew", "devanagari", "bengali", "thai"})
_NO_SPACES = frozenset({"chinese", "japanese", "thai"})
_CJK = frozenset({"chinese", "japanese", "korean"})

# Characters a font must map (90 %) to be used for a script.
_SAMPLE_CHARS = {
    "latin": "AaBbCcDdEeFfGgHhRrSsTtYyZz0123456789",
    "cyrillic": "АБВГДЕЖЗИЙКЛМНабвгдежзийклмнпрсяюэ",
    "greek": "ΑΒΓΔΕΖΗΘΛΠΣΩαβγδεζηθλμπσω",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשת",
    "devanagari": "अआइउएकखगघचजटडतथदधनपबमयरलवसह",
    "bengali": "অআইউএকখগঘচছজটডতথদধনপবমযরলসহ",
    "thai": "กขคงจฉชซญดตถทนบปผพฟมยรลวสหอ",
    "chinese": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
    "japanese": "あいうえおかきくけこさしすせそアイウエオカキクケコ日本語",
    "korean": "가나다라마바사아자차카타파하한국어는을의에",
}

_ALIASES = {
    "latn": "latin", "en": "latin", "english": "latin", "lat": "latin",
    "cyrl": "cyrillic", "ru": "cyrillic", "russian": "cyrillic",
    "grek": "greek", "el": "greek",
    "arab": "arabic", "ar": "arabic",
    "hebr": "hebrew", "he": "hebrew",
    "deva": "devanagari", "hi": "devanagari", "hindi": "devanagari",
    "beng": "bengali", "bn": "bengali", "bangla": "bengali",
    "thai": "thai", "th": "thai",
    "han": "chinese", "hani": "chinese", "hans": "chinese", "hant": "chinese", "zh": "chinese",
    "cjk": "chinese", "chinese": "chinese", "zh-hans": "chinese", "zh-hant": "chinese",
    "jpan": "japanese", "ja": "japanese", "kana": "japanese", "hiragana": "japanese",
    "katakana": "japanese",
    "kore": "korean", "ko": "korean", "hang": "korean", "hangul": "korean",
}

_HAS_RAQM = features.check("raqm")

# A small fallback corpus, used for scripts without a text file.
_FALLBACK_TEXT = {
    "latin": [
        "The committee met on Tuesday to review the annual budget and the proposed changes to the "
        "regional transport plan, which had been delayed by several months.",
        "In this section we describe the experimental setup, the data collection procedure and the "
        "statistical methods used to analyse the results of each trial.",
        "Water levels in the northern reservoirs remained below average throughout the summer, "
        "prompting new restrictions on irrigation and industrial use.",
        "Les résultats obtenus montrent une amélioration nette de la précision, en particulier pour "
        "les échantillons de petite taille et les conditions de faible éclairage.",
        "Die Ergebnisse der Untersuchung zeigen, dass die Verfahren auch bei großen Datenmengen "
        "zuverlässig und schnell arbeiten, sofern genügend Speicher vorhanden ist.",
        "El informe anual presenta los principales indicadores económicos de la región y compara su "
        "evolución con la de los cinco años anteriores.",
        "Please read the following instructions carefully before completing the form. All fields "
        "marked with an asterisk are required and must be filled in capital letters.",
        "A new species of beetle was described from specimens collected in the mountain forests, "
        "where it lives under the bark of fallen trees at high altitude.",
        "Il progetto prevede la costruzione di un nuovo ponte sul fiume e il rifacimento delle "
        "strade di accesso entro la fine del prossimo anno.",
        "Our customers can return any product within thirty days of purchase, provided that it is "
        "unused and in its original packaging, together with the receipt.",
    ],
    "cyrillic": [
        "Заседание комиссии состоялось во вторник, на нём обсуждался годовой бюджет и изменения в "
        "региональном плане развития транспорта.",
        "В этом разделе описаны условия эксперимента, порядок сбора данных и статистические методы "
        "анализа результатов каждого испытания.",
        "Уровень воды в северных водохранилищах оставался ниже среднего в течение всего лета, что "
        "привело к новым ограничениям на полив.",
        "Пожалуйста, внимательно прочитайте инструкцию перед заполнением анкеты и укажите все "
        "обязательные сведения печатными буквами.",
    ],
    "greek": [
        "Η επιτροπή συνεδρίασε την Τρίτη για να εξετάσει τον ετήσιο προϋπολογισμό και τις "
        "προτεινόμενες αλλαγές στο περιφερειακό σχέδιο μεταφορών.",
        "Σε αυτή την ενότητα περιγράφουμε την πειραματική διάταξη, τη διαδικασία συλλογής "
        "δεδομένων και τις στατιστικές μεθόδους ανάλυσης.",
        "Η στάθμη του νερού στους βόρειους ταμιευτήρες παρέμεινε χαμηλή όλο το καλοκαίρι.",
    ],
    "arabic": [
        "اجتمعت اللجنة يوم الثلاثاء لمراجعة الميزانية السنوية والتغييرات المقترحة على خطة النقل "
        "الإقليمية التي تأخرت عدة أشهر.",
        "في هذا القسم نصف الإعداد التجريبي وإجراءات جمع البيانات والطرق الإحصائية المستخدمة في "
        "تحليل نتائج كل تجربة.",
        "بقيت مستويات المياه في الخزانات الشمالية أقل من المتوسط طوال فصل الصيف مما أدى إلى قيود "
        "جديدة على الري.",
        "يرجى قراءة التعليمات التالية بعناية قبل ملء الاستمارة وكتابة جميع البيانات المطلوبة.",
    ],
    "hebrew": [
        "הוועדה התכנסה ביום שלישי כדי לדון בתקציב השנתי ובשינויים המוצעים בתוכנית התחבורה "
        "האזורית שהתעכבה במשך כמה חודשים.",
        "בפרק זה אנו מתארים את מערך הניסוי, את אופן איסוף הנתונים ואת השיטות הסטטיסטיות "
        "ששימשו לניתוח התוצאות.",
        "מפלס המים במאגרים הצפוניים נותר נמוך מהממוצע לאורך כל הקיץ.",
    ],
    "devanagari": [
        "समिति ने मंगलवार को वार्षिक बजट और क्षेत्रीय परिवहन योजना में प्रस्तावित परिवर्तनों की समीक्षा करने "
        "के लिए बैठक की।",
        "इस खंड में हम प्रयोग की व्यवस्था, आंकड़े एकत्र करने की प्रक्रिया और परिणामों के विश्लेषण की "
        "सांख्यिकीय विधियों का वर्णन करते हैं।",
        "उत्तरी जलाशयों में जल स्तर पूरी गर्मी औसत से नीचे रहा जिससे सिंचाई पर नए प्रतिबंध लगाए गए।",
    ],
    "bengali": [
        "কমিটি মঙ্গলবার বার্ষিক বাজেট এবং আঞ্চলিক পরিবহন পরিকল্পনার প্রস্তাবিত পরিবর্তনগুলি পর্যালোচনা "
        "করতে বৈঠকে বসে।",
        "এই অংশে আমরা পরীক্ষার ব্যবস্থা, তথ্য সংগ্রহের পদ্ধতি এবং ফলাফল বিশ্লেষণের পরিসংখ্যান "
        "পদ্ধতি বর্ণনা করি।",
    ],
    "thai": [
        "คณะกรรมการประชุมกันในวันอังคารเพื่อพิจารณางบประมาณประจำปีและการเปลี่ยนแปลงแผนการขนส่ง"
        "ระดับภูมิภาค",
        "ในส่วนนี้เราอธิบายการตั้งค่าการทดลอง ขั้นตอนการเก็บรวบรวมข้อมูล และวิธีการทางสถิติที่ใช้"
        "ในการวิเคราะห์ผล",
        "ระดับน้ำในอ่างเก็บน้ำทางภาคเหนือยังคงต่ำกว่าค่าเฉลี่ยตลอดฤดูร้อน",
    ],
    "chinese": [
        "委员会于星期二召开会议，审议年度预算以及对区域交通规划提出的修改意见，该规划已推迟数月。",
        "本节介绍实验装置、数据收集程序以及用于分析每次试验结果的统计方法。",
        "整个夏季北部水库的水位一直低于平均水平，因此对灌溉和工业用水实行了新的限制。",
        "请在填写表格之前仔细阅读以下说明，所有标有星号的项目均为必填项。",
    ],
    "japanese": [
        "委員会は火曜日に会合を開き、年間予算と地域交通計画の変更案について審議した。",
        "この節では、実験の構成、データの収集手順、そして結果の分析に用いた統計的手法について説明する。",
        "北部の貯水池の水位は夏の間ずっと平年を下回り、農業用水の使用が制限されることになった。",
        "申込書に記入する前に、以下の注意事項をよくお読みください。",
    ],
    "korean": [
        "위원회는 화요일에 회의를 열어 연간 예산과 지역 교통 계획의 변경안을 검토하였다.",
        "이 절에서는 실험 구성, 자료 수집 절차 및 각 시험 결과를 분석하는 데 사용한 통계 방법을 "
        "설명한다.",
        "북부 저수지의 수위는 여름 내내 평균보다 낮게 유지되어 새로운 급수 제한이 시행되었다.",
    ],
}

_SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"))
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
