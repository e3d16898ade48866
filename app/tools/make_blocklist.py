"""Generate booking/data/blocklist.txt: common and breached password shapes, written out from patterns.

Not downloaded: the lists that breach corpora are known for are dominated by a few shapes (a common word
or name with digits or a year appended, keyboard walks, digit runs, a repeated word), so the patterns
below reproduce their head. Re-run after editing: `python app/tools/make_blocklist.py`.
"""

from __future__ import annotations

import itertools
from pathlib import Path

_WORDS_TEXT = """password passw0rd p@ssword p@ssw0rd qwerty letmein welcome admin administrator iloveyou monkey dragon
football baseball basketball soccer hockey sunshine princess master shadow superman batman michael jennifer
jordan hunter ranger buster thomas robert daniel charlie andrew joshua matthew jessica ashley michelle
amanda nicole hannah summer winter autumn spring freedom whatever trustno1 starwars pokemon computer
internet secret changeme default login guest test tester user root access booking slotstack calendar
appointment business company office manager flower cookie chocolate cheese banana orange apple purple
silver golden diamond angel lovely loveme mylove family friends forever happy smile liverpool chelsea
arsenal barcelona juventus yankees cowboys lakers mustang ferrari corvette harley yamaha killer pepper
ginger maggie bailey shelby sophie chloe jasmine samantha taylor austin dallas london paris berlin sydney
melbourne toronto chicago boston newyork california texas florida america canada australia germany
qwertyuiop asdfghjkl zxcvbnm azerty qwertz abc123 abcdef abcdefg abcdefgh"""
WORDS = _WORDS_TEXT.split()

SUFFIXES = ["", "1", "12", "123", "1234", "12345", "123456", "!", "!!", "1!", "123!", "01", "007", "69", "99",
            "2020", "2021", "2022", "2023", "2024", "2025", "2026", "@123", "#1", "_123", "123456789"]

WALKS = ["qwertyuiop", "qwertyuiopasdfghjkl", "asdfghjkl", "zxcvbnm", "1qaz2wsx3edc", "1q2w3e4r5t6y",
         "qazwsxedc", "qazwsxedcrfv", "!qaz@wsx#edc", "zaq12wsx", "1qazxsw2", "qwerasdfzxcv", "poiuytrewq",
         "mnbvcxz", "lkjhgfdsa", "1234qwer", "qwer1234", "asdf1234", "1q2w3e4r", "q1w2e3r4t5y6"]


def digit_runs() -> list[str]:
    """123456..., 987654..., 111111..., 121212..., and the long versions a 15-character rule invites."""
    runs = []
    for n in range(6, 21):
        runs.append("".join(str(i % 10) for i in range(1, n + 1)))
        runs.append("".join(str(i % 10) for i in range(0, n)))
        runs.append("".join(str((9 - i) % 10) for i in range(n)))
        runs.extend(d * n for d in "0123456789")
        runs.extend((a + b) * (n // 2) for a, b in ("12", "69", "01", "10"))
    return runs


def generate() -> list[str]:
    """Every blocked password, lower-case, de-duplicated, sorted."""
    out: set[str] = set()
    for word, suffix in itertools.product(WORDS, SUFFIXES):
        out.add(word + suffix)
        out.add(word.capitalize().lower() + suffix)
    for word in WORDS:
        out.update({word * 2, word * 3, word + word[::-1], f"my{word}", f"{word}{word}123",
                    f"i love {word}", f"ilove{word}", f"{word} {word}", f"{word}password", f"password{word}"})
    for walk in WALKS:
        out.update({walk, walk * 2, walk + "123", walk + "!"})
    out.update(digit_runs())
    out.update(c * n for c in "abcdefghijklmnopqrstuvwxyz" for n in range(8, 25))
    return sorted(x for x in out if len(x) >= 6)


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "booking" / "data" / "blocklist.txt"
    lines = generate()
    target.write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} entries -> {target}")
