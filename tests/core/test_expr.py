from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cc_router.core.expr import ExpressionError, SkillIndex, evaluate, parse, positive_skills

SKILLS = {"lang_zh", "billing", "vip", "sales"}


@pytest.mark.parametrize(
    ("text", "skills", "expected"),
    [
        ("lang_zh >= 3 and (billing >= 2 or vip)", {"lang_zh": 3, "vip": 1}, True),
        ("lang_zh >= 3 and (billing >= 2 or vip)", {"lang_zh": 3, "billing": 1}, False),
        ("lang_zh >= 3 and (billing >= 2 or vip)", {"lang_zh": 2, "billing": 5}, False),
        ("not vip", {}, True),
        ("not vip", {"vip": 1}, False),
        ("billing < 2", {}, True),
        ("billing == 0", {"billing": 1}, False),
        ("lang_zh & !sales", {"lang_zh": 1}, True),
        ("lang_zh | sales", {"sales": 4}, True),
        ("", {}, True),
        ("true", {}, True),
        ("false or vip", {"vip": 2}, True),
        ("NOT vip AND billing > 1", {"billing": 2}, True),
    ],
)
def test_evaluate(text: str, skills: dict[str, int], expected: bool) -> None:
    assert evaluate(parse(text, SKILLS), skills) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lang_zh >= ", "ends too early"),
        ("lang_zh >= x", "expected a level"),
        ("(lang_zh", "missing ')'"),
        ("lang_zh vip", "unexpected 'vip'"),
        ("klingon >= 2", "unknown skill klingon"),
        ("lang_zh >= 3 $", "unexpected '$'"),
    ],
)
def test_errors_say_why(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        parse(text, SKILLS)


def test_text_round_trips() -> None:
    node = parse("lang_zh >= 3 and (billing >= 2 or vip) and not sales")
    assert parse(str(node)) == node


def test_best_skill_counts_only_positive_skills() -> None:
    assert positive_skills(parse("lang_zh >= 3 and not sales and (vip or billing < 2)")) == ("lang_zh", "vip")


levels = st.integers(0, 4)
agent_skills = st.dictionaries(st.sampled_from(sorted(SKILLS)), st.integers(1, 4), max_size=4)
atoms = st.builds(
    lambda s, op, n: f"{s} {op} {n}",
    st.sampled_from(sorted(SKILLS)),
    st.sampled_from([">=", ">", "<=", "<", "==", "!="]),
    levels,
)
exprs = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} and {b})", inner, inner),
        st.builds(lambda a, b: f"({a} or {b})", inner, inner),
        st.builds(lambda a: f"not {a}", inner),
    ),
    max_leaves=6,
)


@given(exprs, st.lists(agent_skills, min_size=1, max_size=12))
def test_set_algebra_matches_evaluation(text: str, agents: list[dict[str, int]]) -> None:
    """The index used to build pools must agree with evaluating agent by agent."""
    node = parse(text, SKILLS)
    index = SkillIndex()
    for n, skills in enumerate(agents):
        index.add(f"a{n}", skills)
    expected = {f"a{n}" for n, skills in enumerate(agents) if evaluate(node, skills)}
    assert index.members(node) == expected
