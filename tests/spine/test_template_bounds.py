"""Templates that would hang or balloon are refused with one line naming them.

Each case would, unbounded, run for minutes or build tens of megabytes; the
bounds are counts, so these pass or fail the same on any machine.
"""

from __future__ import annotations

import pytest

from scheduler.compose import make_environment, render
from scheduler.compose.environment import (
    MAX_LOOP_ITERATIONS,
    MAX_OUTPUT_CHARS,
    MAX_RANGE,
)
from scheduler.errors import TemplateError

CONTEXT = {"quote": {"text": "Speed is a habit.", "speaker": "Noor Haddad"}}

DOUBLED = (
    "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}"
    "{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
)

ATTACKS = {
    "huge_range": ("{% for i in range(10**9) %}x{% endfor %}", r"range of 1000000000"),
    "nested_loops": (
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        rf"loops ran more than {MAX_LOOP_ITERATIONS}",
    ),
    "nested_loops_over_strings": (
        "{% set s = 'a' * 10000 %}{% for i in s %}{% for j in s %}{% endfor %}{% endfor %}",
        "loops ran more than",
    ),
    "repeat": ("{{ 'a' * 10**8 }}", r"repetition would make 100000000"),
    "repeat_reversed": ("{{ 10**8 * 'a' }}", "repetition would make"),
    "list_repeat": ("{{ [1, 2] * 10**7 }}", "repetition would make 20000000 items"),
    "power": ("{{ 9 ** (9 ** 9) }}", "power would make"),
    "float_power": ("{{ 10.0 ** 10000 }}", "too large"),
    "recursive_macro": (
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "calls nested more than",
    ),
    "self_include": ("x{% include 'attack.j2' %}", "templates nested more than"),
    "self_import": ("{% import 'attack.j2' as me %}x", "templates nested more than"),
    "self_extends": ("{% extends 'attack.j2' %}", "templates nested more than"),
    "recursive_block": (
        "{% block b %}{{ self.b() }}{% endblock %}",
        "calls nested more than",
    ),
    "recursive_loop": (
        "{% for i in [1] recursive %}{{ loop([1]) }}{% endfor %}",
        "calls nested more than",
    ),
    "output_cap": (
        "{% for i in range(1000) %}{{ 'a' * 1000 }}{% endfor %}",
        rf"output is longer than {MAX_OUTPUT_CHARS}",
    ),
    "doubling": (
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "string of 131072 characters",
    ),
    "doubling_plus": (
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
        "joining would make",
    ),
    "replace_growth": (
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s|replace('a', 'aaaa') %}{% endfor %}{{ ns.s|length }}",
        "replacing would make",
    ),
    "method_replace_growth": (
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s.replace('a', 'aaaa') %}{% endfor %}{{ ns.s|length }}",
        "replacing would make",
    ),
    "center_filter": ("{{ 'a'|center(10**8) }}", "center would make"),
    "indent_filter": ("{{ ('a\n' * 50000)|indent(100) }}", "indent would make"),
    "ljust_method": ("{{ 'a'.ljust(10**8) }}", r"ljust\(\) would make"),
    "join_many": (
        "{{ (['a' * 90000] * 1)|join('') ~ ('x'.join(['a' * 90000, 'b' * 90000])) }}",
        "joining would make",
    ),
    "join_filter": (
        "{% set big = 'a' * 60000 %}{{ [big, big]|join(',') }}",
        "joining would make|would print as more than",
    ),
    "percent_width": ("{{ '%100000000d' % 1 }}", "formatting would make"),
    "format_filter_width": ("{{ '%*d'|format(10**8, 1) }}", "formatting would make"),
    "str_format_width": ("{{ '{:>100000000}'.format(1) }}", "formatting would make"),
    "lipsum": ("{{ lipsum(10**6) }}", "lipsum"),
    # Small in memory, a trillion characters as text: each level holds the
    # one below twice.
    "shared_nesting_printed": (DOUBLED + "{{ ns.l }}", "would print as more than"),
    "shared_nesting_joined_with_tilde": (DOUBLED + "{{ ns.l ~ '' }}", "would print as more than"),
    "shared_nesting_in_join": (DOUBLED + "{{ [ns.l]|join }}", "would print as more than"),
    "shared_nesting_in_namespace": (DOUBLED + "{{ ns }}", "would print as more than"),
    "shared_nesting_formatted": (DOUBLED + "{{ '%s' % [ns.l] }}", "would print as more than"),
    "shared_nesting_str_format": (DOUBLED + "{{ '{}'.format(ns.l) }}", "would print as more than"),
    "copying_in_every_pass": (
        "{% set big = 'a' * 90000 %}{% for i in range(100) %}{% for j in range(900) %}"
        "{% set x = big ~ '' %}{% endfor %}{% endfor %}x",
        "steps of work",
    ),
    "set_block_cap": (
        "{% set b %}{% for i in range(200) %}{{ 'a' * 1000 }}{% endfor %}{% endset %}x",
        "output is longer than",
    ),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_runaway_template_is_refused_with_one_line(tmp_path, name):
    source, message = ATTACKS[name]
    (tmp_path / "attack.j2").write_text(source)
    with pytest.raises(TemplateError, match=message) as caught:
        render(make_environment([tmp_path]), "attack", CONTEXT)
    text = str(caught.value)
    assert text.startswith("template attack.j2"), text
    assert "\n" not in text


def test_bounds_leave_room_for_real_templates(tmp_path):
    """Just under each bound still renders: the caps refuse runaways, not posts."""
    (tmp_path / "busy.j2").write_text(
        f"{{% for i in range({MAX_RANGE}) %}}{{% endfor %}}"
        "{% for i in range(9) %}{% for j in range(9000) %}{% endfor %}{% endfor %}"
        "{% macro twice(s) %}{{ s }} {{ s }}{% endmacro %}"
        "{{ twice(quote.speaker) }} {{ '-' * 40 }} {{ 'x'|center(41) }}"
        "{{ '%05d' % 42 }} {{ '{:>6}'.format(7) }} {{ ['a', 'b']|join(',') }}"
        "{{ ('z' * 99000)|length }} {{ 2 ** 64 }}"
    )
    text = render(make_environment([tmp_path]), "busy", CONTEXT)
    assert text.startswith("Noor Haddad Noor Haddad " + "-" * 40)
    assert "00042" in text and "     7" in text and "a,b" in text
    assert text.endswith("99000 18446744073709551616")


def test_includes_share_one_loop_budget(tmp_path):
    """A loop count per template would let an include in a loop multiply it."""
    (tmp_path / "part.j2").write_text("{% for j in range(1000) %}{% endfor %}")
    (tmp_path / "outer.j2").write_text(
        "{% for i in range(1000) %}{% include 'part.j2' %}{% endfor %}x"
    )
    with pytest.raises(TemplateError, match=r"outer\.j2.*loops ran more than"):
        render(make_environment([tmp_path]), "outer", CONTEXT)


def test_budget_is_per_render(tmp_path):
    """One render's loops do not count against the next one."""
    (tmp_path / "t.j2").write_text(
        f"{{% for i in range({MAX_RANGE}) %}}{{% endfor %}}" * (MAX_LOOP_ITERATIONS // MAX_RANGE)
        + "ok"
    )
    env = make_environment([tmp_path])
    assert [render(env, "t", CONTEXT) for _ in range(3)] == ["ok"] * 3


def test_a_refused_render_leaves_no_budget_behind(tmp_path):
    """The output cap stops a render half way; the next one starts afresh."""
    (tmp_path / "long.j2").write_text("{% for i in range(1000) %}{{ 'a' * 1000 }}{% endfor %}")
    (tmp_path / "loops.j2").write_text(
        f"{{% for i in range({MAX_RANGE}) %}}{{% endfor %}}" * (MAX_LOOP_ITERATIONS // MAX_RANGE)
        + "ok"
    )
    env = make_environment([tmp_path])
    for _ in range(2):
        with pytest.raises(TemplateError, match="output is longer"):
            render(env, "long", CONTEXT)
        assert render(env, "loops", CONTEXT) == "ok"
