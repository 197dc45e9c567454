"""Input formats for Simplified Chinese: ISO first, so every form widget renders a value that
``<input type="date">`` / ``datetime-local`` can take (Django's zh_Hans puts ``%Y/%m/%d`` first and
the daily-log date showed up empty). Display formats stay Django's."""

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y年%n月%j日"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S.%f",
    "%Y-%m-%d",
    "%Y/%m/%d",
]
