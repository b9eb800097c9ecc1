"""The bounded number helpers: converting a column of texts at once gives what converting each
text gives, for any texts, and a long or odd text never raises."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from exporter.formats import nanogpt
from exporter.formats.numbers import MAX_CHARS, count, counts, real, reals

NUMBER_TEXTS = st.one_of(
    st.integers(min_value=-10, max_value=10**16).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1,000", "12_5", " 7 ", "1.2.3", "", "nan", "-inf", "9" * (MAX_CHARS + 1), "1e400", "0x10"]),
    st.text(max_size=8),
)


def _same(a, b):
    """Equal, a NaN equal to a NaN."""
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))


@given(st.lists(NUMBER_TEXTS, max_size=12))
def test_counts_is_count_of_each_text_or_none(texts):
    each = [count(text) for text in texts]
    assert counts(texts) == (None if None in each else each)


@given(st.lists(st.one_of(NUMBER_TEXTS, st.none()), max_size=12))
def test_reals_is_real_of_each_text_or_none(texts):
    each = [real(text) for text in texts]
    assert _same(reals(texts), None if None in each else each)


def test_the_column_helpers_take_what_count_and_real_take():
    assert counts(["12", "1,024", "7"]) == [12, 1024, 7]
    assert counts(["12", "-1"]) is None and counts(["9" * (MAX_CHARS + 1)]) is None
    assert reals(["3.5", "nan"])[0] == 3.5 and reals(["3.5", "x"]) is None and reals([None]) is None


@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["3.2871", "nan", "-inf", "1e400", "x"]),
                          st.sampled_from(["170.42", "-5", "0", "1e12"]),
                          st.sampled_from(["31.52", "-100.00", None])), min_size=1, max_size=8))
def test_nanogpt_columns_are_the_fields_of_each_line(drawn):
    groups = [(str(i), loss, ms, mfu) for i, loss, ms, mfu in drawn]
    columns = nanogpt.progress_columns(groups)
    fields = [nanogpt.progress_fields(*g) for g in groups]
    if columns is None:
        assert None in fields or len({mfu is None for *_, mfu in groups}) == 2
        return
    iterations, losses, seconds, mfu = columns
    assert iterations == [f[0] for f in fields]
    assert _same(losses, [f[1] for f in fields])
    # out-of-range times and ratios are the caller's to reject: the fields hold None for them
    assert all(s == f[3] for s, f in zip(seconds, fields) if f[3] is not None)
    assert mfu is None or all(m == f[6] for m, f in zip(mfu, fields) if f[6] is not None)
